"""Statistics of a simulated day, and the Erlang figures for the same traffic and staffing.

Definitions (the same for every policy and for Erlang):
- service level: answered within 20 s over all arriving calls (an abandoned call counts as
  not answered in time); ASA: mean wait of answered calls; abandon rate: abandoned (including
  failed call-backs) over all calls.
- occupancy: (ringing + talking + wrap-up) over (that + ready) time; per queue, of the team
  whose primary skill is that queue. Fairness: Gini of handled calls per available hour and
  coefficient of variation of occupancy, over consultants available at least an hour.
- Erlang: per half hour and per pool (Korean, each foreign language: these teams cannot
  stand in for each other), Erlang A (exponential patience) with the half hour's arrival rate,
  the mean handle + wrap-up + ring, and the average number of the pool's consultants on the
  phones (fractional counts interpolated); weighted by calls. ``pooled_*`` is one pool of
  everybody, ``*_c`` is Erlang C (no abandonment).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from acd.erlang import erlang_a, service_level_c
from acd.model import Consultant, ConsultantState
from acd.services import ServiceCatalog
from acd.sim.engine import SimResult
from acd.sim.staffing import WorkPlan, on_phones
from acd.sim.traffic import SimCall, TrafficProfile

HALF_S = 1800.0
HALVES = 48
WITHIN_S = 20.0
_BUSY = (ConsultantState.RINGING, ConsultantState.TALKING, ConsultantState.WRAP_UP)


@dataclass(frozen=True, slots=True)
class QueueReport:
    calls: int
    service_level: float
    asa_s: float
    abandon_rate: float
    occupancy: float  # of the team whose primary skill is this queue
    team: int


@dataclass(frozen=True, slots=True)
class PolicyReport:
    service_level: float
    asa_s: float
    abandon_rate: float
    occupancy: float
    answered: int
    abandoned: int
    callbacks: int
    fairness_gini: float
    occupancy_cv: float
    estimate_error_s: float | None  # mean |announced estimate - actual wait|
    decisions: int
    wall_s: float
    queues: dict[str, QueueReport]
    half_hours: tuple[tuple[int, float, float], ...]  # (calls, service level, asa) by arrival

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["half_hours"] = [
            {"calls": c, "service_level": round(s, 4), "asa_s": round(a, 2)}
            for c, s, a in self.half_hours
        ]
        rounded: dict[str, Any] = _rounded(body)
        return rounded


@dataclass(frozen=True, slots=True)
class ErlangReport:
    service_level: float
    service_level_c: float
    pooled_service_level: float
    asa_s: float
    abandon_rate: float
    occupancy: float
    consultants_on_phones_peak: float
    half_hours: tuple[float, ...]

    def to_json(self) -> dict[str, Any]:
        rounded: dict[str, Any] = _rounded(asdict(self))
        return rounded


@dataclass(frozen=True, slots=True)
class DayReport:
    scenario: str
    description: str
    seed: int
    calls: int
    consultants: int
    policies: dict[str, PolicyReport]
    erlang: ErlangReport

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "description": self.description,
            "seed": self.seed,
            "calls": self.calls,
            "consultants": self.consultants,
            "policies": {k: v.to_json() for k, v in self.policies.items()},
            "erlang": self.erlang.to_json(),
        }


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    return value


def gini(values: list[float]) -> float:
    xs = sorted(values)
    total = sum(xs)
    if not xs or total <= 0:
        return 0.0
    n = len(xs)
    return sum((2 * i - n + 1) * x for i, x in enumerate(xs)) / (n * total)


def _calls_stats(calls: list[SimCall], result: SimResult) -> tuple[int, int, float, float]:
    """(answered, abandoned, answered within 20 s, total wait of answered) over ``calls``."""
    answered = abandoned = 0
    in_time = 0
    waited = 0.0
    for call in calls:
        outcome = result.outcomes[call.idx]
        if outcome.answered_at is not None:
            answered += 1
            wait = outcome.answered_at - call.arrival
            waited += wait
            in_time += wait <= WITHIN_S
        else:
            abandoned += 1
    return answered, abandoned, in_time, waited


def _occupancy(agents: list[Any]) -> float:
    busy = sum(a.seconds.get(s, 0.0) for a in agents for s in _BUSY)
    ready = sum(a.seconds.get(ConsultantState.READY, 0.0) for a in agents)
    return busy / (busy + ready) if busy + ready > 0 else 0.0


def policy_report(
    result: SimResult, catalog: ServiceCatalog, roster: dict[str, Consultant]
) -> PolicyReport:
    calls = result.calls
    answered, abandoned, in_time, waited = _calls_stats(calls, result)
    by_service: dict[str, list[SimCall]] = defaultdict(list)
    by_half: list[list[SimCall]] = [[] for _ in range(HALVES)]
    for call in calls:
        by_service[call.service].append(call)
        by_half[min(HALVES - 1, int(call.arrival // HALF_S))].append(call)
    queues = {}
    for service_id in catalog:
        members = [
            result.agents[c] for c in result.agents if roster[c].primary_skill() == service_id
        ]
        group = by_service.get(service_id, [])
        a, b, t, w = _calls_stats(group, result)
        n = max(len(group), 1)
        queues[service_id] = QueueReport(
            len(group), t / n, w / max(a, 1), b / n, _occupancy(members), len(members)
        )
    halves = []
    for group in by_half:
        a, _b, t, w = _calls_stats(group, result)
        halves.append((len(group), t / max(len(group), 1), w / max(a, 1)))
    fair, occupancies = [], []
    for log in result.agents.values():
        available = sum(log.seconds.get(s, 0.0) for s in (*_BUSY, ConsultantState.READY))
        if available >= 3600:
            fair.append(log.handled / (available / 3600))
            occupancies.append(_occupancy([log]))
    errors = [
        abs(o.answered_at - c.arrival - o.first_estimate_s)
        for c, o in zip(calls, result.outcomes, strict=True)
        if o.answered_at is not None and o.first_estimate_s is not None
    ]
    total = max(len(calls), 1)
    return PolicyReport(
        service_level=in_time / total,
        asa_s=waited / max(answered, 1),
        abandon_rate=abandoned / total,
        occupancy=_occupancy(list(result.agents.values())),
        answered=answered,
        abandoned=abandoned,
        callbacks=sum(1 for o in result.outcomes if o.callback),
        fairness_gini=gini(fair),
        occupancy_cv=statistics.pstdev(occupancies) / statistics.fmean(occupancies)
        if occupancies
        else 0.0,
        estimate_error_s=statistics.fmean(errors) if errors else None,
        decisions=result.decisions,
        wall_s=result.wall_s,
        queues=queues,
        half_hours=tuple(halves),
    )


def service_pool(service_id: str) -> str:
    """Korean services (sign language included: its consultants are Korean generalists too)
    share one pool; each foreign language has its own (its desk and its interpreters)."""
    if service_id.startswith(("foreign_", "interp_")):
        return service_id.split("_", 1)[1]
    return "ko"


def consultant_pool(consultant: Consultant) -> str:
    """The pool of the consultant's strongest skill (ties: a dedicated pool over Korean)."""
    skills = consultant.skills
    strongest = min(skills, key=lambda s: (-skills[s], service_pool(s) == "ko", s))
    return service_pool(strongest)


