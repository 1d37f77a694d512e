"""The live ACD: runs the pure routing core against the real world.

Invariants:
- One driver owns the core's state; every event is fed in order, on the event loop, with
  ``now`` from the loop's monotonic clock, and every command is carried out (see
  :mod:`acd.core` for the contract). ``decide`` never awaits, so feeding is synchronous.
- Commands addressed to a waiting caller (offer, announcement, call-back offer, cancel) go to
  that call's ``CallTicket``; the FastAGI session serving the caller acts on them. Offers for
  calls with no session (interpreter requests, call-backs) go to a handler the composition root
  registers, which drives them over AMI.
- Every event is journaled with its time, and every decision is logged with its inputs, as
  JSON lines under ``<state>/acd/``, so any routing can be replayed and explained; an event the
  core ignored (stale, raced) is journaled too, marked ``ignored`` with the core's reason. The journal
  has its own writer thread (:mod:`acd.decisionlog`): its failure is reported (an alarm in
  the engine), never a routing stop.
- Once ``decide`` has run, its commands are always carried out (the timer re-armed): a failing
  listener is logged and the others still hear the event.
- An event the core refuses (``InvalidEvent``) is raised to the feeder, which sends that caller
  to the static fallback: nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from acd.commands import (
    AnnounceWait,
    CancelOffer,
    Command,
    ConsultantStateChanged,
    DecisionRecord,
    EventIgnored,
    OfferCall,
    OfferCallback,
    ScheduleWakeup,
)
from acd.core import decide
from acd.decisionlog import DecisionLog
from acd.events import CallArrived, ConsultantLoggedIn, Event, Tick, event_to_json
from acd.roster import load_configured
from acd.settings import AcdSettings
from acd.state import AcdState

log = logging.getLogger("dasan.acd")

CallCommand = OfferCall | AnnounceWait | OfferCallback | CancelOffer
StateListener = Callable[[ConsultantStateChanged], None]
OfferHandler = Callable[[OfferCall], None]
# Called with every event the core accepted, before its commands are carried out.
EventListener = Callable[[Event], None]


@dataclass(frozen=True)
class Transfer:
    """Where a connected call goes when its consultant's leg ends: another service's queue,
    a named consultant, or an outside number (a department, a hospital)."""

    kind: Literal["service", "consultant", "number"]
    target: str
    requested_by: str


@dataclass
class CallTicket:
    """A waiting caller's mailbox: the commands the core addressed to this call."""

    call_id: str
    inbox: asyncio.Queue[CallCommand] = field(default_factory=asyncio.Queue)
    # The consultant currently offered (ringing) or connected, and whether the answer was fed.
    consultant_id: str | None = None
    connected: bool = False
    # How the call entered the core (to re-queue it after a transfer to a service).
    arrival: CallArrived | None = None
    # Set by the consultant (CTI) before their leg is hung up: where the caller goes next.
    transfer: Transfer | None = None
    # Set when AMI saw the connected consultant's leg hang up: the conversation is over, so
    # the caller's Dial must end within moments (if not, the FastAGI link is dead).
    consultant_left: asyncio.Event = field(default_factory=asyncio.Event)


