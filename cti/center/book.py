"""``CallBook``: what the center knows about each call, its parties and its channels (pure).

Facts come in as method calls (from the ACD's events, from AMI, from the center's own
actions); each returns the call whose summary changed (or None), for the caller to publish.

Invariants:
- No I/O and no clock of its own: times come from the injected ``clock``.
- Every channel uniqueid maps to at most one call (``call_of``); a call that ends forgets
  its channels, so a late event about one of them changes nothing.
- A live call has its citizen as a party (while the citizen is on the line); at most one
  consultant party; helpers are parties only while dialing or connected.
- Ended calls are kept (up to ``keep_ended``, oldest dropped first) so a screen pop or a
  late request about a call that just ended still finds it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime

from cti.center.model import CallRec, Helper, HelperKind, Leg
from cti.control import (
    CallOutcome,
    CallState,
    CallSummary,
    InvalidState,
    NotFound,
    Party,
    PartyKind,
    PartyState,
    Unavailable,
)

Clock = Callable[[], datetime]
LIVE = frozenset({CallState.TALKING, CallState.HELD, CallState.CONSULTING})


class CallBook:
    def __init__(self, clock: Clock, keep_ended: int = 500) -> None:
        self._clock = clock
        self._keep_ended = keep_ended
        self._calls: dict[str, CallRec] = {}
        self._ended: OrderedDict[str, CallRec] = OrderedDict()
        self._channels: dict[str, str] = {}  # uniqueid -> call id
        self.helpers: dict[str, Helper] = {}  # uniqueid -> helper (while in a live call)
        # Interpreter request id -> call id; kept by the parties module until the ACD is done.
        self.requests: dict[str, str] = {}

    # --- lookups ---------------------------------------------------------------------------
    def get(self, call_id: str) -> CallRec:
        call = self._calls.get(call_id) or self._ended.get(call_id)
        if call is None:
            raise NotFound("call", call_id)
        return call

    def live(self, call_id: str) -> CallRec | None:
        return self._calls.get(call_id)

    def connected(self, call_id: str, states: Iterable[CallState]) -> CallRec:
        """The live call in one of ``states`` with its citizen's channel known, for an action
        on it; else NotFound (unknown id), InvalidState (ended or another state) or
        Unavailable (the citizen's channel not seen yet)."""
        call = self.live(call_id)
        if call is None:
            self.get(call_id)  # NotFound for unknown ids
            raise InvalidState(f"call {call_id} has ended")
        if call.state not in states:
            raise InvalidState(f"call {call_id} is {call.state.value}")
        if call.citizen is None:
            raise Unavailable(f"the citizen's channel of call {call_id} is not known yet")
        return call

    def live_calls(self) -> Iterable[CallRec]:
        return self._calls.values()

    def call_of(self, uniqueid: str) -> CallRec | None:
        call_id = self._channels.get(uniqueid)
        return self._calls.get(call_id) if call_id is not None else None

    def call_of_consultant(self, consultant_id: str) -> CallRec | None:
        """The live call a consultant handles or is ringing for."""
        return next((c for c in self._calls.values() if c.consultant_id == consultant_id), None)

    def summary(self, call: CallRec) -> CallSummary:
        return CallSummary(
            call_id=call.call_id,
            number=call.number,
            language=call.language,
            queue_id=call.queue_id,
            state=call.state,
            started_at=call.started_at,
            consultant_id=call.consultant_id,
            answered_at=call.answered_at,
            parties=tuple(call.parties.values()),
        )

    # --- the citizen's side -----------------------------------------------------------------
    def citizen_channel(self, leg: Leg, number: str, language: str) -> CallRec:
        """A citizen's channel entered the 120 line: the call exists from now (in the IVR)."""
        call = self._calls.get(leg.uniqueid)
        if call is None:
            call = CallRec(leg.uniqueid, number, language, self._clock())
            self._calls[call.call_id] = call
        self.bind_citizen(call, leg)
        return call

    def bind_citizen(self, call: CallRec, leg: Leg) -> None:
        call.citizen = leg
        self._channels[leg.uniqueid] = call.call_id
        if call.party(PartyKind.CITIZEN) is None:
            self._add_party(call, PartyKind.CITIZEN, call.number or leg.name, call.language)

    def set_number(self, call_id: str, number: str) -> CallRec | None:
        call = self._calls.get(call_id)
        if call is None or call.number == number:
            return None
        call.number = number
        citizen = call.party(PartyKind.CITIZEN)
        if citizen is not None:
            call.parties[citizen.party_id] = replace(citizen, address=number)
        return call

    # --- the ACD's view of the call ---------------------------------------------------------
    def arrived(self, call_id: str, language: str, queue_id: str) -> CallRec:
        """Waiting in ``queue_id`` (first arrival, or back in a queue after a transfer)."""
        now = self._clock()
        call = self._calls.get(call_id) or self._ended.pop(call_id, None)
        if call is None:
            call = CallRec(call_id, "", language, now)
        self._calls[call_id] = call
        call.language, call.queue_id, call.enqueued_at = language, queue_id, now
        call.state, call.consultant_id, call.agent = CallState.WAITING, None, None
        call.ended_at = call.outcome = call.transfer = call.handover_to = None
        call.held, call.consult = False, None
        citizen = call.party(PartyKind.CITIZEN)
        call.parties = {citizen.party_id: citizen} if citizen else {}
        if citizen is None:
            self._add_party(call, PartyKind.CITIZEN, call.number, language)
        return call

    def ringing(self, call_id: str, consultant_id: str) -> CallRec | None:
        call = self._calls.get(call_id)
        if call is None or call.state is CallState.ENDED:
            return None
        call.state, call.consultant_id = CallState.RINGING, consultant_id
        return call

    def offer_failed(self, call_id: str) -> CallRec | None:
        call = self._calls.get(call_id)
        if call is None or call.state is not CallState.RINGING:
            return None
        call.state, call.consultant_id, call.agent = CallState.WAITING, None, None
        return call

    def answered(self, call_id: str, consultant_id: str) -> tuple[CallRec, float] | None:
        """The consultant answered; returns the call and how long it waited in its queue."""
        call = self._calls.get(call_id)
        if call is None:
            return None
        now = self._clock()
        waited = (now - call.enqueued_at).total_seconds() if call.enqueued_at else 0.0
        call.state, call.consultant_id = CallState.TALKING, consultant_id
        call.answered_at = call.answered_at or now
        for party in [p for p in call.parties.values() if p.kind is PartyKind.CONSULTANT]:
            del call.parties[party.party_id]
        self._add_party(call, PartyKind.CONSULTANT, consultant_id, None)
        return call, waited

    def consultant_left(self, call: CallRec) -> None:
        """The handling consultant's leg is gone (transfer or handover); the call goes on."""
        for party in [p for p in call.parties.values() if p.kind is PartyKind.CONSULTANT]:
            del call.parties[party.party_id]
        if call.agent is not None:
            self._channels.pop(call.agent.uniqueid, None)
        call.agent, call.held = None, False

    def ended(self, call_id: str, outcome: CallOutcome) -> CallRec | None:
        call = self._calls.pop(call_id, None)
        if call is None:
            return None
        call.state, call.outcome, call.ended_at = CallState.ENDED, outcome, self._clock()
        call.parties, call.held, call.consult = {}, False, None
        for uid in [u for u, cid in self._channels.items() if cid == call_id]:
            del self._channels[uid]
            self.helpers.pop(uid, None)
        self._ended[call_id] = call
        while len(self._ended) > self._keep_ended:
            self._ended.popitem(last=False)
        return call

    # --- legs and helpers -------------------------------------------------------------------
    def bind_agent(self, call: CallRec, leg: Leg) -> None:
        if call.agent is not None:
            self._channels.pop(call.agent.uniqueid, None)
        call.agent = leg
        self._channels[leg.uniqueid] = call.call_id

    def bind_channel(self, call: CallRec, uniqueid: str) -> None:
        self._channels[uniqueid] = call.call_id

    def add_helper(
        self, call: CallRec, helper: Helper, kind: PartyKind | None, address: str, lang: str | None
    ) -> Party | None:
        """Register a channel the center is bringing in; a party (dialing) unless music."""
        party = None
        if kind is not None:
            party = self._add_party(call, kind, address, lang, PartyState.DIALING)
            helper.party_id = party.party_id
        self.helpers[helper.uniqueid] = helper
        self._channels[helper.uniqueid] = call.call_id
        return party

    def add_party(self, call: CallRec, kind: PartyKind, address: str, state: PartyState) -> Party:
        return self._add_party(call, kind, address, None, state)

    def helper_connected(self, uniqueid: str, name: str | None) -> CallRec | None:
        helper = self.helpers.get(uniqueid)
        call = self.call_of(uniqueid)
        if helper is None or call is None or helper.connected:
            return None
        helper.connected, helper.name = True, name or helper.name
        self._set_party(call, helper.party_id, PartyState.CONNECTED)
        return call

    def helper_gone(self, uniqueid: str) -> tuple[CallRec, Helper] | None:
        helper = self.helpers.pop(uniqueid, None)
        call = self.call_of(uniqueid)
        self._channels.pop(uniqueid, None)
        if helper is None or call is None:
            return None
        if helper.party_id is not None:
            call.parties.pop(helper.party_id, None)
        return call, helper

    def helpers_of(self, call: CallRec, *kinds: HelperKind) -> list[Helper]:
        return [
            h
            for uid, h in self.helpers.items()
            if self._channels.get(uid) == call.call_id and (not kinds or h.kind in kinds)
        ]

    def set_citizen_state(self, call: CallRec, state: PartyState) -> None:
        call.set_party_state(PartyKind.CITIZEN, state)

    def refresh_state(self, call: CallRec) -> None:
        """TALKING, HELD or CONSULTING from the call's flags (for a connected call)."""
        if call.state not in LIVE:
            return
        if call.consult is not None:
            call.state = CallState.CONSULTING
        elif call.held:
            call.state = CallState.HELD
        else:
            call.state = CallState.TALKING
        citizen_state = PartyState.CONNECTED if call.state is CallState.TALKING else PartyState.HELD
        self.set_citizen_state(call, citizen_state)

    # --- internals --------------------------------------------------------------------------
    def _add_party(
        self,
        call: CallRec,
        kind: PartyKind,
        address: str,
        language: str | None,
        state: PartyState = PartyState.CONNECTED,
    ) -> Party:
        party = Party(call.next_party_id(), kind, state, address, language, self._clock())
        call.parties[party.party_id] = party
        return party

    def _set_party(self, call: CallRec, party_id: str | None, state: PartyState) -> None:
        if party_id is not None and party_id in call.parties:
            call.parties[party_id] = replace(call.parties[party_id], state=state)