def _interpolated(servers: float, figure: Any) -> Any:
    """Linear interpolation of ``figure(n)`` between the integers around ``servers``."""
    low = math.floor(servers)
    frac = servers - low
    at_low = figure(low)
    return (
        at_low
        if frac < 1e-9
        else [(1 - frac) * x + frac * y for x, y in zip(at_low, figure(low + 1), strict=True)]
    )


def _pool_interval(
    n: float, count: int, aht: float, patience: float
) -> tuple[float, float, float, float, float]:
    """(service level A, asa A, abandon A, occupancy A, service level C) for one pool, one half hour."""
    rate = count / HALF_S

    def figure(servers: int) -> list[float]:
        if servers <= 0:
            return [0.0, 0.0, 1.0, 1.0, 0.0]
        a = erlang_a(servers, rate, aht, patience, WITHIN_S)
        return [
            a.service_level,
            a.asa_s,
            a.p_abandon,
            a.occupancy,
            service_level_c(servers, rate, aht, WITHIN_S),
        ]

    values = _interpolated(n, figure)
    return values[0], values[1], values[2], values[3], values[4]


def _mean_aht(calls: list[SimCall], catalog: ServiceCatalog, profile: TrafficProfile) -> float:
    ring = sum(profile.ring_delay_s) / 2
    return statistics.fmean(c.handle_s + catalog[c.service].wrap_up_s for c in calls) + ring


