"""The citizen's verdict: a score 1-5 after the consultant hangs up, stored with the call.

Invariants:
- One answer per call (a repeat is refused, the first stays); scores outside 1-5 are refused.
- Only aggregates leave this module (``summary``): no per-call score is ever listed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from care.errors import InvalidInput, WrongState
from care.models import SurveyRow
from common.alarms import Clock, utc_now
from common.storage import Storage


@dataclass(frozen=True, slots=True)
class SurveySummary:
    answers: int
    average: float | None
    by_score: dict[int, int]


class Survey:
    def __init__(self, storage: Storage, clock: Clock = utc_now) -> None:
        self._storage = storage
        self._clock = clock

    async def answer(self, call_id: str, score: int, language: str) -> None:
        if score not in range(1, 6):
            raise InvalidInput("score: 1 to 5")
        if not call_id:
            raise InvalidInput("call_id: required")
        async with self._storage.write() as session:
            found = await session.scalar(select(SurveyRow.id).where(SurveyRow.call_id == call_id))
            if found is not None:
                raise WrongState(f"call {call_id} already has an answer")
            session.add(
                SurveyRow(
                    call_id=call_id,
                    score=score,
                    language=language[:2] or "ko",
                    answered_at=self._clock(),
                )
            )

    async def summary(
        self, since: dt.datetime | None = None, until: dt.datetime | None = None
    ) -> SurveySummary:
        query = select(SurveyRow.score, func.count()).group_by(SurveyRow.score)
        if since is not None:
            query = query.where(SurveyRow.answered_at >= since)
        if until is not None:
            query = query.where(SurveyRow.answered_at < until)
        async with self._storage.session() as session:
            counts = {int(s): int(n) for s, n in await session.execute(query)}
        total = sum(counts.values())
        average = sum(s * n for s, n in counts.items()) / total if total else None
        return SurveySummary(total, average, {s: counts.get(s, 0) for s in range(1, 6)})
