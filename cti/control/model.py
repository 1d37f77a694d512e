"""States, views and events of the contact center as the web edge sees them.

Invariants: views and events are frozen dataclasses holding whole current state (never
deltas), so a client applies them idempotently and in any order after a snapshot; times are
UTC-aware; states and kinds are StrEnums whose values are the wire names.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


# --- states and kinds ------------------------------------------------------------------------
class ConsultantState(enum.StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    RINGING = "ringing"
    TALKING = "talking"
    WRAP_UP = "wrap_up"
    NOT_READY = "not_ready"


class NotReadyReason(enum.StrEnum):
    """Why a consultant is not ready; the last three are set by the system or a supervisor."""

    BREAK = "break"
    MEAL = "meal"
    MEETING = "meeting"
    TRAINING = "training"
    PAPERWORK = "paperwork"
    LOGGED_IN = "logged_in"
    NO_ANSWER = "no_answer"
    SUPERVISOR = "supervisor"


class CallState(enum.StrEnum):
    IVR = "ivr"
    WAITING = "waiting"
    RINGING = "ringing"
    TALKING = "talking"
    HELD = "held"
    # An attended transfer is in progress: the citizen is held, the consultant talks to the target.
    CONSULTING = "consulting"
    ENDED = "ended"


class CallOutcome(enum.StrEnum):
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    TRANSFERRED_OUT = "transferred_out"
    CALLBACK = "callback"


class PartyKind(enum.StrEnum):
    CITIZEN = "citizen"
    CONSULTANT = "consultant"
    INTERPRETER = "interpreter"
    # An outside number brought in by the consultant (hospital, shop, another department).
    THIRD_PARTY = "third_party"
    # The person being consulted during an attended transfer.
    TRANSFER_TARGET = "transfer_target"


class PartyState(enum.StrEnum):
    DIALING = "dialing"
    CONNECTED = "connected"
    HELD = "held"


class TransferMode(enum.StrEnum):
    BLIND = "blind"
    ATTENDED = "attended"


class TargetKind(enum.StrEnum):
    CONSULTANT = "consultant"
    QUEUE = "queue"
    # An outside department or agency number.
    EXTERNAL = "external"


class SpyMode(enum.StrEnum):
    """ChanSpy modes: listen only, speak to the consultant only, or join the conversation."""

    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"


# --- views ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ConsultantView:
    consultant_id: str
    name: str
    languages: tuple[str, ...]
    state: ConsultantState
    since: datetime
    reason: NotReadyReason | None = None
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class Party:
    party_id: str
    kind: PartyKind
    state: PartyState
    # A consultant or interpreter id, or a phone number for citizens and outside parties.
    address: str
    language: str | None = None
    joined_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CallSummary:
    call_id: str
    number: str
    language: str
    queue_id: str | None
    state: CallState
    started_at: datetime
    # The consultant handling the call (the last one, once it ended); owns call control.
    consultant_id: str | None = None
    answered_at: datetime | None = None
    parties: tuple[Party, ...] = ()


@dataclass(frozen=True, slots=True)
class IvrStep:
    at: datetime
    node: str
    label: str
    # The DTMF digits or recognized words, when the step took input.
    input: str | None = None


@dataclass(frozen=True, slots=True)
class EarlierCall:
    call_id: str
    started_at: datetime
    queue_id: str | None
    outcome: CallOutcome
    consultant_id: str | None = None
    duration_s: float = 0.0


@dataclass(frozen=True, slots=True)
class CallDetails:
    """Everything the consultant's screen pop shows."""

    call: CallSummary
    ivr_journey: tuple[IvrStep, ...] = ()
    earlier_calls: tuple[EarlierCall, ...] = ()
    # The citizen called with video (the IVR tagged the call channel=video): only then can a
    # sign-language interpreter join (``add_interpreter(..., "sign")``).
    video: bool = False


@dataclass(frozen=True, slots=True)
class WaitingCall:
    call_id: str
    number: str
    language: str
    queue_id: str
    enqueued_at: datetime
    wait_s: float
    priority: int = 0


@dataclass(frozen=True, slots=True)
class QueueStats:
    queue_id: str
    name: str
    language: str
    waiting: int
    longest_wait_s: float
    # Today's fraction of offered calls answered within the target; None before the first call.
    service_level: float | None
    service_level_target_s: int
    answered: int
    abandoned: int
    as_of: datetime


@dataclass(frozen=True, slots=True)
class ConsultantStats:
    """Today's figures for one consultant."""

    consultant_id: str
    answered: int
    transferred: int
    talk_s: float
    wrap_up_s: float
    ready_s: float
    not_ready_s: float
    average_handle_s: float | None


@dataclass(frozen=True, slots=True)
class CenterSample:
    """One point of the wallboard's last-hour graph."""

    at: datetime
    waiting: int
    talking: int
    ready: int
    not_ready: int


@dataclass(frozen=True, slots=True)
class TransferTarget:
    kind: TargetKind
    # A consultant id, a queue id, or a dialable outside number.
    value: str


@dataclass(frozen=True, slots=True)
class SpySession:
    spy_id: str
    supervisor_id: str
    consultant_id: str
    mode: SpyMode
    device: str
    started_at: datetime


# --- events -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ConsultantChanged:
    consultant: ConsultantView


@dataclass(frozen=True, slots=True)
class CallChanged:
    call: CallSummary


@dataclass(frozen=True, slots=True)
class QueueChanged:
    queue: QueueStats


@dataclass(frozen=True, slots=True)
class SpyChanged:
    session: SpySession
    active: bool


@dataclass(frozen=True, slots=True)
class SuggestedCase:
    case_id: int
    title: str
    score: float


@dataclass(frozen=True, slots=True)
class SuggestionsChanged:
    """Knowledge cases for what was just said on a call (agent assist), for its consultant."""

    call_id: str
    consultant_id: str
    heard: str
    cases: tuple[SuggestedCase, ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class Resync:
    """State may have changed without events (AMI reconnect, slow subscriber): refetch."""

    reason: str


CenterEvent = (
    ConsultantChanged | CallChanged | QueueChanged | SpyChanged | SuggestionsChanged | Resync
)