class AcdDriver:
    """Feeds the core, keeps its one timer, and routes its commands."""

    def __init__(
        self,
        settings: AcdSettings,
        log_folder: Path | None,
        *,
        state: AcdState | None = None,
    ) -> None:
        if state is None:
            catalog, roster = load_configured(settings)
            state = AcdState.new(catalog, roster, settings)
        self.state = state
        self.settings = settings
        self._tickets: dict[str, CallTicket] = {}
        self._state_listeners: list[StateListener] = []
        self._event_listeners: list[EventListener] = []
        self._offer_handlers: dict[str, OfferHandler] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._log = DecisionLog(log_folder) if log_folder is not None else None
        self.decisions = 0

    # Wiring ------------------------------------------------------------------------------
    def on_state_change(self, listener: StateListener) -> None:
        self._state_listeners.append(listener)

    def on_event(self, listener: EventListener) -> None:
        """``listener(event)`` after the core applied ``event`` and before its commands run, so
        a call's arrival is seen before the offer it causes (the CTI's view of calls)."""
        self._event_listeners.append(listener)

    def handle_offers_for(self, call_id: str, handler: OfferHandler) -> None:
        """Offers for ``call_id`` (no FastAGI session: interpreter request, call-back) go here."""
        self._offer_handlers[call_id] = handler

    def forget_offer_handler(self, call_id: str) -> None:
        self._offer_handlers.pop(call_id, None)

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def log_in_roster(self) -> None:
        """At start: everyone configured as logged in (the demo: the whole roster), ready."""
        wanted = self.settings.logged_in
        ids = list(self.state.agents) if wanted is None else list(wanted)
        for consultant_id in ids:
            self.feed(ConsultantLoggedIn(consultant_id, ready=True))
        log.info("ACD: %d consultants logged in and ready", len(ids))

    # Calls ---------------------------------------------------------------------------------
    def open_ticket(self, call_id: str) -> CallTicket:
        ticket = CallTicket(call_id)
        self._tickets[call_id] = ticket
        return ticket

    def close_ticket(self, call_id: str) -> None:
        self._tickets.pop(call_id, None)

    def ticket(self, call_id: str) -> CallTicket | None:
        return self._tickets.get(call_id)

    def tickets(self) -> list[CallTicket]:
        return list(self._tickets.values())

    def request_transfer(self, call_id: str, transfer: Transfer) -> CallTicket:
        """Mark a connected call for transfer; the caller hangs up the consultant's leg next.
        Raises LookupError when the call is not connected to a consultant here."""
        ticket = self._tickets.get(call_id)
        if ticket is None or not ticket.connected:
            raise LookupError(f"call {call_id} is not connected to a consultant")
        ticket.transfer = transfer
        return ticket

    # Feeding -------------------------------------------------------------------------------
    def feed(self, event: Event) -> list[Command]:
        """Apply one event now and carry out its commands (raises InvalidEvent, unchanged)."""
        now = self.now()
        self.state, commands = decide(self.state, event, now)
        if self._log is not None and not isinstance(event, Tick):
            record: dict[str, object] = {"kind": "event", "at": now, "event": event_to_json(event)}
            ignored = [c.reason for c in commands if isinstance(c, EventIgnored)]
            if ignored:  # it changed nothing: the trace says why, readers skip it
                record["ignored"] = "; ".join(ignored)
            self._log.write(record)
        if not isinstance(event, Tick):
            for listener in self._event_listeners:
                _call_listener(listener, event)
        for command in commands:
            self._execute(command, now)
        return commands

    def _execute(self, command: Command, now: float) -> None:
        match command:
            case OfferCall() | AnnounceWait() | OfferCallback() | CancelOffer():
                self._deliver(command)
            case ScheduleWakeup(at=at):
                self._arm(at, now)
            case ConsultantStateChanged():
                if self._log is not None:
                    self._log.write(
                        {
                            "kind": "state",
                            "at": now,
                            "consultant": command.consultant_id,
                            "state": command.state.value,
                            "reason": command.reason,
                            "call": command.call_id,
                        }
                    )
                for state_listener in self._state_listeners:
                    _call_listener(state_listener, command)
            case DecisionRecord():
                self.decisions += 1
                if self._log is not None:
                    self._log.write({"kind": "decision", **command.to_json()})
                log.info(
                    "route %s -> %s (%s, stage %d): %s",
                    command.call_id,
                    command.consultant_id,
                    command.service,
                    command.stage,
                    command.reason,
                )
            case EventIgnored(event=name, reason=reason):
                log.debug("ACD ignored %s: %s", name, reason)

    @property
    def journal(self) -> DecisionLog | None:
        return self._log

    def _deliver(self, command: CallCommand) -> None:
        if isinstance(command, OfferCall):
            handler = self._offer_handlers.get(command.call_id)
            if handler is not None:
                handler(command)
                return
        ticket = self._tickets.get(command.call_id)
        if ticket is None:
            log.warning("ACD command for a call with no session: %s", command)
            return
        if isinstance(command, OfferCall):
            ticket.consultant_id = command.consultant_id
        ticket.inbox.put_nowait(command)

    def _arm(self, at: float, now: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_at(max(at, now), self._tick)

    def _tick(self) -> None:
        self._timer = None
        self.feed(Tick())

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._log is not None:
            self._log.close()


def _call_listener(listener: Callable[[Any], None], item: object) -> None:
    try:
        listener(item)
    except Exception:  # one listener's bug must not stop routing (the timer, the others)
        log.exception("ACD listener %r failed on %s", listener, type(item).__name__)
