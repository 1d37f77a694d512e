"""Pacing of safety calls: which due calls may be placed now (a pure core).

Invariants (for any inputs):
- Safety calls up on the trunk never exceed ``trunk_limit``.
- A call is placed only while every safety call in progress, plus the new one, could still be
  given a ready consultant with ``keep_free`` consultants left over for inbound 120 callers,
  and while safety calls stay within ``consultant_share`` of the ready consultants. So no
  call is offered when no consultant is free, and inbound keeps most of the desk.
- Call-backs (escalations) go before scheduled calls, then the earliest due first; a call is
  never placed outside the person's hours (after its ``until``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DueCall:
    person_id: str
    due_at: dt.datetime
    kind: str = "scheduled"  # scheduled | retry | callback
    planned_at: dt.datetime | None = None
    until: dt.datetime | None = None  # the end of the person's hours: not placed after it

    @property
    def urgent(self) -> bool:
        return self.kind == "callback"


@dataclass(frozen=True, slots=True)
class Capacity:
    trunk_limit: int
    keep_free: int
    consultant_share: float


def room(in_progress: int, ready_consultants: int, capacity: Capacity) -> int:
    """How many more safety calls may start now."""
    by_trunk = capacity.trunk_limit - in_progress
    by_desk = ready_consultants - capacity.keep_free - in_progress
    by_share = math.floor(ready_consultants * capacity.consultant_share) - in_progress
    return max(0, min(by_trunk, by_desk, by_share))


def choose(
    due: Sequence[DueCall],
    now: dt.datetime,
    *,
    in_progress: int,
    ready_consultants: int,
    busy_people: frozenset[str],
    capacity: Capacity,
) -> list[DueCall]:
    """The due calls to place now, at most ``room(...)``; one call per person at a time."""
    allowed = room(in_progress, ready_consultants, capacity)
    ready = [
        c
        for c in due
        if c.due_at <= now and (c.until is None or now < c.until) and c.person_id not in busy_people
    ]
    ready.sort(key=lambda c: (not c.urgent, c.due_at, c.person_id))
    chosen: list[DueCall] = []
    people: set[str] = set()
    for call in ready:
        if len(chosen) >= allowed:
            break
        if call.person_id in people:
            continue
        people.add(call.person_id)
        chosen.append(call)
    return chosen
