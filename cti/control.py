"""The contact center as the web edge sees it: one ``ContactCenter`` protocol, its views and errors.

The web layer (cti/web/) calls only this interface; the composition root implements it by
wiring the ACD driver, the AMI client and storage. ``cti.fake_center`` implements it in memory
for the unit tier.

Invariants:
- Every action names the acting ``Principal`` (for the audit log); authorization (role and
  ownership) is decided at the web edge before the call, but an implementation may still refuse
  with ``NotAllowed`` for domain reasons.
- Views and events are frozen dataclasses holding whole current state (never deltas), so a
  client applies them idempotently and in any order after a snapshot; times are UTC-aware.
- Errors carry no HTTP codes: the web edge maps each class once.
- ``subscribe()`` delivers every change published after it returns (so "subscribe, then read a
  snapshot" loses nothing); a subscriber that falls behind gets ``Resync`` (refetch
  everything) instead of silently missing events. ``EventHub`` implements exactly that.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, Self

from dasan.principal import Principal


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
class Resync:
    """State may have changed without events (AMI reconnect, slow subscriber): refetch."""

    reason: str


CenterEvent = ConsultantChanged | CallChanged | QueueChanged | SpyChanged | Resync


# --- errors -----------------------------------------------------------------------------------
class CenterError(Exception):
    """Base of the domain errors; ``code`` is a stable machine-readable name."""

    code = "center_error"


class NotFound(CenterError):
    code = "not_found"

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"no {kind} {ident!r}")
        self.kind = kind
        self.ident = ident


class NotAllowed(CenterError):
    code = "not_allowed"


class InvalidState(CenterError):
    """The action does not fit the current state (e.g. ready while talking)."""

    code = "invalid_state"


class NoInterpreterAvailable(CenterError):
    """No interpreter for the language is free now; the consultant may retry."""

    code = "no_interpreter_available"

    def __init__(self, language: str) -> None:
        super().__init__(f"no interpreter for {language!r} is free now; try again shortly")
        self.language = language


class Unavailable(CenterError):
    """The PBX or another dependency cannot take the action now (e.g. AMI reconnecting)."""

    code = "unavailable"


# --- event fan-out --------------------------------------------------------------------------
class EventStream(Protocol):
    """An async iterator of events that must be closed (``aclose`` or ``async with``)."""

    def __aiter__(self) -> Self: ...

    async def __anext__(self) -> CenterEvent: ...

    async def aclose(self) -> None: ...


class Subscription:
    """One subscriber's bounded queue; registered with its hub from construction."""

    def __init__(self, hub: EventHub, maxsize: int) -> None:
        self._hub = hub
        self._queue: asyncio.Queue[CenterEvent] = asyncio.Queue(maxsize)
        self._closed = False

    def offer(self, event: CenterEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            # Everything queued is now stale: replace it with one Resync.
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(Resync("subscriber fell behind"))

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> CenterEvent:
        if self._closed:
            raise StopAsyncIteration
        return await self._queue.get()

    async def aclose(self) -> None:
        self._closed = True
        self._hub.remove(self)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class EventHub:
    """Fan-out of center events to subscribers; ``publish`` never blocks."""

    def __init__(self, maxsize: int = 1000) -> None:
        self._maxsize = maxsize
        self._subscribers: list[Subscription] = []

    def subscribe(self) -> Subscription:
        subscription = Subscription(self, self._maxsize)
        self._subscribers.append(subscription)
        return subscription

    def remove(self, subscription: Subscription) -> None:
        if subscription in self._subscribers:
            self._subscribers.remove(subscription)

    def publish(self, event: CenterEvent) -> None:
        for subscription in tuple(self._subscribers):
            subscription.offer(event)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)


# --- the interface ----------------------------------------------------------------------------
class ContactCenter(Protocol):
    """What the web edge may ask of the contact center. All methods may raise ``CenterError``.

    Consultant actions return the consultant's new view; call actions the call's new summary.
    A supervisor sets a consultant's state through the same consultant actions.
    """

    async def log_in(self, by: Principal, consultant_id: str) -> ConsultantView:
        """Logged out -> not ready (reason ``logged_in``)."""

    async def log_out(self, by: Principal, consultant_id: str) -> ConsultantView:
        """Any state without a call -> logged out; ``InvalidState`` while on a call."""

    async def set_ready(self, by: Principal, consultant_id: str) -> ConsultantView: ...

    async def set_not_ready(
        self, by: Principal, consultant_id: str, reason: NotReadyReason
    ) -> ConsultantView: ...

    async def finish_wrap_up(self, by: Principal, consultant_id: str) -> ConsultantView:
        """Wrap-up -> ready; ``InvalidState`` in any other state."""

    async def hold(self, by: Principal, call_id: str) -> CallSummary: ...

    async def unhold(self, by: Principal, call_id: str) -> CallSummary: ...

    async def transfer(
        self, by: Principal, call_id: str, target: TransferTarget, mode: TransferMode
    ) -> CallSummary:
        """Blind: the call leaves the consultant at once. Attended: the consultant talks to
        the target first (state ``consulting``) and then completes or cancels; a queue is not a
        person, so an attended transfer to a queue raises ``InvalidState``."""

    async def complete_transfer(self, by: Principal, call_id: str) -> CallSummary: ...

    async def cancel_transfer(self, by: Principal, call_id: str) -> CallSummary: ...

    async def add_interpreter(self, by: Principal, call_id: str, language: str) -> Party:
        """Bring an interpreter for ``language`` in as a third party (all three hear each
        other; the recording stays continuous); ``NoInterpreterAvailable`` when none is free."""

    async def add_third_party(self, by: Principal, call_id: str, number: str) -> Party:
        """The reverse case: bring an outside number in, the consultant interprets."""

    async def drop_party(self, by: Principal, call_id: str, party_id: str) -> CallSummary:
        """Release an interpreter or third party; citizen and consultant stay connected."""

    async def hang_up(self, by: Principal, call_id: str) -> CallSummary: ...

    async def start_spy(
        self, by: Principal, consultant_id: str, mode: SpyMode, device: str | None
    ) -> SpySession:
        """ChanSpy on the consultant from ``device`` (None: the supervisor's own phone)."""

    async def stop_spy(self, by: Principal, spy_id: str) -> None: ...

    async def consultants(self) -> Sequence[ConsultantView]: ...

    async def consultant(self, consultant_id: str) -> ConsultantView: ...

    async def queues(self) -> Sequence[QueueStats]: ...

    async def waiting_calls(self, queue_id: str | None = None) -> Sequence[WaitingCall]:
        """Oldest first; all queues when ``queue_id`` is None."""

    async def consultant_stats(
        self, consultant_id: str | None = None
    ) -> Sequence[ConsultantStats]: ...

    async def live_calls(self) -> Sequence[CallSummary]: ...

    async def call(self, call_id: str) -> CallDetails:
        """A live or recently ended call with its IVR journey and the caller's earlier calls."""

    async def timeline(self, minutes: int) -> Sequence[CenterSample]:
        """Samples of the last ``minutes``, oldest first (about one a minute)."""

    def subscribe(self) -> EventStream:
        """Change events published from now on; closing the stream unsubscribes."""
