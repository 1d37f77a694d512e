"""A required after-call note (issue 16): with ``wrap_up_needs_release`` the wrap-up time
passing never ends wrap-up (no timer is even scheduled, so no tick storm); only the
consultant's ``WrapUpEnded`` does, even for a service without wrap-up time. Without it, the
timer ends wrap-up as before."""

from __future__ import annotations

from acd_support import Harness, of_type, offers, person

from acd.commands import ScheduleWakeup
from acd.events import CallArrived, CallEnded, ConsultantLoggedIn, OfferAccepted, Tick, WrapUpEnded
from acd.model import ConsultantState, Language
from acd.settings import AcdSettings

KO = Language("ko")
HELD = AcdSettings(wrap_up_needs_release=True)


def _talk_then_hang_up(h: Harness, service: str) -> list[object]:
    h.feed(ConsultantLoggedIn("c1"), 0.0)
    h.feed(CallArrived("k1", KO, service), 1.0)
    h.feed(OfferAccepted("k1", "c1"), 2.0)
    h.feed(CallArrived("k2", KO, service), 3.0)
    return list(h.feed(CallEnded("k1"), 50.0))


def test_the_wrap_up_timer_never_ends_a_wrap_up_that_needs_release() -> None:
    h = Harness([person("c1", general=4)], settings=HELD)
    commands = _talk_then_hang_up(h, "general")
    assert h.state.consultant_state("c1") is ConsultantState.WRAP_UP
    assert not [w for w in of_type(commands, ScheduleWakeup) if w.at == 60.0]
    assert h.state.next_timer() != 60.0
    assert offers(h.feed(Tick(), 600.0)) == []
    assert h.state.consultant_state("c1") is ConsultantState.WRAP_UP
    assert offers(h.feed(WrapUpEnded("c1"), 700.0)) == [("k2", "c1")]


def test_a_service_without_wrap_up_time_still_waits_for_the_release() -> None:
    h = Harness([person("c1", welfare=4)], settings=HELD)
    _talk_then_hang_up(h, "welfare")
    assert h.state.consultant_state("c1") is ConsultantState.WRAP_UP
    assert offers(h.feed(WrapUpEnded("c1"), 51.0)) == [("k2", "c1")]


def test_without_it_the_timer_ends_wrap_up_on_time() -> None:
    h = Harness([person("c1", general=4)])
    commands = _talk_then_hang_up(h, "general")
    assert ScheduleWakeup(60.0) in commands
    assert offers(h.feed(Tick(), 60.0)) == [("k2", "c1")]
