"""What the ACD tells the center: calls arriving, ringing, answered, ended; consultant states.

Registered on the driver (``on_event`` and ``on_state_change``), so it runs synchronously
inside ``driver.feed``: it never awaits and never feeds the driver itself (work that needs
I/O is spawned on the core).

Invariants:
- Interpreter requests (ids in ``book.requests``) are the parties module's business; here
  they only show up as the interpreter's call id being the citizen's.
- A ``CallEnded`` while a transfer is pending on the ticket means the consultant's leg left
  for the transfer, not that the call ended; a ``CallEnded`` for a handed-over call (an
  attended transfer completed) means only that the first consultant left.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from acd.commands import ConsultantStateChanged
from acd.events import (
    CallAbandoned,
    CallArrived,
    CallEnded,
    Event,
    OfferAccepted,
    OfferRejected,
    OfferTimedOut,
)
from acd.model import ConsultantState as AcdState
from cti.center.core import CenterCore
from cti.center.model import CallRec
from cti.control import CallOutcome, CallState, ConsultantState, PartyKind, PartyState

log = logging.getLogger("dasan.cti.center")


class AcdFeed:
    def __init__(self, core: CenterCore, on_request_event: Callable[[Event], None]) -> None:
        self._core = core
        self._on_request_event = on_request_event

    def attach(self) -> None:
        self._core.driver.on_event(self.on_event)
        self._core.driver.on_state_change(self.on_state)

    # --- consultants ------------------------------------------------------------------------
    def on_state(self, change: ConsultantStateChanged) -> None:
        core = self._core
        call_id = change.call_id
        if call_id is not None and call_id in core.book.requests:
            call_id = core.book.requests[call_id]
        core.publish_change(
            core.board.acd_changed(change.consultant_id, change.state, change.reason, call_id)
        )
        if change.state is AcdState.RINGING and change.call_id == call_id and call_id:
            core.publish_call(core.book.ringing(call_id, change.consultant_id))

    # --- calls ------------------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        call_id = getattr(event, "call_id", None)
        if call_id is None:
            return
        if call_id in self._core.book.requests:
            self._on_request_event(event)
            return
        match event:
            case CallArrived():
                self._arrived(event)
            case OfferAccepted():
                self._answered(event)
            case OfferRejected() | OfferTimedOut():
                call = self._core.book.offer_failed(event.call_id)
                self._core.publish_call(call)
            case CallAbandoned():
                self._gone(event.call_id)
            case CallEnded():
                self._ended(event.call_id)

    def _arrived(self, event: CallArrived) -> None:
        core = self._core
        call = core.book.arrived(event.call_id, event.language.value, event.service)
        core.publish_call(call)
        core.publish_queue(event.service)
        # The number the desktop shows is the call log's (stored encrypted), not the SIP From.
        core.spawn(f"number-{call.call_id}", self._fetch_number(call.call_id))

    async def _fetch_number(self, call_id: str) -> None:
        number = await self._core.calls.caller_number(call_id)
        if number:
            self._core.publish_call(self._core.book.set_number(call_id, number))

    def _answered(self, event: OfferAccepted) -> None:
        core = self._core
        found = core.book.answered(event.call_id, event.consultant_id)
        if found is None:
            return
        call, waited = found
        core.ledger.answered(call.queue_id, event.consultant_id, waited)
        core.publish_call(call)
        core.publish_queue(call.queue_id)

    def _gone(self, call_id: str) -> None:
        core = self._core
        call = core.book.live(call_id)
        if call is None:
            return
        if call.state not in (CallState.WAITING, CallState.RINGING, CallState.IVR):
            self._ended(call_id)
            return
        core.ledger.abandoned(call.queue_id)
        core.end_call(call_id, CallOutcome.ABANDONED)
        core.publish_queue(call.queue_id)

    def _ended(self, call_id: str) -> None:
        core = self._core
        call = core.book.live(call_id)
        if call is None:
            return
        if call.state in (CallState.WAITING, CallState.RINGING):
            self._gone(call_id)
            return
        if call.handover_to is not None:
            self._handed_over(call)
            return
        ticket = core.driver.ticket(call_id)
        transfer = ticket.transfer if ticket is not None else None
        if transfer is not None and call.consultant_id is not None:
            self._transferred(call, transfer.kind, transfer.target)
            return
        outcome = CallOutcome.ANSWERED if call.answered_at else CallOutcome.ABANDONED
        core.end_call(call_id, outcome)

    def _transferred(self, call: CallRec, kind: str, target: str) -> None:
        """The consultant's leg left for a blind transfer; waiting.py carries it out."""
        core = self._core
        if call.consultant_id is not None:
            core.ledger.transferred(call.consultant_id)
        core.book.consultant_left(call)
        log.info(
            "call %s: %s transferred it to %s %s", call.call_id, call.consultant_id, kind, target
        )
        if kind == "number":
            core.end_call(call.call_id, CallOutcome.TRANSFERRED_OUT)
            return
        if kind == "consultant":
            call.state, call.consultant_id = CallState.RINGING, target
            core.publish_change(core.board.override(target, ConsultantState.RINGING, call.call_id))
        else:
            call.state, call.consultant_id, call.queue_id = CallState.WAITING, None, target
        core.book.set_citizen_state(call, PartyState.CONNECTED)
        core.publish_call(call)

    def _handed_over(self, call: CallRec) -> None:
        """An attended transfer completed: the first consultant left, the target has the call."""
        core = self._core
        if call.consultant_id is not None:
            core.ledger.transferred(call.consultant_id)
        target, call.handover_to = call.handover_to, None
        core.book.consultant_left(call)
        if target is None or target not in core.board:
            core.end_call(call.call_id, CallOutcome.TRANSFERRED_OUT)
            return
        call.consultant_id = target
        target_party = call.party(PartyKind.TRANSFER_TARGET)
        if target_party is not None:
            call.parties[target_party.party_id] = replace(target_party, kind=PartyKind.CONSULTANT)
        core.book.refresh_state(call)
        core.publish_call(call)
