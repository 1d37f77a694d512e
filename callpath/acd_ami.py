"""What AMI tells the ACD: a consultant answered, a consultant placed a call of their own.

Invariants:
- ``OfferAccepted`` is fed when Asterisk reports the consultant's answer (DialEnd ANSWER for
  the citizen channel we are dialing from), once per offer; the FastAGI side reports it too if
  this event was missed, never twice (``ticket.connected``).
- The hangup of a connected consultant's leg (the ``DestUniqueid`` of that DialEnd) is told
  to the call's ticket (``consultant_left``): the caller's side knows the conversation ended
  even if its FastAGI link never says so.
- A consultant who places a call themselves (a channel of theirs in ``from-consultants``) is
  set not ready ("outbound") while it lasts, and ready again afterwards if we made them not
  ready; consultants already busy with an ACD call are left alone.
- Built from an AMI event source (the engine passes the live model's feed, so the bridge reads
  the engine's one AMI subscription), the ACD driver and the call log's hook, never the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from acd.driver import AcdDriver, CallTicket
from acd.errors import InvalidEvent
from acd.events import ConsultantNotReady, ConsultantReady, OfferAccepted
from acd.model import ConsultantState
from callpath.ports import ConsultantConnected
from cti.ami.channels import consultant_of
from cti.ami.client import AmiEventSource
from cti.ami.messages import AmiEvent

log = logging.getLogger("dasan.acd.ami")
OUTBOUND = "outbound"


class AcdAmiBridge:
    def __init__(
        self,
        events: AmiEventSource,
        acd: AcdDriver,
        on_connected: ConsultantConnected,
        *,
        before_event: Callable[[], None] = lambda: None,
    ) -> None:
        """``before_event`` runs before each event (test-only fault injection may raise)."""
        self._events = events
        self._acd = acd
        self._on_connected = on_connected
        self._before_event = before_event
        # Channels of consultants' own calls that made them not ready: uniqueid -> consultant.
        self._own_calls: dict[str, str] = {}
        # Consultant legs of connected ACD calls: leg uniqueid -> the call's ticket.
        self._legs: dict[str, CallTicket] = {}

    async def run(self) -> None:
        subscription = self._events.subscribe(name="acd")
        try:
            async for item in subscription:
                if isinstance(item, AmiEvent):
                    self._before_event()
                    await self._on_event(item)
        finally:
            subscription.close()

    async def _on_event(self, event: AmiEvent) -> None:
        if event.name == "DialEnd" and event.get("DialStatus") == "ANSWER":
            await self._answered(event)
        elif event.name == "Newchannel" and event.get("Context") == "from-consultants":
            self._own_call_started(event)
        elif event.name == "Hangup" and event.uniqueid in self._own_calls:
            self._own_call_ended(event)
        elif event.name == "Hangup" and event.uniqueid in self._legs:
            self._legs.pop(event.uniqueid).consultant_left.set()

    async def _answered(self, event: AmiEvent) -> None:
        driver = self._acd
        ticket = driver.ticket(event.uniqueid)
        consultant = consultant_of(event.get("DestChannel"))
        if ticket is None or consultant is None or ticket.consultant_id != consultant:
            return
        leg = event.get("DestUniqueid")
        if leg:
            ticket.consultant_left.clear()  # a new conversation of this call
            self._legs[leg] = ticket
        if ticket.connected:
            return
        ticket.connected = True
        try:
            driver.feed(OfferAccepted(ticket.call_id, consultant))
        except InvalidEvent as exc:
            log.warning("answer of %s for %s not accepted: %s", consultant, ticket.call_id, exc)
            return
        await self._on_connected(ticket.call_id, consultant)

    def _own_call_started(self, event: AmiEvent) -> None:
        consultant = consultant_of(event.channel)
        if consultant is None:
            return
        state = self._acd.state
        if consultant not in state.agents or state.consultant_state(consultant) not in (
            ConsultantState.READY,
            ConsultantState.WRAP_UP,
        ):
            return
        self._own_calls[event.uniqueid] = consultant
        self._acd.feed(ConsultantNotReady(consultant, OUTBOUND))

    def _own_call_ended(self, event: AmiEvent) -> None:
        consultant = self._own_calls.pop(event.uniqueid)
        agent = self._acd.state.agents.get(consultant)
        if (
            agent is not None
            and agent.state is ConsultantState.NOT_READY
            and agent.reason == OUTBOUND
        ):
            self._acd.feed(ConsultantReady(consultant))
