"""Routing policy: which waiting call goes to which free consultant, and how long a caller
should expect to wait. Pure functions over :class:`acd.state.AcdState`.

The policy, in order of precedence:
1. Eligibility. A consultant may take a call only through an overflow stage that is open
   (the call has waited at least ``after_s``): they speak the call's language (a hard
   constraint) and hold the stage's skill (the call's service, or ``via_service``) at the
   stage's minimum proficiency. An interpreter stage matches Korean speakers instead and the
   offer asks for an interpreter of the call's language.
2. One global choice over all queues: the most urgent waiting call that has an eligible free
   consultant goes first. Urgency = higher priority tier, then the earliest deadline
   ``enqueued_at + target.within_s`` (the call furthest behind its service-level target),
   then earlier enqueue time, then arrival order, so equals are served first come first served.
3. For that call, the best consultant: own skill before overflow before interpreter, then
   higher proficiency, then longest idle, then earlier ready.
Dispatch repeats until no waiting call has an eligible free consultant. Only bucket heads are
examined: within a bucket the head is the oldest call and so has the widest pool.

Wait estimates are Erlang-style from live staffing, not a moving average: with every eligible
consultant busy, departures come at rate N/(handle + wrap-up), so the k-th call in line waits
about k (handle + wrap-up) / N, where k counts the calls ahead that compete for the same pool.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from acd.commands import (
    CallCandidate,
    Command,
    ConsultantCandidate,
    DecisionRecord,
    OfferCall,
)
from acd.indexes import BucketKey, IdleEntry, IdlePool, StaffCounts
from acd.model import CallStatus, ConsultantState, Language, Service, WaitingCall
from acd.plans import SKILL, ServicePlan, StagePlan
from acd.state import AcdState

KINDS = ("skill", "overflow", "interpreter")

Urgency = tuple[int, float, float, int]


@dataclass(frozen=True, slots=True)
class Pick:
    rank: tuple[int, int, float, int]  # (kind, -proficiency, idle_since, token): lower wins
    consultant_id: str
    stage: int
    kind: int


# A queue head as weighed in one round: (urgency, bucket, enqueued_at, seq, best pick or None).
Considered = tuple[Urgency, BucketKey, float, int, Pick | None]


def unstaffed(language: Language, plan: ServicePlan, staff: StaffCounts) -> bool:
    """No consultant holding the service's own skill in ``language`` is staffed."""
    return staff.staffed(language, plan.service.id, 1) == 0


def is_open(
    stage: StagePlan, language: Language, plan: ServicePlan, waited: float, staff: StaffCounts
) -> bool:
    """A stage opens once the call has waited ``after_s``, or at once when it opens for an
    unstaffed service (a district with nobody logged in overflows to the city)."""
    return stage.after_s <= waited or (stage.when_unstaffed and unstaffed(language, plan, staff))


def best_pick(
    language: Language, plan: ServicePlan, waited: float, pool: IdlePool, staff: StaffCounts
) -> Pick | None:
    """The best free consultant for a call of ``plan``'s service that has waited ``waited`` s."""
    best: Pick | None = None
    for index, stage in enumerate(plan.stages):
        # ``is_open`` inlined: this loop runs for every queue head in every decision.
        if stage.after_s > waited and not (
            stage.when_unstaffed and unstaffed(language, plan, staff)
        ):
            break
        entry = pool.best(
            Language.KO if stage.korean else language, stage.skill, stage.min_proficiency
        )
        if entry is None:
            continue
        rank = (stage.kind, entry[0], entry[1], entry[2])
        if best is None or rank < best.rank:
            best = Pick(rank, entry[3], index, stage.kind)
    return best


def urgency(key: BucketKey, enqueued_at: float, seq: int, plan: ServicePlan) -> Urgency:
    return (-key[2], enqueued_at + plan.target_s, enqueued_at, seq)


def dispatch(state: AcdState, now: float, trigger: str, out: list[Command]) -> None:
    """Offer waiting calls to free consultants until no eligible pair is left."""
    plans = state.plans
    while len(state.pool) and len(state.queues):
        best: tuple[Urgency, BucketKey, int, Pick] | None = None
        considered: list[Considered] = []
        for key, (enqueued_at, seq) in state.queues.heads():
            plan = plans[key[1]]
            pick = best_pick(key[0], plan, now - enqueued_at, state.pool, state.staff)
            rank = urgency(key, enqueued_at, seq, plan)
            considered.append((rank, key, enqueued_at, seq, pick))
            if pick is not None and (best is None or rank < best[0]):
                best = (rank, key, seq, pick)
        if best is None:
            return
        _assign(state, best[2], best[3], considered, now=now, trigger=trigger, out=out)


def _assign(
    state: AcdState,
    seq: int,
    pick: Pick,
    considered: list[Considered],
    *,
    now: float,
    trigger: str,
    out: list[Command],
) -> None:
    record = state.calls[state.by_seq[seq]]
    call = record.call
    service = state.catalog[call.service]
    out.append(_record(state, call, service, pick, considered, now=now, trigger=trigger))
    state.dequeue(record)
    agent = state.agents[pick.consultant_id]
    record.status = CallStatus.OFFERED
    record.consultant_id = agent.profile.id
    record.calling_back = call.callback_number is not None
    agent.call_id = call.call_id
    state.set_state(agent, ConsultantState.RINGING, now, out)
    if record.calling_back:
        settings = state.settings
        state.reserve(record, now + settings.callback_ring_s + settings.callback_reserve_grace_s)
    state.decisions += 1
    out.append(
        OfferCall(
            call.call_id,
            agent.profile.id,
            float(state.settings.ring_timeout_s),
            interpreter_language=call.language if pick.kind == 2 else None,
            callback_number=call.callback_number,
        )
    )


