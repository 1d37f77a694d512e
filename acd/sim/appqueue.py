"""A model of Asterisk's app_queue as a baseline router: one queue per service, each deciding
greedily on its own.

What it models (and why it is a fair baseline):
- Membership and penalties come from the same catalog and roster as our policy: a consultant is
  a member of every queue whose overflow stages could reach them, with penalty
  ``10 * kind + (5 - proficiency)`` (kind 0 own skill, 1 via another service, 2 interpreter),
  and penalty rules (queuerules.conf) raise QUEUE_MAX_PENALTY at each stage's ``after_s``. So
  both routers widen the same pools at the same times; what differs is the decision.
- Lowest penalty first among free members; then the strategy: ``ringall`` (all ring, the first
  to answer wins: a random one), ``leastrecent`` (longest since their last call *of this
  queue*), ``fewestcalls`` (fewest calls *of this queue*). ringinuse=no, autofill=yes,
  autopause on no answer, wrapuptime = the service's wrap-up, ``retry`` 5 s after a no answer.
- Waiting callers re-check every second (app_queue's wait loop); queues race in random order.
  Priorities (QUEUE_PRIO) order callers within a queue only.

Invariants: a member rings for at most one caller; a caller rings at most one member (the
ringall race is resolved at once); language is matched by membership.
"""

from __future__ import annotations

import heapq
import math
import random
from bisect import bisect_left, insort
from collections.abc import Sequence
from dataclasses import dataclass, field

from acd.commands import CancelOffer, Command, ConsultantStateChanged, OfferCall, ScheduleWakeup
from acd.events import (
    CallAbandoned,
    CallArrived,
    CallEnded,
    ConsultantLoggedIn,
    ConsultantLoggedOut,
    ConsultantNotReady,
    ConsultantReady,
    Event,
    OfferAccepted,
    OfferRejected,
    OfferTimedOut,
)
from acd.model import NO_ANSWER, Consultant, ConsultantState, Language, Service
from acd.services import ServiceCatalog

S = ConsultantState
STRATEGIES = ("ringall", "leastrecent", "fewestcalls")
RECHECK_S = 1.0
RETRY_S = 5.0


def stage_penalty(service: Service, index: int) -> int:
    stage = service.stages[index]
    kind = 2 if stage.with_interpreter else (1 if stage.via_service else 0)
    return 10 * kind + (5 - stage.min_proficiency)


def member_penalty(service: Service, consultant: Consultant) -> int | None:
    """Lowest penalty under which ``consultant`` is a member of ``service``'s queue."""
    best: int | None = None
    for stage in service.stages:
        skill = stage.via_service or service.id
        proficiency = consultant.proficiency(skill)
        if stage.with_interpreter:
            speaks = Language.KO in consultant.languages
        else:
            speaks = bool(service.languages & consultant.languages)
        if proficiency and speaks:
            kind = 2 if stage.with_interpreter else (1 if stage.via_service else 0)
            penalty = 10 * kind + (5 - proficiency)
            best = penalty if best is None else min(best, penalty)
    return best


@dataclass(slots=True)
class _Member:
    profile: Consultant
    queues: tuple[tuple[str, int], ...]  # (service id, penalty)
    state: S = S.LOGGED_OUT
    reason: str | None = None
    call: str | None = None
    service: str | None = None  # queue of the current call
    pending: tuple[S, str | None] | None = None
    last_call: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Caller:
    call_id: str
    service: Service
    language: Language
    arrived: float
    order: tuple[int, int]  # (-priority, seq)
    not_before: float = 0.0
    ringing: str | None = None


