"""The center's pure parts: consultant board, call book, today's ledger, screen pop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from acd.model import ConsultantState as AcdState
from cti.center.board import ConsultantBoard, Profile, reason_of
from cti.center.book import CallBook
from cti.center.ledger import Ledger
from cti.center.model import Helper, HelperKind, Leg
from cti.center.screenpop import earlier_call, journey_steps
from cti.control import CallOutcome, CallState, ConsultantState, NotReadyReason, PartyKind
from recordings.calllog import CallRecord, Participant
from recordings.models import ParticipantRole

T0 = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)  # 10:00 in Seoul


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _board(clock: Clock) -> ConsultantBoard:
    return ConsultantBoard(clock, [Profile("c0001", "c0001 · korean", ("ko",))])


def test_board_maps_the_acd_states_and_reasons() -> None:
    clock = Clock()
    board = _board(clock)
    assert board.view("c0001").state is ConsultantState.LOGGED_OUT
    change = board.acd_changed("c0001", AcdState.NOT_READY, "login", None)
    assert change is not None and change.old.state is ConsultantState.LOGGED_OUT
    assert change.new.reason is NotReadyReason.LOGGED_IN
    assert board.acd_changed("c0001", AcdState.NOT_READY, "login", None) is None  # no change
    clock.advance(5)
    ringing = board.acd_changed("c0001", AcdState.RINGING, None, "call-1")
    assert ringing is not None and ringing.new.call_id == "call-1"
    assert ringing.new.since == clock.now
    wrap = board.acd_changed("c0001", AcdState.WRAP_UP, None, "call-1")
    assert wrap is not None and wrap.new.call_id is None  # the desktop's call has ended
    assert reason_of("no answer") is NotReadyReason.NO_ANSWER
    assert reason_of("meal") is NotReadyReason.MEAL
    assert reason_of("something-new") is None


def test_board_shows_own_calls_and_transfer_reservations() -> None:
    board = _board(Clock())
    outbound = board.acd_changed("c0001", AcdState.NOT_READY, "outbound", None)
    assert outbound is not None and outbound.new.state is ConsultantState.TALKING
    reserved = board.acd_changed("c0001", AcdState.NOT_READY, "transfer", None)
    assert reserved is not None and reserved.new.state is ConsultantState.RINGING
    assert board.reserved("c0001")
    talking = board.override("c0001", ConsultantState.TALKING, "call-9")
    assert talking is not None and talking.new.call_id == "call-9"
    # Any other ACD change (the reservation ended) drops the override.
    ready = board.acd_changed("c0001", AcdState.READY, None, None)
    assert ready is not None and ready.new.state is ConsultantState.READY
    assert not board.reserved("c0001")


def test_book_follows_a_call_from_the_ivr_to_its_end() -> None:
    clock = Clock()
    book = CallBook(clock, keep_ended=1)
    call = book.citizen_channel(Leg("u1", "PJSIP/citizens-1"), "01020001", "ko")
    assert call.state is CallState.IVR
    assert [p.kind for p in call.parties.values()] == [PartyKind.CITIZEN]
    clock.advance(30)
    book.arrived("u1", "ko", "general")
    assert book.summary(call).state is CallState.WAITING
    clock.advance(4)
    book.ringing("u1", "c0001")
    book.bind_agent(call, Leg("u2", "PJSIP/c0001-2"))
    answered = book.answered("u1", "c0001")
    assert answered is not None and answered[1] == 4.0  # waited 4 s in the queue
    assert book.call_of("u2") is call and book.call_of_consultant("c0001") is call
    party = book.add_helper(
        call, Helper("h1", HelperKind.INTERPRETER), PartyKind.INTERPRETER, "c0462", "en"
    )
    assert party is not None and book.helper_connected("h1", "PJSIP/c0462-3") is call
    assert len(book.summary(call).parties) == 3
    gone = book.helper_gone("h1")
    assert gone is not None and len(call.parties) == 2
    ended = book.ended("u1", CallOutcome.ANSWERED)
    assert ended is not None and book.summary(ended).parties == ()
    assert book.call_of("u2") is None and book.live("u1") is None
    assert book.get("u1").outcome is CallOutcome.ANSWERED  # kept for a late screen pop
    book.citizen_channel(Leg("u3", "PJSIP/citizens-3"), "", "ko")
    book.ended("u3", CallOutcome.ABANDONED)
    assert book.get("u3").state is CallState.ENDED
    assert book.live_calls() is not None and "u1" not in [c.call_id for c in book.live_calls()]


def test_book_refresh_state_names_hold_and_consultation() -> None:
    book = CallBook(Clock())
    call = book.citizen_channel(Leg("u1", "PJSIP/citizens-1"), "010", "ko")
    book.arrived("u1", "ko", "general")
    book.answered("u1", "c0001")
    call.held = True
    book.refresh_state(call)
    assert call.state is CallState.HELD
    assert call.party(PartyKind.CITIZEN).state.value == "held"  # type: ignore[union-attr]
    call.held = False
    book.refresh_state(call)
    assert call.state is CallState.TALKING


def test_ledger_counts_today_in_the_centers_time_zone() -> None:
    clock = Clock()
    ledger = Ledger(clock, ZoneInfo("Asia/Seoul"), {"general": 20.0})
    ledger.answered("general", "c0001", 5.0)
    ledger.answered("general", "c0002", 25.0)
    ledger.abandoned("general")
    tally = ledger.queue("general")
    assert (tally.answered, tally.abandoned, tally.within_target) == (2, 1, 1)
    assert tally.service_level == 1 / 3
    assert ledger.queue("transport").service_level is None
    clock.advance(15 * 3600)  # past midnight in Seoul: a new day starts from zero
    assert ledger.queue("general").answered == 0


def test_ledger_time_in_state_adds_up() -> None:
    clock = Clock()
    board = _board(clock)
    ledger = Ledger(clock, ZoneInfo("Asia/Seoul"), {})
    change = board.acd_changed("c0001", AcdState.READY, None, None)
    assert change is not None
    clock.advance(60)
    talking = board.acd_changed("c0001", AcdState.TALKING, None, "x")
    assert talking is not None
    ledger.left_state(talking.old, talking.new.since)
    ledger.answered("general", "c0001", 1.0)
    clock.advance(30)
    stats = ledger.consultant(board.view("c0001"))
    assert (stats.ready_s, stats.talk_s, stats.answered) == (60.0, 30.0, 1)
    assert stats.average_handle_s == 30.0


def test_journey_steps_and_earlier_calls() -> None:
    journey = {
        "started_at": T0.isoformat(),
        "entries": [
            {"t_ms": 0, "node": "welcome", "event": "enter"},
            {"t_ms": 1500, "node": "language", "event": "digits", "value": "1"},
        ],
    }
    steps = journey_steps(journey)
    assert [s.label for s in steps] == ["welcome · enter", "language · digits"]
    assert steps[1].input == "1" and steps[1].at == T0 + timedelta(seconds=1.5)
    assert journey_steps("not a journey") == ()
    assert journey_steps({"entries": []}) == ()  # no start time: nothing to show
    record = CallRecord(
        id="old",
        uniqueid="old",
        linkedid=None,
        language="ko",
        service="general",
        journey=None,
        started_at=T0,
        routed_at=T0,
        ended_at=T0,
        duration_ms=61_000,
        participants=(Participant("c0007", ParticipantRole.CONSULTANT, T0),),
    )
    earlier = earlier_call(record)
    assert (earlier.outcome, earlier.consultant_id, earlier.duration_s) == (
        CallOutcome.ANSWERED,
        "c0007",
        61.0,
    )
