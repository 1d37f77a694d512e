"""No reservation without an expiry: a consultant reserved for a call-back whose outcome never
comes is released by the core on its own clock."""

from __future__ import annotations

from acd_support import Harness, of_type, person

from acd.commands import CancelOffer, OfferCall
from acd.events import (
    CallArrived,
    CallbackAccepted,
    CallbackAnswered,
    ConsultantLoggedIn,
    Tick,
)
from acd.model import ConsultantState, Language, Priority
from acd.settings import AcdSettings

SETTINGS = AcdSettings(callback_ring_s=30, callback_reserve_grace_s=20)


def reserved(h: Harness) -> OfferCall:
    h.feed(CallArrived("call-1", Language("ko"), "general", Priority.NORMAL), 0.0)
    h.feed(CallbackAccepted("call-1", "01012345678"), 1.0)
    offers = of_type(h.feed(ConsultantLoggedIn("c1", ready=True), 2.0), OfferCall)
    assert [o.callback_number for o in offers] == ["01012345678"]
    assert h.state.consultant_state("c1") is ConsultantState.RINGING
    return offers[0]


def test_a_silent_call_back_reservation_expires() -> None:
    h = Harness([person("c1", general=5)], SETTINGS)
    reserved(h)
    assert h.wakeup == 2.0 + 30 + 20  # the core asks to be woken at the expiry
    assert of_type(h.feed(Tick(), 51.9), CancelOffer) == []
    assert h.state.consultant_state("c1") is ConsultantState.RINGING
    cancelled = of_type(h.feed(Tick(), 52.0), CancelOffer)
    assert cancelled == [CancelOffer("call-1", "c1")]
    assert h.state.consultant_state("c1") is ConsultantState.READY
    assert "call-1" not in h.state.calls


def test_an_answered_call_back_is_no_longer_on_the_reservation_clock() -> None:
    h = Harness([person("c1", general=5)], SETTINGS)
    reserved(h)
    h.feed(CallbackAnswered("call-1"), 10.0)
    assert of_type(h.feed(Tick(), 60.0), CancelOffer) == []
    assert h.state.consultant_state("c1") is ConsultantState.RINGING  # now an ordinary ring
    assert h.state.calls["call-1"].reserved_until is None
