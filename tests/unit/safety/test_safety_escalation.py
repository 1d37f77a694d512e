"""Escalation with an injected clock: retries, a consultant call-back with priority,
then the emergency contact and the welfare officer; contact closes the case."""

from __future__ import annotations

import datetime as dt

from safety.escalation import (
    RECIPIENTS,
    AttemptEnded,
    CallAgain,
    CaseClosedByConsultant,
    CloseCase,
    Command,
    ConcernMarked,
    EscalationState,
    Event,
    Notify,
    OpenCase,
    Outcome,
    Policy,
    decide,
)

T0 = dt.datetime(2026, 12, 7, 1, 0, tzinfo=dt.UTC)
POLICY = Policy(attempts=3, window=dt.timedelta(hours=6), retry_after=dt.timedelta(minutes=30))


def _run(events: list[Event], policy: Policy = POLICY) -> list[Command]:
    state = EscalationState()
    out: list[Command] = []
    for event in events:
        state, commands = decide(state, event, policy)
        out += commands
    return out


def _miss(
    minutes: int, kind: str = "scheduled", outcome: Outcome = Outcome.NO_ANSWER
) -> AttemptEnded:
    return AttemptEnded("p1", kind, outcome, T0 + dt.timedelta(minutes=minutes))


def test_no_contact_retries_then_a_priority_callback_then_notifies() -> None:
    out = _run([_miss(0), _miss(30, "retry", Outcome.BUSY), _miss(60, "retry", Outcome.FAILED)])
    assert out[:2] == [
        CallAgain("p1", "retry", T0 + dt.timedelta(minutes=30)),
        CallAgain("p1", "retry", T0 + dt.timedelta(minutes=60)),
    ]
    at = T0 + dt.timedelta(minutes=60)
    assert out[2:] == [OpenCase("p1", "p1-e1", "no-contact", at), CallAgain("p1", "callback", at)]
    more = _run(
        [
            _miss(0),
            _miss(30, "retry"),
            _miss(60, "retry"),
            _miss(61, "callback"),
            _miss(91, "callback"),
            _miss(121, "callback"),
        ]
    )
    tail = more[4:]
    assert tail[0] == CallAgain("p1", "callback", T0 + dt.timedelta(minutes=91))
    assert tail[1] == Notify("p1", "p1-e1", RECIPIENTS, T0 + dt.timedelta(minutes=91))
    assert tail[2:] == []  # notified once per case


def test_misses_outside_the_window_do_not_add_up() -> None:
    out = _run([_miss(0), _miss(400), _miss(800)])
    assert all(isinstance(c, CallAgain) and c.kind == "retry" for c in out)


def test_contact_resets_and_closes_the_case() -> None:
    out = _run(
        [_miss(0), _miss(30, "retry"), _miss(60, "retry"), _miss(61, "callback", Outcome.TALKED)]
    )
    assert out[-1] == CloseCase("p1", "p1-e1", "contact: talked", T0 + dt.timedelta(minutes=61))
    after = _run([_miss(0), _miss(30, "retry", Outcome.WELL), _miss(60), _miss(90, "retry")])
    assert not any(isinstance(c, OpenCase) for c in after)


def test_pressing_two_reaching_nobody_asks_for_a_priority_callback() -> None:
    out = _run([_miss(0, outcome=Outcome.HELP_UNSERVED)])
    assert out == [OpenCase("p1", "p1-e1", "pressed-2", T0), CallAgain("p1", "callback", T0)]


def test_pressing_two_answered_by_a_consultant_opens_and_closes_a_case() -> None:
    talked = AttemptEnded("p1", "scheduled", Outcome.TALKED, T0, pressed_two=True)
    assert _run([talked]) == [
        OpenCase("p1", "p1-e1", "pressed-2", T0),
        CloseCase("p1", "p1-e1", "contact: talked", T0),
    ]


def test_a_concern_mark_asks_for_a_callback_and_a_consultant_may_close() -> None:
    out = _run(
        [
            ConcernMarked("p1", T0, "c0001"),
            ConcernMarked("p1", T0, "c0002"),
            CaseClosedByConsultant("p1", T0, "c0003"),
        ]
    )
    assert out == [
        OpenCase("p1", "p1-e1", "concern", T0),
        CallAgain("p1", "callback", T0),
        CloseCase("p1", "p1-e1", "closed by c0003", T0),
    ]


def test_people_are_independent_and_replay_gives_the_same_commands() -> None:
    events: list[Event] = [
        _miss(0),
        AttemptEnded("p2", "scheduled", Outcome.WELL, T0),
        _miss(30, "retry"),
    ]
    assert _run(events) == _run(events)
    assert not any(getattr(c, "person_id", "") == "p2" for c in _run(events))
