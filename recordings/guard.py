"""Recording guard: may this call be bridged to a consultant? (pure policy, clock injected)

The engine feeds what it observes about the call's recording — MixMonitorStart for the
channel, the recording file's size over time, errors — and asks before Dial. Outcomes:
confirmed (bridge), retry on the spare path, or refuse to bridge (apologize in the caller's
language, offer a callback, raise an alarm).

Invariants:
- CONFIRMED needs both signals for the current target: MixMonitor reported started, and
  the file seen growing (two observations, the later one larger). A started event alone,
  or a file alone, is not proof that audio is being written.
- Each target gets ``confirm_within`` from its start; an error or the deadline moves the
  primary to the spare (exactly once) and the spare to REFUSED. REFUSED and CONFIRMED are
  final for bridging: ``may_bridge`` is true only in CONFIRMED, so the call path fails
  closed. A failure after confirmation cannot unbridge; it raises a critical alarm.
- ``decide`` is a pure function: (status, event) -> (status, commands); no I/O, no clock
  reads (times arrive inside events).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from common.alarms import Severity


class GuardState(enum.StrEnum):
    WAITING_PRIMARY = "waiting-primary"
    WAITING_SPARE = "waiting-spare"
    CONFIRMED = "confirmed"
    REFUSED = "refused"


class Target(enum.StrEnum):
    PRIMARY = "primary"
    SPARE = "spare"


# Events (what the engine observed) ------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MixMonitorStarted:
    target: Target
    at: datetime


@dataclass(frozen=True, slots=True)
class FileObserved:
    target: Target
    size: int
    at: datetime


@dataclass(frozen=True, slots=True)
class RecordingFailed:
    target: Target
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class LanguageChosen:
    language: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Tick:
    at: datetime


GuardEvent = MixMonitorStarted | FileObserved | RecordingFailed | LanguageChosen | Tick


# Commands (what the engine must do) -----------------------------------------------------
@dataclass(frozen=True, slots=True)
class StartOnSpare:
    """Stop MixMonitor on the primary path and start it on the spare path."""


@dataclass(frozen=True, slots=True)
class AllowBridge:
    target: Target


@dataclass(frozen=True, slots=True)
class RefuseBridge:
    language: str
    prompt: str = "recording-unavailable"
    offer_callback: bool = True


@dataclass(frozen=True, slots=True)
class RaiseAlarm:
    severity: Severity
    key: str
    message: str


GuardCommand = StartOnSpare | AllowBridge | RefuseBridge | RaiseAlarm


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    confirm_within: timedelta = timedelta(seconds=3)


@dataclass(frozen=True, slots=True)
class GuardStatus:
    uniqueid: str
    state: GuardState
    target: Target
    attempt_started: datetime
    language: str = "ko"
    started_seen: bool = False
    first_size: int | None = None
    last_size: int | None = None
    failures: tuple[str, ...] = ()

    @property
    def may_bridge(self) -> bool:
        return self.state is GuardState.CONFIRMED


def start(uniqueid: str, at: datetime, language: str = "ko") -> GuardStatus:
    """The status when MixMonitor was requested on the primary path (at answer)."""
    return GuardStatus(uniqueid, GuardState.WAITING_PRIMARY, Target.PRIMARY, at, language)


_WAITING = (GuardState.WAITING_PRIMARY, GuardState.WAITING_SPARE)


def decide(
    status: GuardStatus, event: GuardEvent, policy: GuardPolicy = GuardPolicy()
) -> tuple[GuardStatus, list[GuardCommand]]:
    if isinstance(event, LanguageChosen):
        return replace(status, language=event.language), []
    if status.state not in _WAITING:
        return _after_decision(status, event)
    if not isinstance(event, Tick) and event.target is not status.target:
        return status, []  # a late report about an abandoned attempt
    if isinstance(event, RecordingFailed):
        return _fail(status, event.reason, event.at)
    return _judge(_observe(status, event), event.at, policy)


def _judge(
    status: GuardStatus, at: datetime, policy: GuardPolicy
) -> tuple[GuardStatus, list[GuardCommand]]:
    if _proven(status):
        return replace(status, state=GuardState.CONFIRMED), [AllowBridge(status.target)]
    if at - status.attempt_started >= policy.confirm_within:
        reason = f"not confirmed within {policy.confirm_within.total_seconds():g} s"
        return _fail(status, reason, at)
    return status, []


def _observe(status: GuardStatus, event: MixMonitorStarted | FileObserved | Tick) -> GuardStatus:
    if isinstance(event, MixMonitorStarted):
        return replace(status, started_seen=True)
    if isinstance(event, FileObserved):
        first = event.size if status.first_size is None else status.first_size
        return replace(status, first_size=first, last_size=event.size)
    return status


def _proven(status: GuardStatus) -> bool:
    return (
        status.started_seen
        and status.first_size is not None
        and status.last_size is not None
        and status.last_size > status.first_size
    )


def _fail(status: GuardStatus, reason: str, at: datetime) -> tuple[GuardStatus, list[GuardCommand]]:
    failures = (*status.failures, f"{status.target.value}: {reason}")
    key = f"guard:{status.uniqueid}"
    if status.target is Target.PRIMARY:
        spare = GuardStatus(
            status.uniqueid,
            GuardState.WAITING_SPARE,
            Target.SPARE,
            at,
            status.language,
            failures=failures,
        )
        return spare, [
            StartOnSpare(),
            RaiseAlarm(
                Severity.MAJOR,
                key,
                f"call {status.uniqueid}: primary recording "
                f"failed ({reason}); retrying on the spare path",
            ),
        ]
    refused = replace(status, state=GuardState.REFUSED, failures=failures)
    return refused, [
        RefuseBridge(status.language),
        RaiseAlarm(
            Severity.CRITICAL,
            key,
            f"call {status.uniqueid} not bridged: recording "
            f"could not be confirmed ({'; '.join(failures)})",
        ),
    ]


def spare_started(status: GuardStatus, at: datetime) -> GuardStatus:
    """Restart the spare attempt's clock when the engine actually issued MixMonitor on it."""
    if status.state is not GuardState.WAITING_SPARE:
        return status
    return replace(status, attempt_started=at, started_seen=False, first_size=None, last_size=None)


def _after_decision(
    status: GuardStatus, event: GuardEvent
) -> tuple[GuardStatus, list[GuardCommand]]:
    if (
        status.state is GuardState.CONFIRMED
        and isinstance(event, RecordingFailed)
        and event.target is status.target
    ):
        return status, [
            RaiseAlarm(
                Severity.CRITICAL,
                f"guard:{status.uniqueid}",
                f"call {status.uniqueid}: recording failed after bridging: {event.reason}",
            )
        ]
    return status, []
