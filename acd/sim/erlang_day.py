"""Erlang figures for a simulated day: the same traffic and the same staffing, in theory.

Per half hour and per pool (Korean, sign language included; each foreign language with its
desk and interpreters: these teams cannot stand in for each other), Erlang A (exponential
patience) with the half hour's arrival rate, the mean handle + wrap-up + ring, and the average
number of the pool's consultants on the phones (fractional counts interpolated between the
integers around them); weighted by calls. ``pooled_service_level`` is one pool of everybody,
``service_level_c`` is Erlang C (no abandonment: callers wait forever).

Invariant: the service level is answered within 20 s over all arrivals, as in the simulator.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from acd.erlang import erlang_a, service_level_c
from acd.model import Consultant
from acd.services import ServiceCatalog
from acd.sim.staffing import WorkPlan, on_phones
from acd.sim.traffic import SimCall, TrafficProfile

HALF_S = 1800.0
HALVES = 48
WITHIN_S = 20.0


def rounded(value: Any) -> Any:
    """Floats rounded to 4 decimals, recursively (for compact JSON)."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v) for v in value]
    return value


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
        body: dict[str, Any] = rounded(asdict(self))
        return body


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


def _interval(n: float, count: int, aht: float, patience: float) -> list[float]:
    """[service level A, asa A, abandon A, occupancy A, service level C], one pool, one half hour,
    interpolated linearly between the integer numbers of servers around ``n``."""
    rate = count / HALF_S

    def figure(servers: int) -> list[float]:
        if servers <= 0:
            return [0.0, 0.0, 1.0, 1.0, 0.0]
        a = erlang_a(servers, rate, aht, patience, WITHIN_S)
        sl_c = service_level_c(servers, rate, aht, WITHIN_S)
        return [a.service_level, a.asa_s, a.p_abandon, a.occupancy, sl_c]

    low = math.floor(n)
    frac = n - low
    at_low = figure(low)
    if frac < 1e-9:
        return at_low
    return [(1 - frac) * x + frac * y for x, y in zip(at_low, figure(low + 1), strict=True)]


@dataclass(slots=True)
class _Totals:
    in_time: float = 0.0
    in_time_c: float = 0.0
    answered: float = 0.0
    wait: float = 0.0
    abandoned: float = 0.0
    busy: float = 0.0
    staffed: float = 0.0
    half_in_time: list[float] = field(default_factory=lambda: [0.0] * HALVES)
    half_calls: list[int] = field(default_factory=lambda: [0] * HALVES)

    def add(self, half: int, count: int, n: float, figures: list[float]) -> None:
        sl, asa, abandon, occupancy, sl_c = figures
        self.in_time += sl * count
        self.in_time_c += sl_c * count
        self.answered += (1 - abandon) * count
        self.wait += asa * (1 - abandon) * count
        self.abandoned += abandon * count
        self.busy += occupancy * n * HALF_S
        self.staffed += n * HALF_S
        self.half_in_time[half] += sl * count
        self.half_calls[half] += count


def _pools(
    calls: list[SimCall],
    plans: list[WorkPlan],
    catalog: ServiceCatalog,
    profile: TrafficProfile,
    pool_of: tuple[Callable[[str], str], Callable[[Consultant], str]],
) -> _Totals:
    groups: dict[str, list[SimCall]] = defaultdict(list)
    for call in calls:
        groups[pool_of[0](call.service)].append(call)
    staff: dict[str, list[WorkPlan]] = defaultdict(list)
    for plan in plans:
        staff[pool_of[1](plan.consultant)].append(plan)
    totals = _Totals()
    ring = sum(profile.ring_delay_s) / 2
    for pool, group in groups.items():
        aht = statistics.fmean(c.handle_s + catalog[c.service].wrap_up_s for c in group) + ring
        counts = [0] * HALVES
        for call in group:
            counts[min(HALVES - 1, int(call.arrival // HALF_S))] += 1
        for half, count in enumerate(counts):
            if count:
                n = on_phones(staff.get(pool, []), half * HALF_S, (half + 1) * HALF_S)
                totals.add(half, count, n, _interval(n, count, aht, profile.patience_mean_s))
    return totals


def erlang_report(
    calls: list[SimCall], plans: list[WorkPlan], catalog: ServiceCatalog, profile: TrafficProfile
) -> ErlangReport:
    split = _pools(calls, plans, catalog, profile, (service_pool, consultant_pool))
    pooled = _pools(calls, plans, catalog, profile, (lambda _s: "all", lambda _c: "all"))
    total = max(len(calls), 1)
    return ErlangReport(
        service_level=split.in_time / total,
        service_level_c=split.in_time_c / total,
        pooled_service_level=pooled.in_time / total,
        asa_s=split.wait / max(split.answered, 1.0),
        abandon_rate=split.abandoned / total,
        occupancy=split.busy / max(split.staffed, 1.0),
        consultants_on_phones_peak=max(
            on_phones(plans, h * HALF_S, (h + 1) * HALF_S) for h in range(HALVES)
        ),
        half_hours=tuple(
            t / c if c else 1.0 for t, c in zip(split.half_in_time, split.half_calls, strict=True)
        ),
    )
