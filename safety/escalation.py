"""Escalation of safety calls: a pure core fed each person's outcomes (clock injected).

Invariants:
- Contact is a person pressing 1 ("well") or talking to a consultant. Everything else (busy,
  no answer, failure, an answer with no key, a press of 2 that reached no consultant) is no
  contact.
- Without an open case: after ``attempts`` no-contact attempts within ``window`` a
  "no-contact" case opens and a consultant call-back is asked for at once (priority);
  fewer attempts ask for a retry ``retry_after`` later. A press of 2 that reached nobody,
  or a consultant's concern mark, opens a case ("pressed-2", "concern") with a call-back too.
- With an open case: contact closes it; each call-back without contact asks for another one
  until ``callback_attempts`` are used up, then the emergency contact and the welfare officer
  are to be notified (once per case; the case stays open for a consultant to close).
- A press of 2 answered by a consultant is a case opened and closed on the spot (the timeline
  shows it).
- ``decide`` returns a new state and commands; it never reads a clock or does I/O, and the
  same events give the same commands (so an engine rebuilds its state by replaying them).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field, replace

RECIPIENTS = ("emergency_contact", "welfare_officer")


class Outcome(enum.StrEnum):
    WELL = "well"  # answered, pressed 1
    TALKED = "talked"  # a consultant talked with the person
    HELP_UNSERVED = "help-unserved"  # pressed 2 (or a personal call) and reached no consultant
    NO_KEY = "answered-no-key"  # answered, no valid key before the prompts ended
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"  # congestion, unreachable, rejected, the PBX or engine failed

    @property
    def contact(self) -> bool:
        return self in (Outcome.WELL, Outcome.TALKED)


@dataclass(frozen=True, slots=True)
class Policy:
    attempts: int = 3
    window: dt.timedelta = dt.timedelta(hours=24)
    retry_after: dt.timedelta = dt.timedelta(hours=1)
    callback_attempts: int = 2


# Events -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AttemptEnded:
    person_id: str
    kind: str  # scheduled | retry | callback
    outcome: Outcome
    at: dt.datetime
    pressed_two: bool = False  # the person asked for a consultant during the check-in


@dataclass(frozen=True, slots=True)
class ConcernMarked:
    person_id: str
    at: dt.datetime
    by: str


@dataclass(frozen=True, slots=True)
class CaseClosedByConsultant:
    person_id: str
    at: dt.datetime
    by: str


Event = AttemptEnded | ConcernMarked | CaseClosedByConsultant


# Commands ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CallAgain:
    person_id: str
    kind: str  # retry | callback
    not_before: dt.datetime


@dataclass(frozen=True, slots=True)
class OpenCase:
    person_id: str
    case_id: str
    reason: str
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class Notify:
    person_id: str
    case_id: str
    recipients: tuple[str, ...]
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class CloseCase:
    person_id: str
    case_id: str
    reason: str
    at: dt.datetime


Command = CallAgain | OpenCase | Notify | CloseCase


# State ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Case:
    id: str
    reason: str
    callbacks_without_contact: int = 0
    notified: bool = False


@dataclass(frozen=True, slots=True)
class Track:
    """One person's escalation state."""

    misses: tuple[dt.datetime, ...] = ()  # no-contact attempts since the last contact
    case: Case | None = None
    cases_opened: int = 0


@dataclass(frozen=True)
class EscalationState:
    tracks: dict[str, Track] = field(default_factory=dict)

    def track(self, person_id: str) -> Track:
        return self.tracks.get(person_id, Track())

    def with_track(self, person_id: str, track: Track) -> EscalationState:
        return EscalationState({**self.tracks, person_id: track})


def _case_id(person_id: str, track: Track) -> str:
    return f"{person_id}-e{track.cases_opened + 1}"


def _open(
    person_id: str, track: Track, reason: str, at: dt.datetime
) -> tuple[Track, list[Command]]:
    case = Case(_case_id(person_id, track), reason)
    track = replace(track, case=case, cases_opened=track.cases_opened + 1)
    return track, [OpenCase(person_id, case.id, reason, at), CallAgain(person_id, "callback", at)]


def _on_contact(track: Track, event: AttemptEnded) -> tuple[Track, list[Command]]:
    pid, at = event.person_id, event.at
    commands: list[Command] = []
    if event.pressed_two and track.case is None:
        track, commands = _open(pid, track, "pressed-2", at)
        commands = commands[:1]  # the consultant is already on the line: no call-back
    if track.case is not None:
        commands.append(CloseCase(pid, track.case.id, f"contact: {event.outcome.value}", at))
    return replace(track, misses=(), case=None), commands


def _on_case_miss(
    track: Track, case: Case, event: AttemptEnded, policy: Policy
) -> tuple[Track, list[Command]]:
    pid, at = event.person_id, event.at
    if event.kind != "callback":
        return track, []  # a scheduled call meanwhile: the case's call-backs go on
    case = replace(case, callbacks_without_contact=case.callbacks_without_contact + 1)
    if case.callbacks_without_contact < policy.callback_attempts:
        return replace(track, case=case), [CallAgain(pid, "callback", at + policy.retry_after)]
    if case.notified:
        return replace(track, case=case), []
    case = replace(case, notified=True)
    return replace(track, case=case), [Notify(pid, case.id, RECIPIENTS, at)]


def _on_attempt(track: Track, event: AttemptEnded, policy: Policy) -> tuple[Track, list[Command]]:
    pid, at = event.person_id, event.at
    if event.outcome.contact:
        return _on_contact(track, event)
    if event.outcome is Outcome.HELP_UNSERVED and track.case is None:
        return _open(pid, replace(track, misses=(*track.misses, at)), "pressed-2", at)
    misses = tuple(m for m in (*track.misses, at) if at - m < policy.window)
    track = replace(track, misses=misses)
    if track.case is not None:
        return _on_case_miss(track, track.case, event, policy)
    if len(misses) >= policy.attempts:
        return _open(pid, track, "no-contact", at)
    return track, [CallAgain(pid, "retry", at + policy.retry_after)]


def decide(
    state: EscalationState, event: Event, policy: Policy
) -> tuple[EscalationState, list[Command]]:
    track = state.track(event.person_id)
    if isinstance(event, AttemptEnded):
        track, commands = _on_attempt(track, event, policy)
    elif isinstance(event, ConcernMarked):
        if track.case is not None:
            return state, []
        track, commands = _open(event.person_id, track, "concern", event.at)
    else:
        if track.case is None:
            return state, []
        commands = [CloseCase(event.person_id, track.case.id, f"closed by {event.by}", event.at)]
        track = replace(track, case=None, misses=())
    return state.with_track(event.person_id, track), commands