def erlang_report(
    calls: list[SimCall], plans: list[WorkPlan], catalog: ServiceCatalog, profile: TrafficProfile
) -> ErlangReport:
    pooled = _erlang_pools(
        calls,
        plans,
        catalog,
        profile,
        pool_of_service=lambda _s: "all",
        pool_of_consultant=lambda _c: "all",
    )
    split = _erlang_pools(
        calls,
        plans,
        catalog,
        profile,
        pool_of_service=service_pool,
        pool_of_consultant=consultant_pool,
    )
    peak = max(on_phones(plans, h * HALF_S, (h + 1) * HALF_S) for h in range(HALVES))
    return ErlangReport(
        service_level=split["sl"],
        service_level_c=split["sl_c"],
        pooled_service_level=pooled["sl"],
        asa_s=split["asa"],
        abandon_rate=split["abandon"],
        occupancy=split["occupancy"],
        consultants_on_phones_peak=peak,
        half_hours=tuple(split["halves"]),
    )


def _erlang_pools(
    calls: list[SimCall],
    plans: list[WorkPlan],
    catalog: ServiceCatalog,
    profile: TrafficProfile,
    *,
    pool_of_service: Callable[[str], str],
    pool_of_consultant: Callable[[Consultant], str],
) -> dict[str, Any]:
    groups: dict[str, list[SimCall]] = defaultdict(list)
    for call in calls:
        groups[pool_of_service(call.service)].append(call)
    staff: dict[str, list[WorkPlan]] = defaultdict(list)
    for plan in plans:
        staff[pool_of_consultant(plan.consultant)].append(plan)
    sums: dict[str, float] = defaultdict(float)
    half_in_time = [0.0] * HALVES
    half_calls = [0] * HALVES
    for pool, group in groups.items():
        aht = _mean_aht(group, catalog, profile)
        counts = [0] * HALVES
        for call in group:
            counts[min(HALVES - 1, int(call.arrival // HALF_S))] += 1
        for h, count in enumerate(counts):
            if not count:
                continue
            n = on_phones(staff.get(pool, []), h * HALF_S, (h + 1) * HALF_S)
            sl, asa, abandon, occupancy, sl_c = _pool_interval(
                n, count, aht, profile.patience_mean_s
            )
            sums["in_time"] += sl * count
            sums["in_time_c"] += sl_c * count
            sums["answered"] += (1 - abandon) * count
            sums["wait"] += asa * (1 - abandon) * count
            sums["abandoned"] += abandon * count
            sums["busy"] += occupancy * n * HALF_S
            sums["staffed"] += n * HALF_S
            half_in_time[h] += sl * count
            half_calls[h] += count
    total = max(len(calls), 1)
    return {
        "sl": sums["in_time"] / total,
        "sl_c": sums["in_time_c"] / total,
        "asa": sums["wait"] / max(sums["answered"], 1.0),
        "abandon": sums["abandoned"] / total,
        "occupancy": sums["busy"] / max(sums["staffed"], 1.0),
        "halves": [t / c if c else 1.0 for t, c in zip(half_in_time, half_calls, strict=True)],
    }
