"""The recording guard confirms, falls back to the spare path, or refuses to bridge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from common.alarms import Severity
from recordings.guard import (
    AllowBridge,
    FileObserved,
    GuardEvent,
    GuardPolicy,
    GuardState,
    LanguageChosen,
    MixMonitorStarted,
    RaiseAlarm,
    RecordingFailed,
    RefuseBridge,
    StartOnSpare,
    Target,
    Tick,
    decide,
    spare_started,
    start,
)

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_started_and_growing_is_confirmed() -> None:
    status = start("1.1", T0)
    status, out = decide(status, MixMonitorStarted(Target.PRIMARY, at(0.1)))
    assert out == []
    status, out = decide(status, FileObserved(Target.PRIMARY, 44, at(0.2)))
    assert out == []
    assert not status.may_bridge
    status, out = decide(status, FileObserved(Target.PRIMARY, 3244, at(0.4)))
    assert out == [AllowBridge(Target.PRIMARY)]
    assert status.may_bridge


def test_started_event_alone_is_not_proof() -> None:
    status = start("1.1", T0)
    status, _ = decide(status, MixMonitorStarted(Target.PRIMARY, at(0.1)))
    status, _ = decide(status, FileObserved(Target.PRIMARY, 44, at(0.5)))
    status, _ = decide(status, FileObserved(Target.PRIMARY, 44, at(1.0)))
    assert status.state is GuardState.WAITING_PRIMARY
    status, out = decide(status, Tick(at(3.0)))
    assert status.state is GuardState.WAITING_SPARE
    assert out[0] == StartOnSpare()


def test_growing_file_without_started_event_is_not_proof() -> None:
    status = start("1.1", T0)
    status, _ = decide(status, FileObserved(Target.PRIMARY, 100, at(0.5)))
    status, _ = decide(status, FileObserved(Target.PRIMARY, 900, at(1.0)))
    assert not status.may_bridge


def test_error_moves_to_spare_then_spare_confirms() -> None:
    status = start("1.1", T0)
    status, out = decide(status, RecordingFailed(Target.PRIMARY, "disk full", at(0.2)))
    assert status.state is GuardState.WAITING_SPARE
    assert out[0] == StartOnSpare()
    assert isinstance(out[1], RaiseAlarm)
    assert out[1].severity is Severity.MAJOR
    # A late report about the abandoned primary changes nothing.
    status, out = decide(status, FileObserved(Target.PRIMARY, 5000, at(0.3)))
    assert out == []
    status = spare_started(status, at(0.4))
    status, _ = decide(status, MixMonitorStarted(Target.SPARE, at(0.5)))
    status, _ = decide(status, FileObserved(Target.SPARE, 44, at(0.6)))
    status, out = decide(status, FileObserved(Target.SPARE, 1644, at(0.8)))
    assert out == [AllowBridge(Target.SPARE)]


def test_spare_failure_refuses_in_the_callers_language() -> None:
    status = start("1.1", T0)
    status, _ = decide(status, LanguageChosen("vi", at(5)))
    status, _ = decide(status, RecordingFailed(Target.PRIMARY, "EIO", at(6)))
    status, out = decide(status, Tick(at(9.5)))
    assert status.state is GuardState.REFUSED
    assert not status.may_bridge
    refuse, alarm = out
    assert refuse == RefuseBridge("vi", "recording-unavailable", offer_callback=True)
    assert isinstance(alarm, RaiseAlarm)
    assert alarm.severity is Severity.CRITICAL
    assert "primary: EIO" in alarm.message


def test_refusal_is_final() -> None:
    status = start("1.1", T0)
    status, _ = decide(status, RecordingFailed(Target.PRIMARY, "x", at(0)))
    status, _ = decide(status, RecordingFailed(Target.SPARE, "y", at(0.1)))
    status, out = decide(status, MixMonitorStarted(Target.SPARE, at(0.2)))
    status, out = decide(status, FileObserved(Target.SPARE, 1, at(0.3)))
    status, out = decide(status, FileObserved(Target.SPARE, 99, at(0.4)))
    assert status.state is GuardState.REFUSED
    assert out == []


def test_failure_after_bridging_raises_a_critical_alarm() -> None:
    status = start("1.1", T0)
    for event in (
        MixMonitorStarted(Target.PRIMARY, at(0.1)),
        FileObserved(Target.PRIMARY, 44, at(0.2)),
        FileObserved(Target.PRIMARY, 500, at(0.3)),
    ):
        status, _ = decide(status, event)
    status, out = decide(status, RecordingFailed(Target.PRIMARY, "write error", at(60)))
    assert status.may_bridge
    assert [type(c) for c in out] == [RaiseAlarm]


def test_custom_deadline() -> None:
    status = start("1.1", T0)
    status, out = decide(status, Tick(at(0.9)), GuardPolicy(confirm_within=timedelta(seconds=1)))
    assert out == []
    status, out = decide(status, Tick(at(1.0)), GuardPolicy(confirm_within=timedelta(seconds=1)))
    assert out[0] == StartOnSpare()


_events = st.one_of(
    st.builds(MixMonitorStarted, st.sampled_from(Target), st.just(T0)),
    st.builds(FileObserved, st.sampled_from(Target), st.integers(0, 10_000), st.just(T0)),
    st.builds(RecordingFailed, st.sampled_from(Target), st.just("e"), st.just(T0)),
    st.builds(Tick, st.just(T0)),
)


@given(st.lists(st.tuples(_events, st.floats(0, 2)), max_size=30))
def test_bridge_is_allowed_only_with_proof(steps: list[tuple[GuardEvent, float]]) -> None:
    """Fail closed: whatever happens, AllowBridge is only issued after started + growth."""
    status, now = start("1.1", T0), T0
    for event, gap in steps:
        now += timedelta(seconds=gap)
        fields = {f: getattr(event, f) for f in event.__dataclass_fields__}
        status, out = decide(status, type(event)(**{**fields, "at": now}))
        if any(isinstance(c, AllowBridge) for c in out):
            assert status.started_seen
            assert status.first_size is not None and status.last_size is not None
            assert status.last_size > status.first_size
        assert status.may_bridge == (status.state is GuardState.CONFIRMED)
