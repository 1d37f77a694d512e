"""CallTracker: outcomes, waits and service level from AMI events alone."""

from __future__ import annotations

import pytest

from cti.ami.messages import AmiEvent
from dasan.load.tracker import CallTracker, Outcome, service_level, with_call_log_answers
from tests.unit.load.load_support import citizen_events, event


def feed(tracker: CallTracker, *lists: list[AmiEvent]) -> None:
    for events in lists:
        for e in events:
            tracker.feed(e)


def test_answered_call_waits_from_music_on_hold_to_answer() -> None:
    tracker = CallTracker({"120"})
    feed(
        tracker,
        citizen_events("d-1.1", 100.0, moh_at=130.0, dial_at=140.0, answer_at=142.5, end_at=200.0),
    )
    (call,) = tracker.calls()
    assert call.outcome is Outcome.ANSWERED
    assert call.wait_s == pytest.approx(12.5)
    assert call.consultant == "c0042"
    assert tracker.counts().answered == 1


def test_without_music_on_hold_the_wait_starts_at_the_dial() -> None:
    tracker = CallTracker({"120"})
    feed(tracker, citizen_events("d-1.2", 0.0, dial_at=40.0, answer_at=41.0, end_at=90.0))
    assert tracker.calls()[0].wait_s == pytest.approx(1.0)


def test_citizen_hanging_up_while_waiting_is_abandoned_in_the_queue() -> None:
    tracker = CallTracker({"120"})
    feed(tracker, citizen_events("d-1.3", 0.0, moh_at=20.0, citizen_bye_at=50.0, end_at=50.1))
    call = tracker.calls()[0]
    assert call.outcome is Outcome.ABANDONED_QUEUE
    assert call.wait_s == pytest.approx(30.1)
    counts = tracker.counts()
    assert (counts.abandoned, counts.abandoned_in_queue, counts.answered) == (1, 1, 0)


def test_citizen_hanging_up_in_the_menu_is_abandoned_in_the_ivr() -> None:
    tracker = CallTracker({"120"})
    feed(tracker, citizen_events("d-1.4", 0.0, citizen_bye_at=5.0, end_at=5.05))
    assert tracker.calls()[0].outcome is Outcome.ABANDONED_IVR
    assert tracker.counts().abandoned_in_ivr == 1


def test_pbx_ending_an_unanswered_call_is_unserved() -> None:
    tracker = CallTracker({"120"})
    feed(tracker, citizen_events("d-1.5", 0.0, moh_at=3.0, end_at=9.0))
    assert tracker.calls()[0].outcome is Outcome.UNSERVED
    assert tracker.counts().unserved == 1


def test_live_counts_split_ivr_waiting_and_talking() -> None:
    tracker = CallTracker({"120"})
    in_ivr = citizen_events("d-2.1", 0.0, end_at=99.0)[:1]
    waiting = citizen_events("d-2.2", 0.0, moh_at=1.0, end_at=99.0)[:2]
    talking = citizen_events("d-2.3", 0.0, dial_at=1.0, answer_at=2.0, end_at=99.0)[:3]
    feed(tracker, in_ivr, waiting, talking)
    counts = tracker.counts()
    assert (counts.in_ivr, counts.waiting, counts.talking, counts.active) == (1, 1, 1, 3)
    assert counts.offered == 3
    assert all(c.outcome is Outcome.ACTIVE for c in tracker.calls() if c.answered is None)


def test_channels_of_consultants_other_services_and_unknown_ids_are_ignored() -> None:
    tracker = CallTracker({"120"})
    tracker.feed(event("Newchannel", 1.0, Channel="PJSIP/c0001-00000001", Uniqueid="x1", Exten="s"))
    feed(tracker, citizen_events("d-3.1", 0.0, service="9001", end_at=2.0))
    tracker.feed(event("Hangup", 3.0, Channel="PJSIP/citizens-1", Uniqueid="never-seen"))
    assert tracker.calls() == []


