"""What AMI tells the ACD: a consultant answered, a consultant placed a call of their own.

Invariants:
- ``OfferAccepted`` is fed when Asterisk reports the consultant's answer (DialEnd ANSWER for
  the citizen channel we are dialing from), once per offer; the FastAGI side reports it too if
  this event was missed, never twice (``ticket.connected``).
- A consultant who places a call themselves (a channel of theirs in ``from-consultants``) is
  set not ready ("outbound") while it lasts, and ready again afterwards if we made them not
  ready; consultants already busy with an ACD call are left alone.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from acd.errors import InvalidEvent
from acd.events import ConsultantNotReady, ConsultantReady, OfferAccepted
from acd.model import ConsultantState
from cti.ami.messages import AmiEvent

if TYPE_CHECKING:
    from dasan.app import Engine

log = logging.getLogger("dasan.acd.ami")
_CONSULTANT_CHANNEL = re.compile(r"^PJSIP/(c\d{4})-")
OUTBOUND = "outbound"


class AcdAmiBridge:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # Channels of consultants' own calls that made them not ready: uniqueid -> consultant.
        self._own_calls: dict[str, str] = {}
        self._faults = engine.faults

    async def run(self) -> None:
        subscription = self._engine.ami.subscribe(name="acd")
        try:
            async for item in subscription:
                if isinstance(item, AmiEvent):
                    self._faults.maybe_crash_ami_bridge()
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

    async def _answered(self, event: AmiEvent) -> None:
        driver = self._engine.acd
        ticket = driver.ticket(event.uniqueid)
        match = _CONSULTANT_CHANNEL.match(event.get("DestChannel"))
        if ticket is None or match is None or ticket.connected:
            return
        consultant = match.group(1)
        if ticket.consultant_id != consultant:
            return
        ticket.connected = True
        try:
            driver.feed(OfferAccepted(ticket.call_id, consultant))
        except InvalidEvent as exc:
            log.warning("answer of %s for %s not accepted: %s", consultant, ticket.call_id, exc)
            return
        await self._engine.consultant_connected(ticket.call_id, consultant)

    def _own_call_started(self, event: AmiEvent) -> None:
        match = _CONSULTANT_CHANNEL.match(event.channel)
        if match is None:
            return
        consultant = match.group(1)
        state = self._engine.acd.state
        if consultant not in state.agents or state.consultant_state(consultant) not in (
            ConsultantState.READY,
            ConsultantState.WRAP_UP,
        ):
            return
        self._own_calls[event.uniqueid] = consultant
        self._engine.acd.feed(ConsultantNotReady(consultant, OUTBOUND))

    def _own_call_ended(self, event: AmiEvent) -> None:
        consultant = self._own_calls.pop(event.uniqueid)
        agent = self._engine.acd.state.agents.get(consultant)
        if (
            agent is not None
            and agent.state is ConsultantState.NOT_READY
            and agent.reason == OUTBOUND
        ):
            self._engine.acd.feed(ConsultantReady(consultant))
