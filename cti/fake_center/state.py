"""The fake center's state and the PBX's part: calls arrive, ring, are answered, end.

This is a fake for the unit tier and page development only: no PBX, no ACD, no storage.

Invariants:
- Deterministic: ids come from counters, time only from the injected clock, no tasks or sleeps.
- Every change publishes the whole new view of what changed (consultant, call, queue) through
  one ``EventHub``; a consultant is on at most one call, a call has at most one consultant.
- Besides the protocol, ``arrive``/``offer``/``answer``/``citizen_hangs_up``/``sample`` let a
  test or the preview server play the PBX's part.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo

from cti.center.ledger import Ledger
from cti.control import (
    CallChanged,
    CallOutcome,
    CallState,
    CallSummary,
    CenterSample,
    ConsultantChanged,
    ConsultantState,
    ConsultantView,
    EarlierCall,
    EventHub,
    InvalidState,
    IvrStep,
    NotFound,
    NotReadyReason,
    Party,
    PartyKind,
    PartyState,
    QueueChanged,
    QueueStats,
    SpySession,
    TargetKind,
    TransferTarget,
)

Clock = Callable[[], datetime]
ON_CALL = (ConsultantState.RINGING, ConsultantState.TALKING)
CONNECTED = (CallState.TALKING, CallState.HELD)


@dataclass(frozen=True, slots=True)
class QueueSpec:
    queue_id: str
    name: str
    language: str


class CenterState:
    """Data and transitions shared by the fake's protocol methods (``FakeCenter``)."""

    def __init__(
        self,
        clock: Clock,
        consultants: Iterable[tuple[str, str, tuple[str, ...]]],
        queues: Iterable[QueueSpec],
        interpreters: Mapping[str, int],
        *,
        service_level_target_s: int = 20,
        zone: tzinfo = UTC,
    ) -> None:
        self._clock = clock
        now = clock()
        self._consultants = {
            cid: ConsultantView(cid, name, langs, ConsultantState.LOGGED_OUT, now)
            for cid, name, langs in consultants
        }
        self._queues = {q.queue_id: q for q in queues}
        # The same ledger as the real center: today's figures in ``zone``.
        targets = {qid: float(service_level_target_s) for qid in self._queues}
        self._ledger = Ledger(clock, zone, targets)
        self._pool = dict(interpreters)
        self._busy: dict[str, int] = defaultdict(int)
        self._calls: dict[str, CallSummary] = {}
        self._journeys: dict[str, tuple[IvrStep, ...]] = {}
        self._enqueued: dict[str, datetime] = {}
        self._history: dict[str, list[EarlierCall]] = defaultdict(list)
        self._spies: dict[str, SpySession] = {}
        self._ids = itertools.count(1)
        self.hub = EventHub()

    # --- the PBX's part (tests and the preview server) --------------------------------------
    def arrive(
        self, number: str, language: str, queue_id: str, journey: Sequence[IvrStep] = ()
    ) -> str:
        """A citizen finished the IVR and waits in ``queue_id``; returns the call id."""
        self._queue(queue_id)
        call_id = f"call-{next(self._ids):04d}"
        now = self._clock()
        self._journeys[call_id] = tuple(journey)
        self._enqueued[call_id] = now
        citizen = Party(
            f"{call_id}-p1", PartyKind.CITIZEN, PartyState.CONNECTED, number, language, now
        )
        call = CallSummary(
            call_id, number, language, queue_id, CallState.WAITING, now, parties=(citizen,)
        )
        self._put(call, queue=queue_id)
        return call_id

    def offer(self, call_id: str, consultant_id: str) -> CallSummary:
        """The ACD rings a ready consultant with a waiting call."""
        call = self._live(call_id, CallState.WAITING)
        self._ready_consultant(consultant_id, None)
        return self._ring(call, consultant_id)

    def answer(self, call_id: str) -> CallSummary:
        call = self._live(call_id, CallState.RINGING)
        assert call.consultant_id is not None  # RINGING always has a consultant
        now = self._clock()
        self._set(call.consultant_id, ConsultantState.TALKING, call_id=call_id)
        waited = (now - self._enqueued[call_id]).total_seconds()
        self._ledger.answered(call.queue_id, call.consultant_id, waited)
        agent = Party(
            f"{call_id}-p{next(self._ids)}",
            PartyKind.CONSULTANT,
            PartyState.CONNECTED,
            call.consultant_id,
            None,
            now,
        )
        answered = replace(
            call, state=CallState.TALKING, answered_at=now, parties=(*call.parties, agent)
        )
        return self._put(answered, queue=call.queue_id)

    def citizen_hangs_up(self, call_id: str) -> CallSummary:
        call = self._live(call_id, *(s for s in CallState if s is not CallState.ENDED))
        if call.state is CallState.WAITING and call.queue_id is not None:
            self._ledger.abandoned(call.queue_id)
            return self._end(call, CallOutcome.ABANDONED)
        self._leave(call, transferred=False)
        return self._end(call, CallOutcome.ANSWERED if call.answered_at else CallOutcome.ABANDONED)

    def sample(self) -> CenterSample:
        """Append one point to the last-hour timeline (the real center does this each minute)."""
        states = [c.state for c in self._consultants.values()]
        waiting = sum(c.state is CallState.WAITING for c in self._calls.values())
        point = CenterSample(
            self._clock(),
            waiting,
            states.count(ConsultantState.TALKING),
            states.count(ConsultantState.READY),
            states.count(ConsultantState.NOT_READY),
        )
        self._ledger.add_sample(point)
        return point

    def add_sample(self, sample: CenterSample) -> None:
        self._ledger.add_sample(sample)

    def add_history(self, number: str, earlier: EarlierCall) -> None:
        self._history[number].append(earlier)

    # --- internals --------------------------------------------------------------------------
    def _consultant(self, consultant_id: str) -> ConsultantView:
        try:
            return self._consultants[consultant_id]
        except KeyError:
            raise NotFound("consultant", consultant_id) from None

    def _queue(self, queue_id: str) -> QueueSpec:
        try:
            return self._queues[queue_id]
        except KeyError:
            raise NotFound("queue", queue_id) from None

    def _call(self, call_id: str) -> CallSummary:
        try:
            return self._calls[call_id]
        except KeyError:
            raise NotFound("call", call_id) from None

    def _live(self, call_id: str, *states: CallState) -> CallSummary:
        call = self._call(call_id)
        if call.state not in states:
            raise InvalidState(f"call {call_id} is {call.state}")
        return call

    def _ready_consultant(self, consultant_id: str, current: str | None) -> None:
        if consultant_id == current:
            raise InvalidState("cannot transfer a call to the consultant who has it")
        if self._consultant(consultant_id).state is not ConsultantState.READY:
            raise InvalidState(f"{consultant_id} is not ready")

    def _set(
        self,
        consultant_id: str,
        state: ConsultantState,
        reason: NotReadyReason | None = None,
        call_id: str | None = None,
    ) -> ConsultantView:
        old = self._consultants[consultant_id]
        now = self._clock()
        self._ledger.left_state(old, now)
        view = ConsultantView(
            old.consultant_id, old.name, old.languages, state, now, reason, call_id
        )
        self._consultants[consultant_id] = view
        self.hub.publish(ConsultantChanged(view))
        return view

    def _ring(self, call: CallSummary, consultant_id: str) -> CallSummary:
        self._set(consultant_id, ConsultantState.RINGING, call_id=call.call_id)
        rung = replace(call, state=CallState.RINGING, consultant_id=consultant_id)
        return self._put(rung, queue=call.queue_id)

    def _put(self, call: CallSummary, queue: str | None = None) -> CallSummary:
        self._calls[call.call_id] = call
        self.hub.publish(CallChanged(call))
        if queue is not None:
            self.hub.publish(QueueChanged(self._stats(queue)))
        return call

    def _join(self, call: CallSummary, kind: PartyKind, address: str, lang: str | None) -> Party:
        party = Party(
            f"{call.call_id}-p{next(self._ids)}",
            kind,
            PartyState.CONNECTED,
            address,
            lang,
            self._clock(),
        )
        self._put(replace(call, parties=(*call.parties, party)))
        return party

    def _consult(self, call: CallSummary, target: TransferTarget) -> CallSummary:
        if target.kind is TargetKind.QUEUE:
            raise InvalidState("an attended transfer needs a person; transfer to a queue blindly")
        if target.kind is TargetKind.CONSULTANT:
            self._ready_consultant(target.value, call.consultant_id)
            self._set(target.value, ConsultantState.TALKING, call_id=call.call_id)
        party = Party(
            f"{call.call_id}-p{next(self._ids)}",
            PartyKind.TRANSFER_TARGET,
            PartyState.CONNECTED,
            target.value,
            None,
            self._clock(),
        )
        parties = (*with_citizen(call, PartyState.HELD), party)
        return self._put(replace(call, state=CallState.CONSULTING, parties=parties))

    def _leave(self, call: CallSummary, *, transferred: bool) -> None:
        """The handling consultant leaves the call (to wrap-up) and helpers are released."""
        for party in call.parties:
            self._release(party)
            if party.kind is PartyKind.TRANSFER_TARGET and party.address in self._consultants:
                self._set(party.address, ConsultantState.READY)
        cid = call.consultant_id
        if cid is None or self._consultants[cid].call_id != call.call_id:
            return
        if transferred:
            self._ledger.transferred(cid)
        after = ConsultantState.WRAP_UP if call.answered_at else ConsultantState.READY
        self._set(cid, after)

    def _release(self, party: Party) -> None:
        if party.kind is PartyKind.INTERPRETER and party.language is not None:
            self._busy[party.language] -= 1

    def _end(self, call: CallSummary, outcome: CallOutcome) -> CallSummary:
        now = self._clock()
        talk = (now - call.answered_at).total_seconds() if call.answered_at else 0.0
        self.add_history(
            call.number,
            EarlierCall(
                call.call_id, call.started_at, call.queue_id, outcome, call.consultant_id, talk
            ),
        )
        return self._put(replace(call, state=CallState.ENDED, parties=()), queue=call.queue_id)

    def _stats(self, queue_id: str) -> QueueStats:
        now = self._clock()
        waits = [
            (now - self._enqueued[c.call_id]).total_seconds()
            for c in self._calls.values()
            if c.state is CallState.WAITING and c.queue_id == queue_id
        ]
        spec = self._queues[queue_id]
        return self._ledger.queue_stats(
            queue_id, spec.name, spec.language, len(waits), max(waits, default=0.0)
        )


def with_citizen(call: CallSummary, state: PartyState) -> tuple[Party, ...]:
    """The call's parties with the citizen put in ``state`` (held or connected)."""
    return tuple(
        replace(p, state=state) if p.kind is PartyKind.CITIZEN else p for p in call.parties
    )


def without(call: CallSummary, party: Party) -> tuple[Party, ...]:
    return tuple(p for p in call.parties if p.party_id != party.party_id)


def party_of(call: CallSummary, kind: PartyKind) -> Party:
    found = next((p for p in call.parties if p.kind is kind), None)
    if found is None:
        raise InvalidState(f"call {call.call_id} has no {kind}")
    return found
