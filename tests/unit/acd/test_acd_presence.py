"""Presence from registration in the routing core: an unregistered consultant is never READY,
never offered a call; registering, unregistering and expiry change the state at once."""

from __future__ import annotations

from acd_support import Harness, offers, person

from acd.events import (
    CallArrived,
    CallEnded,
    ConsultantLoggedIn,
    ConsultantNotReady,
    ConsultantReachable,
    ConsultantReady,
    OfferAccepted,
    WrapUpEnded,
)
from acd.model import UNREGISTERED, ConsultantState, Language
from dasan.presence import Registrations

KO = Language.KO


def _unregistered(h: Harness, *ids: str) -> None:
    for cid in ids:
        h.feed(ConsultantReachable(cid, reachable=False), 0.0)
        h.feed(ConsultantLoggedIn(cid), 0.0)


def test_unregistered_consultants_are_never_offered_a_call() -> None:
    h = Harness([person("c1", general=5), person("c2", general=4)])
    _unregistered(h, "c1", "c2")
    assert h.state.consultant_state("c1") is ConsultantState.NOT_READY
    assert h.state.agents["c1"].reason == UNREGISTERED
    assert offers(h.feed(CallArrived("k1", KO, "general"), 1.0)) == []
    # c2 registers: the waiting call goes to c2 at once, never to the better, absent c1.
    assert offers(h.feed(ConsultantReachable("c2", reachable=True), 2.0)) == [("k1", "c2")]


def test_ready_while_unregistered_stays_not_ready() -> None:
    h = Harness([person("c1", general=3)])
    _unregistered(h, "c1")
    h.feed(ConsultantNotReady("c1", "break"), 1.0)
    h.feed(ConsultantReady("c1"), 2.0)  # the desktop's "ready": the phone is still away
    assert h.state.agents["c1"].reason == UNREGISTERED
    assert offers(h.feed(CallArrived("k1", KO, "general"), 3.0)) == []


def test_registering_does_not_override_a_chosen_not_ready() -> None:
    h = Harness([person("c1", general=3)])
    h.feed(ConsultantLoggedIn("c1"), 0.0)
    h.feed(ConsultantNotReady("c1", "break"), 1.0)
    h.feed(ConsultantReachable("c1", reachable=False), 2.0)
    h.feed(ConsultantReachable("c1", reachable=True), 3.0)
    assert h.state.agents["c1"].reason == "break"


def test_unregistering_takes_a_ready_consultant_out_at_once() -> None:
    h = Harness([person("c1", general=3)])
    h.feed(ConsultantLoggedIn("c1"), 0.0)
    h.feed(ConsultantReachable("c1", reachable=False), 1.0)  # unregistered or expired
    assert h.state.consultant_state("c1") is ConsultantState.NOT_READY
    assert offers(h.feed(CallArrived("k1", KO, "general"), 2.0)) == []


def test_unregistering_mid_call_ends_not_ready_after_wrap_up() -> None:
    h = Harness([person("c1", general=3)])
    h.feed(ConsultantLoggedIn("c1"), 0.0)
    assert offers(h.feed(CallArrived("k1", KO, "general"), 1.0)) == [("k1", "c1")]
    h.feed(OfferAccepted("k1", "c1"), 2.0)
    h.feed(ConsultantReachable("c1", reachable=False), 3.0)
    assert h.state.consultant_state("c1") is ConsultantState.TALKING
    h.feed(CallEnded("k1"), 10.0)
    h.feed(WrapUpEnded("c1"), 30.0)
    assert h.state.consultant_state("c1") is ConsultantState.NOT_READY
    assert h.state.agents["c1"].reason == UNREGISTERED


def test_registrations_report_changes_only() -> None:
    regs = Registrations(["c0001", "c0002"])
    assert regs.contact("c0001", "sip:a", "Created") == [("c0001", True)]
    assert regs.contact("c0001", "sip:a", "NonQualified") == []
    assert regs.contact("c9999", "sip:x", "Created") == []  # not a consultant
    assert regs.contact("c0001", "sip:a", "Removed") == [("c0001", False)]
    assert regs.snapshot(
        [("c0002", "sip:b", "NonQualified"), ("c0001", "sip:a", "Unreachable")]
    ) == [("c0002", True)]
    assert regs.reachable("c0002") and not regs.reachable("c0001")
