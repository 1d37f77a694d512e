"""The week's safety calls, planned by a pure core (no clock read, no I/O).

Invariants:
- Each person gets ``calls_per_week`` (2 or 3) calls, on distinct calling days (configured
  weekdays that are not holidays), each inside their preferred hours (Seoul time).
- The days of one person are spread over the week: no two on consecutive calling days when the
  week has room for it.
- Load is spread: people are placed one by one on the day pattern and the quarter-hour slot
  with the fewest calls so far, so no day or slot is flooded while others are empty.
- The same inputs give the same plan (ties broken by person id), so a restarted engine plans
  the same week again and skips what was already placed.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

SLOT = dt.timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Enrollee:
    """What planning needs of a person (no personal data)."""

    id: str
    window_start: dt.time
    window_end: dt.time
    calls_per_week: int = 3


@dataclass(frozen=True, slots=True, order=True)
class PlannedCall:
    at: dt.datetime  # aware, UTC
    person_id: str
    until: dt.datetime  # the end of the person's hours that day (UTC): too late after it


def calling_days(
    week_start: dt.date, weekdays: Iterable[int], is_holiday: Callable[[dt.date], bool]
) -> list[dt.date]:
    """The week's calling days (``week_start`` is a Monday)."""
    wanted = set(weekdays)
    days = (week_start + dt.timedelta(days=n) for n in range(7))
    return [d for d in days if d.weekday() in wanted and not is_holiday(d)]


def day_patterns(days: Sequence[dt.date], count: int) -> list[tuple[dt.date, ...]]:
    """The choices of ``count`` days with no two adjacent calling days (or, when the week is
    too short for that, the most spread out ones)."""
    count = min(count, len(days))
    combos = list(itertools.combinations(range(len(days)), count))

    def gap(combo: tuple[int, ...]) -> int:
        return min((b - a for a, b in itertools.pairwise(combo)), default=len(days))

    best = min(2, max((gap(c) for c in combos), default=0))
    spread = [c for c in combos if gap(c) >= best]
    return [tuple(days[i] for i in combo) for combo in spread]


def _slots(day: dt.date, person: Enrollee, zone: ZoneInfo) -> list[dt.datetime]:
    start = dt.datetime.combine(day, person.window_start, zone)
    end = dt.datetime.combine(day, person.window_end, zone)
    slots = []
    at = start
    while at + SLOT <= end:
        slots.append(at.astimezone(dt.UTC))
        at += SLOT
    return slots


def plan_week(
    people: Iterable[Enrollee],
    week_start: dt.date,
    zone: ZoneInfo,
    weekdays: Iterable[int],
    is_holiday: Callable[[dt.date], bool],
) -> list[PlannedCall]:
    """The week's calls, in time order (see the module's invariants)."""
    days = calling_days(week_start, weekdays, is_holiday)
    per_day: Counter[dt.date] = Counter()
    per_slot: Counter[dt.datetime] = Counter()
    plan: list[PlannedCall] = []
    for person in sorted(people, key=lambda p: p.id):
        patterns = day_patterns(days, person.calls_per_week)
        if not patterns:
            continue
        chosen = min(patterns, key=lambda pat: (sum(per_day[d] for d in pat), pat))
        for day in chosen:
            slots = _slots(day, person, zone)
            if not slots:
                continue
            at = min(slots, key=lambda s: (per_slot[s], s))
            per_day[day] += 1
            per_slot[at] += 1
            until = dt.datetime.combine(day, person.window_end, zone).astimezone(dt.UTC)
            plan.append(PlannedCall(at, person.id, until))
    return sorted(plan)


def week_of(now: dt.datetime, zone: ZoneInfo) -> dt.date:
    """The Monday (Seoul date) of the week ``now`` falls in."""
    local = now.astimezone(zone).date()
    return local - dt.timedelta(days=local.weekday())


def next_in_window(
    at: dt.datetime,
    person: Enrollee,
    zone: ZoneInfo,
    weekdays: Iterable[int],
    is_holiday: Callable[[dt.date], bool],
) -> tuple[dt.datetime, dt.datetime]:
    """(``at`` if it falls in the person's hours on a calling day, else the next window start;
    that window's end): retries and call-backs are placed within preferred hours too
    (searched up to 3 weeks ahead)."""
    wanted = set(weekdays)
    local = at.astimezone(zone)
    for offset in range(22):
        day = local.date() + dt.timedelta(days=offset)
        if day.weekday() not in wanted or is_holiday(day):
            continue
        start = dt.datetime.combine(day, person.window_start, zone)
        end = dt.datetime.combine(day, person.window_end, zone)
        if local < end:
            return max(local, start).astimezone(dt.UTC), end.astimezone(dt.UTC)
    return at, at + dt.timedelta(hours=1)
