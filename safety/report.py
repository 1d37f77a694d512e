"""The safety report: calls made, people reached, escalations open and closed, per district.

A pure function of the stored attempts, escalations and notifications (no clock, no I/O).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from safety.escalation import Outcome
from safety.store import Attempt, Escalation

_CONTACT = {Outcome.WELL.value, Outcome.TALKED.value}


def _section(
    people: set[str], attempts: Sequence[Attempt], escalations: Sequence[Escalation]
) -> dict[str, Any]:
    outcomes = Counter(a.outcome or "in-progress" for a in attempts)
    reached = {a.person_id for a in attempts if a.outcome in _CONTACT}
    return {
        "people": len(people),
        "calls_made": len(attempts),
        "outcomes": dict(sorted(outcomes.items())),
        "people_reached": len(reached),
        "people_not_reached": len({a.person_id for a in attempts} - reached),
        "escalations_open": sum(1 for e in escalations if e.closed_at is None),
        "escalations_closed": sum(1 for e in escalations if e.closed_at is not None),
        "escalations_notified": sum(1 for e in escalations if e.stage == "notified"),
    }


def build_report(
    districts: Mapping[str, str],
    attempts: Sequence[Attempt],
    escalations: Sequence[Escalation],
    notifications: Sequence[Mapping[str, Any]],
    since: dt.datetime | None = None,
) -> dict[str, Any]:
    """``districts``: person id -> district code (every enrolled person)."""
    if since is not None:
        attempts = [a for a in attempts if a.placed_at >= since]
    total = _section(set(districts), attempts, escalations)
    total["notifications"] = dict(Counter(str(n["state"]) for n in notifications))
    per_district = {}
    for code in sorted(set(districts.values())):
        members = {p for p, d in districts.items() if d == code}
        per_district[code] = _section(
            members,
            [a for a in attempts if a.person_id in members],
            [e for e in escalations if e.person_id in members],
        )
    return {
        "since": since.isoformat() if since else None,
        "total": total,
        "districts": per_district,
    }
