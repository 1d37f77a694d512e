"""Commands the routing core emits: what the driver must do (imperative, immutable).

Invariants:
- An ``OfferCall`` names a consultant who was READY an instant before and is RINGING now; the
  core never emits a second ``OfferCall`` for that consultant until the first is settled.
- Every ``OfferCall`` is preceded, in the same command list, by the ``DecisionRecord`` that
  explains it; records serialize to JSON with :meth:`DecisionRecord.to_json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from acd.model import ConsultantState, Language


@dataclass(frozen=True, slots=True)
class OfferCall:
    """Ring ``consultant_id`` for ``call_id`` (stop the caller's music first), with a ring
    timeout of ``ring_timeout_s``; report OfferAccepted / OfferRejected / OfferTimedOut.

    ``interpreter_language`` set: bridge an interpreter of that language as a third party.
    ``callback_number`` set: the caller is on virtual hold: call them back at that number
    first (the consultant is reserved meanwhile), report CallbackAnswered or CallbackFailed,
    then ring the consultant as above.
    """

    call_id: str
    consultant_id: str
    ring_timeout_s: float
    interpreter_language: Language | None = None
    callback_number: str | None = None


@dataclass(frozen=True, slots=True)
class CancelOffer:
    """Stop ringing ``consultant_id`` for ``call_id`` if still ringing (the caller hung up or
    the consultant logged out); the core has already settled the offer."""

    call_id: str
    consultant_id: str


@dataclass(frozen=True, slots=True)
class ScheduleWakeup:
    """Feed ``Tick`` at time ``at`` (same clock as ``now``); supersedes any earlier request."""

    at: float


@dataclass(frozen=True, slots=True)
class AnnounceWait:
    """Tell the waiting caller their position (1 = next) and the estimated wait."""

    call_id: str
    position: int
    estimated_wait_s: float


@dataclass(frozen=True, slots=True)
class OfferCallback:
    """Offer the waiting caller a call-back that keeps their place; on acceptance feed
    ``CallbackAccepted``. Offered at most once per call."""

    call_id: str
    estimated_wait_s: float


@dataclass(frozen=True, slots=True)
class ConsultantStateChanged:
    """Publish a consultant's new ACD state (wallboard, desktop, statistics)."""

    consultant_id: str
    state: ConsultantState
    reason: str | None = None
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class EventIgnored:
    """An event that changed nothing (stale or out of order); log it, do nothing else."""

    event: str
    reason: str


@dataclass(frozen=True, slots=True)
class ConsultantCandidate:
    consultant_id: str
    stage: int  # index of the overflow stage that made the consultant eligible
    proficiency: int
    idle_s: float
    kind: str  # "skill", "overflow" or "interpreter"


@dataclass(frozen=True, slots=True)
class CallCandidate:
    call_id: str
    service: str
    language: Language
    priority: int
    waited_s: float
    behind_target_s: float  # waited minus the service's target; positive = late
    best_consultant: str | None  # None: nobody eligible is free


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One routing decision with its inputs, enough to explain and replay it."""

    at: float
    trigger: str
    call_id: str
    consultant_id: str
    service: str
    language: Language
    stage: int
    reason: str
    consultants: tuple[ConsultantCandidate, ...]
    calls: tuple[CallCandidate, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "trigger": self.trigger,
            "call_id": self.call_id,
            "consultant_id": self.consultant_id,
            "service": self.service,
            "language": self.language.value,
            "stage": self.stage,
            "reason": self.reason,
            "consultants": [
                {
                    "consultant_id": c.consultant_id,
                    "stage": c.stage,
                    "proficiency": c.proficiency,
                    "idle_s": round(c.idle_s, 3),
                    "kind": c.kind,
                }
                for c in self.consultants
            ],
            "calls": [
                {
                    "call_id": c.call_id,
                    "service": c.service,
                    "language": c.language.value,
                    "priority": c.priority,
                    "waited_s": round(c.waited_s, 3),
                    "behind_target_s": round(c.behind_target_s, 3),
                    "best_consultant": c.best_consultant,
                }
                for c in self.calls
            ],
        }


Command = (
    OfferCall
    | CancelOffer
    | ScheduleWakeup
    | AnnounceWait
    | OfferCallback
    | ConsultantStateChanged
    | EventIgnored
    | DecisionRecord
)