def test_a_failed_dial_then_an_answer_counts_the_answer() -> None:
    tracker = CallTracker({"120"})
    events = citizen_events("d-4.1", 0.0, moh_at=10.0, dial_at=20.0, answer_at=35.0, end_at=60.0)
    base = {"Channel": "PJSIP/citizens-00004001", "Uniqueid": "d-4.1", "Exten": "120"}
    no_answer = event("DialEnd", 30.0, DialStatus="NOANSWER", DestChannel="PJSIP/c0007-1", **base)
    events.insert(3, no_answer)
    feed(tracker, events)
    call = tracker.calls()[0]
    assert call.outcome is Outcome.ANSWERED
    assert call.answered == pytest.approx(35.0)


def test_events_after_the_hangup_change_nothing() -> None:
    tracker = CallTracker({"120"})
    events = citizen_events("d-5.1", 0.0, citizen_bye_at=4.0, end_at=4.1)
    late = event("DialEnd", 9.0, DialStatus="ANSWER", Uniqueid="d-5.1", DestChannel="PJSIP/c1-1")
    feed(tracker, events, [late])
    assert tracker.calls()[0].outcome is Outcome.ABANDONED_IVR


def test_classify_maps_the_caller_number_to_type_and_stage() -> None:
    tracker = CallTracker({"120"}, classify=lambda caller: (f"type-{caller[-1]}", 3))
    feed(tracker, citizen_events("d-6.1", 0.0, caller="0107000017", end_at=1.0))
    call = tracker.calls()[0]
    assert (call.call_type, call.stage) == ("type-7", 3)


def test_service_level_counts_answers_within_the_threshold_over_answers_and_queue_abandons() -> (
    None
):
    tracker = CallTracker({"120"})
    feed(
        tracker,
        citizen_events("a", 0.0, moh_at=10.0, dial_at=15.0, answer_at=20.0, end_at=80.0),  # 10 s
        citizen_events("b", 0.0, moh_at=10.0, dial_at=45.0, answer_at=50.0, end_at=90.0),  # 40 s
        citizen_events("c", 0.0, moh_at=10.0, citizen_bye_at=25.0, end_at=25.0),  # abandoned
        citizen_events("d", 0.0, citizen_bye_at=3.0, end_at=3.0),  # in the IVR: not counted
    )
    assert service_level(tracker.calls(), 20.0) == pytest.approx(1 / 3)
    assert service_level([], 20.0) is None


def test_an_answer_the_run_did_not_see_is_taken_from_the_call_log_with_no_wait() -> None:
    """The run's AMI link was down when two calls were answered: the events leave them
    unserved; the engine's call log names a consultant for one of them (the other was never
    bridged). That one counts as answered, its wait unknown, so never within the service
    level; a call the events saw answered or abandoned is left as it was."""
    tracker = CallTracker({"120"})
    feed(
        tracker,
        citizen_events("d-2.1", 0.0, moh_at=3.0, end_at=200.0),  # answer missed
        citizen_events("d-2.2", 0.0, moh_at=3.0, end_at=9.0),  # really unserved
        citizen_events("d-2.3", 0.0, moh_at=3.0, dial_at=5.0, answer_at=6.0, end_at=90.0),
        citizen_events("d-2.4", 0.0, moh_at=3.0, citizen_bye_at=50.0, end_at=50.1),
    )
    log = {"d-2.1": "c0194", "d-2.3": "c0007", "d-2.4": "c0008"}
    calls = {c.uniqueid: c for c in with_call_log_answers(tracker.calls(), log.get)}
    assert calls["d-2.1"].outcome is Outcome.ANSWERED
    assert calls["d-2.1"].consultant == "c0194" and calls["d-2.1"].answer_unseen
    assert calls["d-2.1"].wait_s is None
    assert calls["d-2.2"].outcome is Outcome.UNSERVED
    assert calls["d-2.3"].consultant == "c0042" and not calls["d-2.3"].answer_unseen
    assert calls["d-2.4"].outcome is Outcome.ABANDONED_QUEUE
    # Answered: d-2.1 (time unknown) and d-2.3 (1 s); abandoned in the queue: d-2.4.
    assert service_level(calls.values(), 20.0) == pytest.approx(1 / 3)
