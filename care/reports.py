"""Reports: tickets per period, department and district (counts, overdue, times to first
response and resolution) and survey aggregates per period; as rows for JSON or CSV.

Invariants: pure over the rows read (periods in the center's local time zone); a survey
report never lists a single call's score, only counts and averages per period.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import select

from care.models import SurveyRow, TicketRow
from common.storage import Storage

Row = dict[str, object]


def period_of(at: dt.datetime, zone: ZoneInfo, monthly: bool) -> str:
    local = at.astimezone(zone)
    return f"{local:%Y-%m}" if monthly else f"{local:%Y-%m-%d}"


def _minutes(start: dt.datetime, end: dt.datetime | None) -> float | None:
    return None if end is None else (end - start).total_seconds() / 60


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def ticket_rows(
    tickets: Iterable[TicketRow], now: dt.datetime, zone: ZoneInfo, *, monthly: bool
) -> list[Row]:
    groups: dict[tuple[str, str, str], list[TicketRow]] = defaultdict(list)
    for t in tickets:
        groups[(period_of(t.created_at, zone, monthly), t.department, t.district)].append(t)
    rows: list[Row] = []
    for (period, department, district), items in sorted(groups.items()):
        first = [m for t in items if (m := _minutes(t.created_at, t.first_response_at))]
        done = [m for t in items if (m := _minutes(t.created_at, t.resolved_at))]
        rows.append(
            {
                "period": period,
                "department": department,
                "district": district,
                "created": len(items),
                "resolved": sum(t.status == "resolved" for t in items),
                "open": sum(t.status != "resolved" for t in items),
                "overdue": sum(t.status != "resolved" and t.due_at <= now for t in items),
                "escalations": sum(t.escalations for t in items),
                "first_response_min_avg": _mean(first),
                "resolution_min_avg": _mean(done),
            }
        )
    return rows


def survey_rows(answers: Iterable[SurveyRow], zone: ZoneInfo, *, monthly: bool) -> list[Row]:
    groups: dict[str, list[int]] = defaultdict(list)
    for a in answers:
        groups[period_of(a.answered_at, zone, monthly)].append(a.score)
    return [
        {
            "period": period,
            "answers": len(scores),
            "average": round(sum(scores) / len(scores), 2),
            **{f"score_{s}": scores.count(s) for s in range(1, 6)},
        }
        for period, scores in sorted(groups.items())
    ]


async def tickets_report(
    storage: Storage, now: dt.datetime, zone: ZoneInfo, *, monthly: bool
) -> list[Row]:
    async with storage.session() as session:
        tickets = list(await session.scalars(select(TicketRow)))
    return ticket_rows(tickets, now, zone, monthly=monthly)


async def survey_report(storage: Storage, zone: ZoneInfo, *, monthly: bool) -> list[Row]:
    async with storage.session() as session:
        answers = list(await session.scalars(select(SurveyRow)))
    return survey_rows(answers, zone, monthly=monthly)


def as_csv(rows: Sequence[Row]) -> str:
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
