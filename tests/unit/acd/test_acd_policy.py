"""Unit tests of the routing policy through ``decide``: who gets which call, and when."""

from __future__ import annotations

import copy
import json

import pytest
from acd_support import Harness, of_type, offers, person, records

from acd.commands import (
    AnnounceWait,
    CancelOffer,
    EventIgnored,
    OfferCall,
    OfferCallback,
    ScheduleWakeup,
)
from acd.errors import InvalidEvent
from acd.events import (
    CallAbandoned,
    CallArrived,
    CallbackAccepted,
    CallbackAnswered,
    CallbackFailed,
    CallEnded,
    ConsultantLoggedIn,
    ConsultantLoggedOut,
    ConsultantNotReady,
    ConsultantReady,
    OfferAccepted,
    OfferRejected,
    OfferTimedOut,
    Tick,
)
from acd.model import NO_ANSWER, CallStatus, ConsultantState, Language, Priority
from acd.settings import AcdSettings
from acd.views import QueueView, consultant_counts, queue_views

KO, EN = Language.KO, Language.EN


def login(h: Harness, *ids: str, at: float = 0.0) -> None:
    for cid in ids:
        h.feed(ConsultantLoggedIn(cid), at)


def test_higher_proficiency_is_preferred() -> None:
    h = Harness([person("c1", general=3), person("c2", general=5), person("c3", general=4)])
    login(h, "c1", "c2", "c3")
    assert offers(h.feed(CallArrived("k1", KO, "general"), 1.0)) == [("k1", "c2")]


def test_longest_idle_among_equals() -> None:
    h = Harness([person("c1", general=4), person("c2", general=4)])
    h.feed(ConsultantLoggedIn("c2"), 0.0)
    h.feed(ConsultantLoggedIn("c1"), 5.0)
    assert offers(h.feed(CallArrived("k1", KO, "general"), 10.0)) == [("k1", "c2")]
    assert offers(h.feed(CallArrived("k2", KO, "general"), 11.0)) == [("k2", "c1")]


def test_one_global_choice_goes_to_the_call_furthest_behind_its_target() -> None:
    # welfare's target is 60 s, general's 20 s: the general call (deadline 20+10=30) is
    # further behind than the older welfare call (deadline 0+60=60), though welfare waited longer.
    h = Harness([person("c1", general=4, welfare=4)])
    h.feed(ConsultantLoggedIn("c1"), 0.0)
    h.feed(ConsultantNotReady("c1", "break"), 0.0)
    h.feed(CallArrived("w1", KO, "welfare"), 0.0)
    h.feed(CallArrived("g1", KO, "general"), 10.0)
    commands = h.feed(ConsultantReady("c1"), 40.0)
    assert offers(commands) == [("g1", "c1")]
    record = records(commands)[0]
    assert [c.call_id for c in record.calls] == ["g1", "w1"]
    assert record.calls[0].behind_target_s == pytest.approx(10.0)


def test_first_come_first_served_among_equals() -> None:
    h = Harness([person("c1", general=4)])
    for n in range(3):
        h.feed(CallArrived(f"k{n}", KO, "general"), float(n))
    assert offers(h.feed(ConsultantLoggedIn("c1"), 10.0)) == [("k0", "c1")]


def test_language_is_a_hard_constraint() -> None:
    h = Harness([person("c1", general=5), person("c2", "ko,en", foreign_en=2)])
    h.feed(ConsultantLoggedIn("c1"), 0.0)
    assert offers(h.feed(CallArrived("e1", EN, "foreign_en"), 1.0)) == []
    assert offers(h.feed(Tick(), 30.0)) == []
    assert offers(h.feed(ConsultantLoggedIn("c2"), 31.0)) == [("e1", "c2")]


def test_overflow_widens_the_pool_after_the_configured_wait() -> None:
    h = Harness([person("c1", general=2)])
    h.feed(ConsultantLoggedIn("c1"), 0.0)
    commands = h.feed(CallArrived("k1", KO, "general"), 100.0)
    assert offers(commands) == []  # proficiency 2 < 3 for the first 5 s
    assert ScheduleWakeup(105.0) in commands
    assert offers(h.feed(Tick(), 104.9)) == []
    commands = h.feed(Tick(), 105.0)
    assert offers(commands) == [("k1", "c1")]
    assert records(commands)[0].stage == 1