class AppQueueRouter:
    def __init__(
        self,
        catalog: ServiceCatalog,
        roster: Sequence[Consultant],
        strategy: str,
        ring_timeout_s: float,
        seed: int,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}")
        self.name = strategy
        self.strategy = strategy
        self.catalog = catalog
        self.ring_timeout_s = ring_timeout_s
        self.rng = random.Random(seed)
        self.members: dict[str, _Member] = {}
        for c in roster:
            queues = tuple(
                (s.id, p) for s in catalog.values() if (p := member_penalty(s, c)) is not None
            )
            self.members[c.id] = _Member(c, queues)
        # Free members per queue and penalty, in the order they became free (deterministic).
        self.free: dict[str, dict[int, dict[str, None]]] = {s: {} for s in catalog}
        self.levels: dict[str, list[int]] = {s: [] for s in catalog}
        for member in self.members.values():
            for service_id, penalty in member.queues:
                if penalty not in self.free[service_id]:
                    self.free[service_id][penalty] = {}
                    insort(self.levels[service_id], penalty)
        self.ready = 0
        self.queues: dict[str, list[tuple[tuple[int, int], str]]] = {s: [] for s in catalog}
        self.callers: dict[str, _Caller] = {}
        self.unrung = 0
        self.talking: dict[str, str] = {}  # call id -> member id
        self.seq = 0
        self.timers: list[tuple[float, int, str]] = []  # (at, 0 wrap-up end | 1 recheck, id)
        self.recheck_armed = False
        self.wrap_until: dict[str, float] = {}
        self.wakeup: float | None = None

    # Events ----------------------------------------------------------------------------------
    def handle(self, event: Event, now: float) -> list[Command]:
        out: list[Command] = []
        self._timers(now, out)
        if isinstance(event, CallArrived):
            self._arrived(event, now, out)
        elif isinstance(event, (CallAbandoned, CallEnded)):
            self._gone(event.call_id, now, out)
        elif isinstance(event, OfferAccepted):
            caller = self.callers.pop(event.call_id)
            self._remove(caller)
            self.talking[event.call_id] = event.consultant_id
            self._set(self.members[event.consultant_id], S.TALKING, out)
        elif isinstance(event, (OfferTimedOut, OfferRejected)):
            self._no_answer(event.call_id, event.consultant_id, now, out)
        else:
            self._consultant(event, out)
        self._arm(now, out)
        return out

    def _arrived(self, ev: CallArrived, now: float, out: list[Command]) -> None:
        self.seq += 1
        order = (-int(ev.priority), self.seq)
        caller = _Caller(ev.call_id, self.catalog[ev.service], ev.language, now, order)
        self.callers[ev.call_id] = caller
        self.unrung += 1
        insort(self.queues[ev.service], (caller.order, ev.call_id))
        self._try(caller, now, out)  # Queue() rings at once when someone is free

    def _gone(self, call_id: str, now: float, out: list[Command]) -> None:
        caller = self.callers.pop(call_id, None)
        if caller is not None:  # still waiting or ringing
            self._remove(caller)
            if caller.ringing is None:
                self.unrung -= 1
            else:
                out.append(CancelOffer(call_id, caller.ringing))
                self._free(self.members[caller.ringing], out)
            return
        member_id = self.talking.pop(call_id, None)
        if member_id is None:
            return
        member = self.members[member_id]
        service = member.service or ""
        member.last_call[service] = now
        member.calls[service] = member.calls.get(service, 0) + 1
        until = now + self.catalog[service].wrap_up_s
        self._set(member, S.WRAP_UP, out)
        self.wrap_until[member_id] = until
        heapq.heappush(self.timers, (until, 0, member_id))

    def _no_answer(self, call_id: str, consultant_id: str, now: float, out: list[Command]) -> None:
        caller = self.callers.get(call_id)
        member = self.members[consultant_id]
        if caller is None or caller.ringing != consultant_id:
            return
        caller.ringing = None
        self.unrung += 1
        caller.not_before = now + RETRY_S
        pending, member.pending = member.pending, None
        if pending is not None and pending[0] is S.LOGGED_OUT:
            self._set(member, S.LOGGED_OUT, out)
        else:
            self._set(member, S.NOT_READY, out, NO_ANSWER)

    def _consultant(self, event: Event, out: list[Command]) -> None:
        if isinstance(event, ConsultantLoggedIn):
            member = self.members[event.consultant_id]
            if member.state is S.LOGGED_OUT:
                ready = event.ready
                self._set(
                    member, S.READY if ready else S.NOT_READY, out, None if ready else "login"
                )
        elif isinstance(event, ConsultantLoggedOut):
            self._leave(self.members[event.consultant_id], (S.LOGGED_OUT, None), out)
        elif isinstance(event, ConsultantNotReady):
            self._leave(self.members[event.consultant_id], (S.NOT_READY, event.reason), out)
        elif isinstance(event, ConsultantReady):
            member = self.members[event.consultant_id]
            if member.state in (S.RINGING, S.TALKING, S.WRAP_UP):
                member.pending = None
            elif member.state is S.NOT_READY:
                self._set(member, S.READY, out)

    def _leave(self, member: _Member, target: tuple[S, str | None], out: list[Command]) -> None:
        if member.state in (S.RINGING, S.TALKING, S.WRAP_UP):
            member.pending = target
        elif member.state is not S.LOGGED_OUT:
            self._set(member, target[0], out, target[1])

    # Decisions ---------------------------------------------------------------------------------
    def _free(self, member: _Member, out: list[Command]) -> None:
        pending, member.pending = member.pending, None
        if pending is None:
            self._set(member, S.READY, out)
        else:
            self._set(member, pending[0], out, pending[1])

    def _recheck(self, now: float, out: list[Command]) -> None:
        order = [s for s, q in self.queues.items() if q]
        self.rng.shuffle(order)
        for service_id in order:
            queue = self.queues[service_id]
            failed_tier: int | None = None
            for _order, call_id in list(queue):
                if not self.ready:
                    return
                caller = self.callers[call_id]
                if caller.order[0] == failed_tier:
                    if queue[-1][0][0] == failed_tier:
                        break  # younger callers of a tier never reach further than older ones
                    continue
                if caller.ringing is not None or caller.not_before > now:
                    continue
                if not self._try(caller, now, out):
                    failed_tier = caller.order[0]

    def _max_penalty(self, caller: _Caller, now: float) -> int:
        waited = now - caller.arrived
        stages = caller.service.stages
        return max(
            stage_penalty(caller.service, i) for i, st in enumerate(stages) if st.after_s <= waited
        )

    def _try(self, caller: _Caller, now: float, out: list[Command]) -> bool:
        if not self.ready:
            return False
        service_id = caller.service.id
        limit = self._max_penalty(caller, now)
        for penalty in self.levels[service_id]:
            if penalty > limit:
                return False
            free = self.free[service_id][penalty]
            if free:
                member = self._choose(service_id, free)
                self._ring(caller, member, penalty, out)
                return True
        return False

    def _ring(self, caller: _Caller, member: _Member, penalty: int, out: list[Command]) -> None:
        caller.ringing = member.profile.id
        self.unrung -= 1
        member.call = caller.call_id
        member.service = caller.service.id
        self._set(member, S.RINGING, out)
        interpreter = caller.language if penalty >= 20 else None
        out.append(OfferCall(caller.call_id, member.profile.id, self.ring_timeout_s, interpreter))

    def _choose(self, service_id: str, free: dict[str, None]) -> _Member:
        ids = list(free)
        if self.strategy == "ringall":
            return self.members[ids[self.rng.randrange(len(ids))]]
        members = [self.members[i] for i in ids]
        if self.strategy == "leastrecent":
            return min(members, key=lambda m: m.last_call.get(service_id, -math.inf))
        return min(members, key=lambda m: m.calls.get(service_id, 0))

    # Plumbing --------------------------------------------------------------------------------
    def _remove(self, caller: _Caller) -> None:
        queue = self.queues[caller.service.id]
        index = bisect_left(queue, (caller.order, caller.call_id))
        if index < len(queue) and queue[index][1] == caller.call_id:
            del queue[index]

    def _set(
        self, member: _Member, state: S, out: list[Command], reason: str | None = None
    ) -> None:
        was_ready = member.state is S.READY
        member.state = state
        member.reason = reason if state is S.NOT_READY else None
        if state in (S.READY, S.NOT_READY, S.LOGGED_OUT):
            member.call = None
        if was_ready != (state is S.READY):
            self.ready += 1 if state is S.READY else -1
            for service_id, penalty in member.queues:
                bucket = self.free[service_id][penalty]
                if state is S.READY:
                    bucket[member.profile.id] = None
                else:
                    bucket.pop(member.profile.id, None)
        out.append(ConsultantStateChanged(member.profile.id, state, member.reason, member.call))

    def _timers(self, now: float, out: list[Command]) -> None:
        recheck = False
        while self.timers and self.timers[0][0] <= now:
            at, kind, cid = heapq.heappop(self.timers)
            if kind == 1:
                recheck = True
                self.recheck_armed = False
                continue
            member = self.members[cid]
            if member.state is S.WRAP_UP and self.wrap_until.get(cid) == at:
                self._free(member, out)
        if recheck:
            self._recheck(now, out)

    def _arm(self, now: float, out: list[Command]) -> None:
        if self.unrung and self.ready and not self.recheck_armed:
            heapq.heappush(self.timers, (math.floor(now) + RECHECK_S, 1, ""))
            self.recheck_armed = True
        wakeup = self.timers[0][0] if self.timers else None
        if wakeup is not None and wakeup != self.wakeup:
            out.append(ScheduleWakeup(wakeup))
        self.wakeup = wakeup
