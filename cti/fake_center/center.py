"""The fake center's ``ContactCenter`` methods: consultant state, call control, supervision,
queries. A fake for the unit tier and page development only: no PBX, no ACD, no storage.

Invariants: the rules a real center enforces are kept (no ready while talking, no attended
transfer to a queue, one interpreter per call, interpreters limited per language); a refused
action changes nothing and publishes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

from common.principal import Principal
from cti.control import (
    CallDetails,
    CallOutcome,
    CallState,
    CallSummary,
    CenterSample,
    ConsultantState,
    ConsultantStats,
    ConsultantView,
    InvalidState,
    NoInterpreterAvailable,
    NotFound,
    NotReadyReason,
    Party,
    PartyKind,
    PartyState,
    QueueStats,
    SpyChanged,
    SpyMode,
    SpySession,
    Subscription,
    TargetKind,
    TransferMode,
    TransferTarget,
    WaitingCall,
)
from cti.fake_center.state import CONNECTED, ON_CALL, CenterState, party_of, with_citizen, without


class FakeCenter(CenterState):
    """The ``ContactCenter`` protocol over ``CenterState``."""

    # --- consultant state -------------------------------------------------------------------
    async def log_in(self, by: Principal, consultant_id: str) -> ConsultantView:
        view = self._consultant(consultant_id)
        if view.state is not ConsultantState.LOGGED_OUT:
            raise InvalidState(f"{consultant_id} is already logged in")
        return self._set(consultant_id, ConsultantState.NOT_READY, NotReadyReason.LOGGED_IN)

    async def log_out(self, by: Principal, consultant_id: str) -> ConsultantView:
        view = self._consultant(consultant_id)
        if view.state is ConsultantState.LOGGED_OUT or view.state in ON_CALL:
            raise InvalidState(f"{consultant_id} cannot log out while {view.state}")
        return self._set(consultant_id, ConsultantState.LOGGED_OUT)

    async def set_ready(self, by: Principal, consultant_id: str) -> ConsultantView:
        view = self._consultant(consultant_id)
        if view.state is ConsultantState.READY:
            return view
        if view.state not in (ConsultantState.NOT_READY, ConsultantState.WRAP_UP):
            raise InvalidState(f"{consultant_id} cannot become ready while {view.state}")
        return self._set(consultant_id, ConsultantState.READY)

    async def set_not_ready(
        self, by: Principal, consultant_id: str, reason: NotReadyReason
    ) -> ConsultantView:
        view = self._consultant(consultant_id)
        if view.state is ConsultantState.LOGGED_OUT or view.state in ON_CALL:
            raise InvalidState(f"{consultant_id} cannot become not ready while {view.state}")
        return self._set(consultant_id, ConsultantState.NOT_READY, reason)

    async def finish_wrap_up(self, by: Principal, consultant_id: str) -> ConsultantView:
        if self._consultant(consultant_id).state is not ConsultantState.WRAP_UP:
            raise InvalidState(f"{consultant_id} is not in wrap-up")
        return self._set(consultant_id, ConsultantState.READY)

    # --- call control -----------------------------------------------------------------------
    async def hold(self, by: Principal, call_id: str) -> CallSummary:
        call = self._live(call_id, CallState.TALKING)
        return self._put(
            replace(call, state=CallState.HELD, parties=with_citizen(call, PartyState.HELD))
        )

    async def unhold(self, by: Principal, call_id: str) -> CallSummary:
        call = self._live(call_id, CallState.HELD)
        parties = with_citizen(call, PartyState.CONNECTED)
        return self._put(replace(call, state=CallState.TALKING, parties=parties))

    async def transfer(
        self, by: Principal, call_id: str, target: TransferTarget, mode: TransferMode
    ) -> CallSummary:
        call = self._live(call_id, *CONNECTED)
        if mode is TransferMode.ATTENDED:
            return self._consult(call, target)
        if target.kind is TargetKind.CONSULTANT:
            self._ready_consultant(target.value, call.consultant_id)
            self._leave(call, transferred=True)
            return self._ring(replace(call, parties=call.parties[:1]), target.value)
        if target.kind is TargetKind.QUEUE:
            self._queue(target.value)
            self._leave(call, transferred=True)
            self._enqueued[call_id] = self._clock()
            moved = replace(
                call, state=CallState.WAITING, queue_id=target.value, consultant_id=None
            )
            return self._put(replace(moved, parties=moved.parties[:1]), queue=target.value)
        self._leave(call, transferred=True)
        return self._end(call, CallOutcome.TRANSFERRED_OUT)

    async def complete_transfer(self, by: Principal, call_id: str) -> CallSummary:
        call = self._live(call_id, CallState.CONSULTING)
        target = party_of(call, PartyKind.TRANSFER_TARGET)
        self._leave(replace(call, parties=without(call, target)), transferred=True)
        if target.address not in self._consultants:
            return self._end(call, CallOutcome.TRANSFERRED_OUT)
        self._set(target.address, ConsultantState.TALKING, call_id=call_id)
        parties = (
            with_citizen(call, PartyState.CONNECTED)[0],
            replace(target, kind=PartyKind.CONSULTANT),
        )
        moved = replace(call, state=CallState.TALKING, consultant_id=target.address)
        return self._put(replace(moved, parties=parties))

    async def cancel_transfer(self, by: Principal, call_id: str) -> CallSummary:
        call = self._live(call_id, CallState.CONSULTING)
        target = party_of(call, PartyKind.TRANSFER_TARGET)
        if target.address in self._consultants:
            self._set(target.address, ConsultantState.READY)
        parties = with_citizen(replace(call, parties=without(call, target)), PartyState.CONNECTED)
        return self._put(replace(call, state=CallState.TALKING, parties=parties))

    async def add_interpreter(self, by: Principal, call_id: str, language: str) -> Party:
        call = self._live(call_id, *CONNECTED)
        if any(p.kind is PartyKind.INTERPRETER for p in call.parties):
            raise InvalidState(f"call {call_id} already has an interpreter")
        if self._busy[language] >= self._pool.get(language, 0):
            raise NoInterpreterAvailable(language)
        self._busy[language] += 1
        address = f"interpreter-{language}-{self._busy[language]}"
        return self._join(call, PartyKind.INTERPRETER, address, language)

    async def add_third_party(self, by: Principal, call_id: str, number: str) -> Party:
        call = self._live(call_id, *CONNECTED)
        return self._join(call, PartyKind.THIRD_PARTY, number, None)

    async def drop_party(self, by: Principal, call_id: str, party_id: str) -> CallSummary:
        call = self._live(call_id, *CONNECTED)
        party = next((p for p in call.parties if p.party_id == party_id), None)
        if party is None:
            raise NotFound("party", party_id)
        if party.kind not in (PartyKind.INTERPRETER, PartyKind.THIRD_PARTY):
            raise InvalidState(f"a {party.kind} cannot be dropped; hang up instead")
        self._release(party)
        return self._put(replace(call, parties=without(call, party)))

    async def hang_up(self, by: Principal, call_id: str) -> CallSummary:
        call = self._live(call_id, *CONNECTED, CallState.CONSULTING, CallState.RINGING)
        return self.citizen_hangs_up(call.call_id)

    # --- supervision ------------------------------------------------------------------------
    async def start_spy(
        self, by: Principal, consultant_id: str, mode: SpyMode, device: str | None
    ) -> SpySession:
        if self._consultant(consultant_id).state is ConsultantState.LOGGED_OUT:
            raise InvalidState(f"{consultant_id} is logged out")
        spy_id = f"spy-{next(self._ids):04d}"
        session = SpySession(
            spy_id, by.user_id, consultant_id, mode, device or by.user_id, self._clock()
        )
        self._spies[spy_id] = session
        self.hub.publish(SpyChanged(session, active=True))
        return session

    async def stop_spy(self, by: Principal, spy_id: str) -> None:
        session = self._spies.pop(spy_id, None)
        if session is None:
            raise NotFound("spy session", spy_id)
        self.hub.publish(SpyChanged(session, active=False))

    # --- queries ----------------------------------------------------------------------------
    async def consultants(self) -> Sequence[ConsultantView]:
        return list(self._consultants.values())

    async def consultant(self, consultant_id: str) -> ConsultantView:
        return self._consultant(consultant_id)

    async def queues(self) -> Sequence[QueueStats]:
        return [self._stats(qid) for qid in self._queues]

    async def waiting_calls(self, queue_id: str | None = None) -> Sequence[WaitingCall]:
        if queue_id is not None:
            self._queue(queue_id)
        now = self._clock()
        waiting = []
        for c in self._calls.values():
            if c.state is CallState.WAITING and c.queue_id and queue_id in (None, c.queue_id):
                at = self._enqueued[c.call_id]
                wait_s = (now - at).total_seconds()
                waiting.append(WaitingCall(c.call_id, c.number, c.language, c.queue_id, at, wait_s))
        return sorted(waiting, key=lambda w: w.enqueued_at)

    async def consultant_stats(self, consultant_id: str | None = None) -> Sequence[ConsultantStats]:
        ids = list(self._consultants) if consultant_id is None else [consultant_id]
        return [self._ledger.consultant(self._consultant(cid)) for cid in ids]

    async def live_calls(self) -> Sequence[CallSummary]:
        return [c for c in self._calls.values() if c.state is not CallState.ENDED]

    async def call(self, call_id: str) -> CallDetails:
        call = self._call(call_id)
        earlier = tuple(e for e in self._history[call.number] if e.call_id != call_id)
        return CallDetails(call, self._journeys.get(call_id, ()), earlier)

    async def timeline(self, minutes: int) -> Sequence[CenterSample]:
        since = self._clock() - timedelta(minutes=minutes)
        return self._ledger.samples_since(since)

    def subscribe(self) -> Subscription:
        return self.hub.subscribe()