def test_overflow_via_another_service() -> None:
    h = Harness([person("c1", general=4)])
    h.feed(ConsultantLoggedIn("c1"), 0.0)
    assert offers(h.feed(CallArrived("t1", KO, "transport"), 0.0)) == []
    assert h.wakeup == 10.0
    commands = h.feed(Tick(), 10.0)
    assert offers(commands) == [("t1", "c1")]
    assert records(commands)[0].consultants[0].kind == "overflow"


def test_interpreter_stage_offers_a_korean_consultant_with_an_interpreter() -> None:
    h = Harness([person("c1", general=4)])
    h.feed(ConsultantLoggedIn("c1"), 0.0)
    h.feed(CallArrived("e1", EN, "foreign_en"), 0.0)
    assert h.wakeup == 60.0
    offer = of_type(h.feed(Tick(), 60.0), OfferCall)
    assert offer == [OfferCall("e1", "c1", 15.0, interpreter_language=EN)]


def test_no_answer_sets_not_ready_and_puts_the_call_back_at_the_head() -> None:
    h = Harness([person("c1", general=4), person("c2", general=3)])
    h.feed(ConsultantLoggedIn("c1"), 0.0)
    h.feed(CallArrived("k1", KO, "general"), 1.0)  # offered to c1
    h.feed(CallArrived("k2", KO, "general"), 2.0)
    commands = h.feed(OfferTimedOut("k1", "c1"), 16.0)
    assert h.state.consultant_state("c1") is ConsultantState.NOT_READY
    assert h.state.agents["c1"].reason == NO_ANSWER
    waiting = h.state.waiting_calls()
    assert [c.call_id for c in waiting] == ["k1", "k2"]
    assert waiting[0].enqueued_at == 1.0
    assert offers(commands) == []
    assert offers(h.feed(ConsultantLoggedIn("c2"), 17.0)) == [("k1", "c2")]


def test_rejected_offer_behaves_like_no_answer() -> None:
    h = Harness([person("c1", general=4)])
    h.feed(ConsultantLoggedIn("c1"), 0.0)
    h.feed(CallArrived("k1", KO, "general"), 1.0)
    h.feed(OfferRejected("k1", "c1"), 2.0)
    assert h.state.agents["c1"].reason == NO_ANSWER
    assert h.state.calls["k1"].status is CallStatus.WAITING


def test_abandon_leaves_no_trace() -> None:
    h = Harness([person("c1", general=4)])
    for n in range(3):
        h.feed(CallArrived(f"k{n}", KO, "general"), float(n))
    h.feed(CallAbandoned("k1"), 5.0)
    assert "k1" not in h.state.calls
    assert [c.call_id for c in h.state.waiting_calls()] == ["k0", "k2"]
    assert "k1" not in h.state.by_seq.values()
    assert h.state.queues.position(h.state.calls["k2"].call) == 2
    assert len(h.state.queues) == 2
    again = h.feed(CallAbandoned("k1"), 6.0)
    assert of_type(again, EventIgnored)


def test_abandon_while_ringing_frees_the_consultant_keeping_their_place() -> None:
    h = Harness([person("c1", general=4), person("c2", general=4)])
    h.feed(ConsultantLoggedIn("c1"), 0.0)
    h.feed(ConsultantLoggedIn("c2"), 1.0)
    h.feed(CallArrived("k1", KO, "general"), 5.0)  # c1 idle longest
    commands = h.feed(CallAbandoned("k1"), 7.0)
    assert CancelOffer("k1", "c1") in commands
    assert h.state.consultant_state("c1") is ConsultantState.READY
    assert h.state.agents["c1"].idle_since == 0.0
    assert offers(h.feed(CallArrived("k2", KO, "general"), 8.0)) == [("k2", "c1")]