def _record(
    state: AcdState,
    call: WaitingCall,
    service: Service,
    pick: Pick,
    considered: list[Considered],
    *,
    now: float,
    trigger: str,
) -> DecisionRecord:
    chosen = state.agents[pick.consultant_id]
    late = now - (call.enqueued_at + service.target.within_s)
    reason = (
        f"most urgent of {len(considered)} queue heads "
        f"({'late by' if late >= 0 else 'due in'} {abs(late):.1f} s, priority {int(call.priority)}); "
        f"{pick.consultant_id}: {KINDS[pick.kind]} stage {pick.stage}, proficiency "
        f"{-pick.rank[1]}, idle {now - chosen.idle_since:.1f} s"
        f"{_overflow_reason(state, call, pick, now)}"
    )
    return DecisionRecord(
        at=now,
        trigger=trigger,
        call_id=call.call_id,
        consultant_id=pick.consultant_id,
        service=service.id,
        language=call.language,
        stage=pick.stage,
        reason=reason,
        consultants=_consultant_candidates(state, call, now),
        calls=_call_candidates(state, call, considered, now),
    )


def _overflow_reason(state: AcdState, call: WaitingCall, pick: Pick, now: float) -> str:
    """Why an overflow stage was open: the wait reached it, or nobody of the service's own
    skill was staffed (a district queue overflowing to the city at once)."""
    if pick.kind == SKILL:
        return ""
    plan = state.plans[call.service]
    stage = plan.stages[pick.stage]
    waited = now - call.enqueued_at
    if stage.after_s > waited:
        return (
            f"; overflow to {stage.skill}: no consultant of {call.service} staffed "
            f"(waited {waited:.1f} s of {stage.after_s:g} s)"
        )
    return f"; overflow to {stage.skill}: waited {waited:.1f} s >= {stage.after_s:g} s"


def _call_candidates(
    state: AcdState, call: WaitingCall, considered: list[Considered], now: float
) -> tuple[CallCandidate, ...]:
    """The most urgent queue heads (the chosen call always among them)."""
    considered.sort(key=lambda item: item[0])
    shown = considered[: state.settings.record_calls]
    if all(c[3] != call.seq for c in shown):
        shown.append(next(c for c in considered if c[3] == call.seq))
    return tuple(
        CallCandidate(
            call_id=state.by_seq[seq],
            service=key[1],
            language=key[0],
            priority=key[2],
            waited_s=now - enqueued_at,
            behind_target_s=now - rank[1],
            best_consultant=None if pick is None else pick.consultant_id,
        )
        for rank, key, enqueued_at, seq, pick in shown
    )


def _consultant_candidates(
    state: AcdState, call: WaitingCall, now: float
) -> tuple[ConsultantCandidate, ...]:
    """The best free consultant of each open stage (what the choice was made between)."""
    seen: dict[str, ConsultantCandidate] = {}
    waited = now - call.enqueued_at
    plan = state.plans[call.service]
    for index, stage in enumerate(plan.stages):
        if not is_open(stage, call.language, plan, waited, state.staff):
            break
        language = Language.KO if stage.korean else call.language
        entry: IdleEntry | None = state.pool.best(language, stage.skill, stage.min_proficiency)
        if entry is not None and entry[3] not in seen:
            seen[entry[3]] = ConsultantCandidate(
                entry[3], index, -entry[0], now - entry[1], KINDS[stage.kind]
            )
    return tuple(seen.values())


def next_overflow(state: AcdState, now: float) -> float | None:
    """When the next overflow stage opens for a bucket head (only matters if someone is free)."""
    if not len(state.pool):
        return None
    soonest: float | None = None
    for key, (enqueued_at, _seq) in state.queues.heads():
        for stage in state.plans[key[1]].stages:
            at = enqueued_at + stage.after_s
            if at > now:
                if soonest is None or at < soonest:
                    soonest = at
                break
    return soonest


def estimate_wait(state: AcdState, call: WaitingCall) -> tuple[int, float]:
    """(position, estimated seconds until a consultant answers) for a waiting call."""
    plans = state.plans
    plan = plans[call.service]
    staffed = 0
    for stage in plan.stages:
        if not stage.korean:
            staffed = max(
                staffed, state.staff.staffed(call.language, stage.skill, stage.min_proficiency)
            )
    deadline = call.enqueued_at + plan.target_s
    own = (call.enqueued_at, call.seq)
    ahead, position = 0, 1
    for (language, service_id, priority), entries in state.queues.items():
        if language != call.language or service_id not in plan.competitors:
            continue
        mine = service_id == call.service
        if priority > call.priority:
            ahead += len(entries)
            position += len(entries) if mine else 0
        elif priority == call.priority:
            # Calls with an earlier deadline (ties: earlier enqueue, then arrival) go first.
            cutoff = deadline - plans[service_id].target_s
            ahead += bisect_right(entries, (cutoff, call.seq - 1))
            position += bisect_left(entries, own) if mine else 0
    return position, (ahead + 1) * plan.per_call_s / max(staffed, 1)
