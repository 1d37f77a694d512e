"""Who works the simulated day, and when they are on the phones.

Invariants:
- The day is circular: a shift that runs past midnight (22:00 + 9 h) covers the end of the day
  and its first hours (the previous night's shift), so every instant has the same cover.
- ``plan_day`` keeps, per team, an evenly spread subset of ``scale`` of the day's workers
  (sorted by shift start; at least one), so a smaller day keeps the shape of the staffing curve.
- ``on_phones`` counts consultants logged in and not on their meal break at an instant;
  the Erlang figure and the simulator use the same plan.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from acd.model import Consultant
from acd.sim.traffic import DAY_S

MEAL = "meal"


@dataclass(frozen=True, slots=True)
class WorkPlan:
    consultant: Consultant
    on: tuple[tuple[float, float], ...]  # logged-in intervals within [0, DAY_S]
    meals: tuple[tuple[float, float], ...]  # not-ready intervals within [0, DAY_S]

    def available_at(self, t: float) -> bool:
        return any(a <= t < b for a, b in self.on) and not any(a <= t < b for a, b in self.meals)


def _wrap(start: float, length: float) -> list[tuple[float, float]]:
    start %= DAY_S
    end = start + length
    if end <= DAY_S:
        return [(start, end)]
    return [(start, DAY_S), (0.0, end - DAY_S)]


def _merge(parts: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    merged: list[tuple[float, float]] = []
    for a, b in sorted(parts):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return tuple(merged)


def _plan(consultant: Consultant) -> WorkPlan:
    shift = consultant.shift
    if shift is None:
        return WorkPlan(consultant, ((0.0, DAY_S),), ())
    on = _merge(_wrap(shift.start_s, shift.hours * 3600.0))
    meals: list[tuple[float, float]] = []
    if shift.meal_after_h is not None:
        meals = _wrap(shift.start_s + shift.meal_after_h * 3600.0, shift.meal_minutes * 60.0)
    return WorkPlan(consultant, on, _merge(meals))


def plan_day(roster: tuple[Consultant, ...], day: str, scale: float = 1.0) -> list[WorkPlan]:
    """Work plans of the consultants working ``day`` (all of them if they have no shift)."""
    teams: dict[str, list[Consultant]] = defaultdict(list)
    for consultant in roster:
        if consultant.shift is None or day in consultant.shift.days:
            teams[consultant.team].append(consultant)
    plans: list[WorkPlan] = []
    for members in teams.values():
        members.sort(key=lambda c: (c.shift.start_s if c.shift else 0.0, c.id))
        kept = [
            c
            for i, c in enumerate(members)
            if scale >= 1.0 or math.floor((i + 1) * scale) > math.floor(i * scale)
        ]
        plans.extend(_plan(c) for c in (kept or members[len(members) // 2 : len(members) // 2 + 1]))
    plans.sort(key=lambda p: p.consultant.id)
    return plans


def on_phones(plans: list[WorkPlan], start: float, end: float, samples: int = 6) -> float:
    """Average number of consultants on the phones over [start, end)."""
    step = (end - start) / samples
    total = 0
    for k in range(samples):
        t = start + (k + 0.5) * step
        total += sum(1 for p in plans if p.available_at(t))
    return total / samples