def test_callback_keeps_the_callers_place() -> None:
    h = Harness([person("c1", general=4)])
    h.feed(CallArrived("k1", KO, "general"), 0.0)
    h.feed(CallArrived("k2", KO, "general"), 1.0)
    h.feed(CallbackAccepted("k1", "+821012345678"), 2.0)
    h.feed(CallArrived("k3", KO, "general"), 3.0)
    assert [c.call_id for c in h.state.waiting_calls()] == ["k1", "k2", "k3"]
    offer = of_type(h.feed(ConsultantLoggedIn("c1"), 50.0), OfferCall)
    assert offer == [OfferCall("k1", "c1", 15.0, callback_number="+821012345678")]
    assert of_type(h.feed(OfferAccepted("k1", "c1"), 51.0), EventIgnored)  # not called back yet
    h.feed(CallbackAnswered("k1"), 55.0)
    h.feed(OfferAccepted("k1", "c1"), 57.0)
    assert h.state.consultant_state("c1") is ConsultantState.TALKING


def test_failed_callback_ends_the_call_and_frees_the_consultant() -> None:
    h = Harness([person("c1", general=4)])
    h.feed(ConsultantLoggedIn("c1"), 0.0)
    h.feed(ConsultantNotReady("c1", "break"), 0.0)
    h.feed(CallArrived("k1", KO, "general"), 1.0)
    h.feed(CallbackAccepted("k1", "+8210"), 2.0)
    h.feed(CallArrived("k2", KO, "general"), 3.0)
    h.feed(ConsultantReady("c1"), 10.0)
    commands = h.feed(CallbackFailed("k1"), 18.0)
    assert "k1" not in h.state.calls
    assert offers(commands) == [("k2", "c1")]


def test_callback_is_offered_once_when_the_estimated_wait_is_long() -> None:
    settings = AcdSettings(callback_offer_min_wait_s=100.0, announce_every_s=30.0)
    h = Harness([person("c1", general=4)], settings)
    h.feed(ConsultantLoggedIn("c1"), 0.0)
    h.feed(ConsultantNotReady("c1", "break"), 0.0)  # logged in, so staffing counts 0 ready
    h.feed(CallArrived("k0", KO, "general"), 0.0)
    commands = h.feed(CallArrived("k1", KO, "general"), 1.0)
    announce = of_type(commands, AnnounceWait)[0]
    assert announce.position == 2
    assert announce.estimated_wait_s == pytest.approx(2 * (100 + 10))  # nobody staffed: one server
    assert of_type(commands, OfferCallback) == [OfferCallback("k1", announce.estimated_wait_s)]
    later = h.feed(Tick(), 31.0)
    assert [a.call_id for a in of_type(later, AnnounceWait)] == ["k0", "k1"]
    assert of_type(later, OfferCallback) == []


def test_estimate_follows_live_staffing() -> None:
    h = Harness([person(f"c{n}", general=4) for n in range(4)])
    for n in range(4):
        h.feed(ConsultantLoggedIn(f"c{n}"), 0.0)
        h.feed(CallArrived(f"k{n}", KO, "general"), 0.0)
        h.feed(OfferAccepted(f"k{n}", f"c{n}"), 1.0)
    commands = h.feed(CallArrived("w", KO, "general"), 2.0)
    # Four busy consultants, handle 100 + wrap-up 10: the next departure is ~110/4 s away.
    assert of_type(commands, AnnounceWait) == [AnnounceWait("w", 1, 27.5)]


def test_priority_tiers_go_first() -> None:
    h = Harness([person("c1", general=4)])
    h.feed(CallArrived("k1", KO, "general"), 0.0)
    h.feed(CallArrived("s1", KO, "general", priority=Priority.SAFETY_RETURN), 5.0)
    assert offers(h.feed(ConsultantLoggedIn("c1"), 6.0)) == [("s1", "c1")]


def test_wrap_up_then_ready_on_time() -> None:
    h = Harness([person("c1", general=4)])
    h.feed(ConsultantLoggedIn("c1"), 0.0)
    h.feed(CallArrived("k1", KO, "general"), 1.0)
    h.feed(OfferAccepted("k1", "c1"), 2.0)
    h.feed(CallArrived("k2", KO, "general"), 3.0)
    commands = h.feed(CallEnded("k1"), 50.0)
    assert h.state.consultant_state("c1") is ConsultantState.WRAP_UP
    assert ScheduleWakeup(60.0) in commands
    assert offers(h.feed(Tick(), 60.0)) == [("k2", "c1")]


