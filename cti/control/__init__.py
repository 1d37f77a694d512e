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

from collections.abc import Sequence
from typing import Protocol

from common.principal import Principal
from cti.control.errors import (
    CenterError,
    InvalidState,
    NoInterpreterAvailable,
    NotAllowed,
    NotFound,
    Unavailable,
    VideoCallRequired,
)
from cti.control.hub import EventHub, EventStream, Subscription
from cti.control.model import (
    CallChanged,
    CallDetails,
    CallOutcome,
    CallState,
    CallSummary,
    CenterEvent,
    CenterSample,
    ConsultantChanged,
    ConsultantState,
    ConsultantStats,
    ConsultantView,
    EarlierCall,
    IvrStep,
    NotReadyReason,
    Party,
    PartyKind,
    PartyState,
    QueueChanged,
    QueueStats,
    Resync,
    SpyChanged,
    SpyMode,
    SpySession,
    SuggestedCase,
    SuggestionsChanged,
    TargetKind,
    TransferMode,
    TransferTarget,
    WaitingCall,
)

__all__ = [
    "CallChanged",
    "CallDetails",
    "CallOutcome",
    "CallState",
    "CallSummary",
    "CenterError",
    "CenterEvent",
    "CenterSample",
    "ConsultantChanged",
    "ConsultantState",
    "ConsultantStats",
    "ConsultantView",
    "ContactCenter",
    "EarlierCall",
    "EventHub",
    "EventStream",
    "InvalidState",
    "IvrStep",
    "NoInterpreterAvailable",
    "NotAllowed",
    "NotFound",
    "NotReadyReason",
    "Party",
    "PartyKind",
    "PartyState",
    "QueueChanged",
    "QueueStats",
    "Resync",
    "SpyChanged",
    "SpyMode",
    "SpySession",
    "Subscription",
    "SuggestedCase",
    "SuggestionsChanged",
    "TargetKind",
    "TransferMode",
    "TransferTarget",
    "Unavailable",
    "VideoCallRequired",
    "WaitingCall",
]


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