def test_not_ready_and_logout_wait_for_the_call_to_end() -> None:
    h = Harness([person("c1", general=4), person("c2", general=4)])
    login(h, "c1", "c2")
    h.feed(CallArrived("k1", KO, "general"), 1.0)
    h.feed(CallArrived("k2", KO, "general"), 1.0)
    h.feed(OfferAccepted("k1", "c1"), 2.0)
    h.feed(OfferAccepted("k2", "c2"), 2.0)
    h.feed(ConsultantNotReady("c1", "meal"), 3.0)
    h.feed(ConsultantLoggedOut("c2"), 3.0)
    assert h.state.consultant_state("c1") is ConsultantState.TALKING
    h.feed(CallEnded("k1"), 10.0)
    h.feed(CallEnded("k2"), 10.0)
    h.feed(Tick(), 20.0)
    assert h.state.consultant_state("c1") is ConsultantState.NOT_READY
    assert h.state.agents["c1"].reason == "meal"
    assert h.state.consultant_state("c2") is ConsultantState.LOGGED_OUT


def test_logout_while_ringing_requeues_the_call() -> None:
    h = Harness([person("c1", general=4)])
    h.feed(ConsultantLoggedIn("c1"), 0.0)
    h.feed(CallArrived("k1", KO, "general"), 1.0)
    commands = h.feed(ConsultantLoggedOut("c1"), 2.0)
    assert CancelOffer("k1", "c1") in commands
    assert h.state.calls["k1"].status is CallStatus.WAITING


def test_invalid_events_raise_and_change_nothing() -> None:
    h = Harness([person("c1", general=4)])
    h.feed(CallArrived("k1", KO, "general"), 0.0)
    before = copy.deepcopy(h.state)
    with pytest.raises(InvalidEvent, match="unknown service"):
        h.feed(CallArrived("k2", KO, "nope"), 1.0)
    with pytest.raises(InvalidEvent, match="does not serve language"):
        h.feed(CallArrived("k2", EN, "general"), 1.0)
    with pytest.raises(InvalidEvent, match="already known"):
        h.feed(CallArrived("k1", KO, "general"), 1.0)
    with pytest.raises(InvalidEvent, match="unknown consultant"):
        h.feed(ConsultantLoggedIn("c9"), 1.0)
    assert [c.call_id for c in h.state.waiting_calls()] == [
        c.call_id for c in before.waiting_calls()
    ]
    assert h.state.next_seq == before.next_seq


def test_stale_offer_outcomes_are_ignored() -> None:
    h = Harness([person("c1", general=4)])
    h.feed(ConsultantLoggedIn("c1"), 0.0)
    h.feed(CallArrived("k1", KO, "general"), 1.0)
    h.feed(CallAbandoned("k1"), 2.0)
    assert of_type(h.feed(OfferAccepted("k1", "c1"), 3.0), EventIgnored)
    assert of_type(h.feed(OfferTimedOut("k1", "c1"), 3.0), EventIgnored)
    assert h.state.consultant_state("c1") is ConsultantState.READY


def test_decision_record_explains_and_serializes() -> None:
    h = Harness([person("c1", general=3), person("c2", general=5)])
    login(h, "c1", "c2")
    commands = h.feed(CallArrived("k1", KO, "general"), 3.0)
    record = records(commands)[0]
    assert commands.index(record) < commands.index(of_type(commands, OfferCall)[0])
    body = json.loads(json.dumps(record.to_json()))
    assert body["consultant_id"] == "c2"
    assert body["consultants"][0]["proficiency"] == 5
    assert body["calls"][0]["call_id"] == "k1"
    assert "proficiency 5" in body["reason"]


def test_views_for_the_wallboard() -> None:
    h = Harness([person("c1", general=4), person("c2", general=4, transport=3)])
    login(h, "c1", "c2")
    h.feed(CallArrived("k1", KO, "general"), 1.0)
    h.feed(CallArrived("t1", KO, "transport"), 2.0)  # to c2 (transport 3)
    h.feed(CallArrived("k2", KO, "general"), 3.0)
    rows = {(v.service, v.language): v for v in queue_views(h.state, 10.0)}
    assert rows[("general", KO)] == QueueView("general", KO, 1, 7.0, 2, 0)
    assert rows[("transport", KO)].waiting == 0
    assert rows[("foreign_en", EN)].staffed == 0
    counts = consultant_counts(h.state)
    assert counts[ConsultantState.RINGING] == 2 and counts[ConsultantState.LOGGED_OUT] == 0
