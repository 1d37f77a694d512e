"""The survey: one key 1-5 stored with the call, nothing else stored, only aggregates out;
reports per day and month as JSON rows and CSV."""

from __future__ import annotations

import dataclasses
from zoneinfo import ZoneInfo

import pytest

from care.errors import InvalidInput, WrongState
from care.reports import as_csv, survey_report, tickets_report
from care.survey import Survey
from care.survey_agi import SurveyCall
from care.tickets import NewTicket, Tickets
from common.storage import Storage

from .conftest import CONSULTANT, GANGNAM, Clock

SEOUL = ZoneInfo("Asia/Seoul")


class FakeSession:
    def __init__(self, uniqueid: str, key: str | None, language: str = "vi") -> None:
        self._uniqueid, self.key, self.language = uniqueid, key, language
        self.played: list[str] = []

    @property
    def uniqueid(self) -> str:
        return self._uniqueid

    async def get_variable(self, name: str) -> str | None:
        return self.language if name == "CHANNEL(language)" else None

    async def get_data(self, file: str, timeout_ms: int, max_digits: int) -> str | None:
        self.played.append(file)
        return self.key

    async def stream_file(self, file: str, escape_digits: str = "") -> tuple[str | None, int]:
        self.played.append(file)
        return None, 0


async def test_a_key_is_stored_with_the_call_and_thanked(storage: Storage, clock: Clock) -> None:
    survey = Survey(storage, clock)
    call = SurveyCall(survey, "/prompts")
    session = FakeSession("1700.1", "4")
    await call.handle(session)
    assert session.played == ["/prompts/vi/survey_question", "/prompts/vi/survey_thanks"]
    for uniqueid, key in (("1700.2", None), ("1700.3", "9"), ("1700.4", "#")):
        silent = FakeSession(uniqueid, key)
        await call.handle(silent)
        assert silent.played == ["/prompts/vi/survey_question"]  # nothing stored, no thanks
    await call.handle(FakeSession("1700.5", "2", language="xx"))
    summary = await survey.summary()
    assert (summary.answers, summary.average) == (2, 3.0)
    assert summary.by_score == {1: 0, 2: 1, 3: 0, 4: 1, 5: 0}


async def test_bad_and_repeated_answers_are_refused(storage: Storage, clock: Clock) -> None:
    survey = Survey(storage, clock)
    with pytest.raises(InvalidInput):
        await survey.answer("c", 6, "ko")
    await survey.answer("c", 5, "ko")
    with pytest.raises(WrongState):
        await survey.answer("c", 1, "ko")
    assert (await survey.summary()).answers == 1


async def test_reports_daily_and_monthly(storage: Storage, tickets: Tickets, clock: Clock) -> None:
    new = NewTicket("road", "gangnam", "a", "b", True, channel="none")
    first = await tickets.create(new, CONSULTANT)
    clock.advance(minutes=30)
    await tickets.accept(first.id, GANGNAM)
    clock.advance(minutes=30)
    await tickets.resolve(first.id, GANGNAM, "done")
    clock.advance(days=1)
    await tickets.create(dataclasses.replace(new, category="parking"), CONSULTANT)
    survey = Survey(storage, clock)
    await survey.answer("x", 5, "ko")
    await survey.answer("y", 3, "ko")
    daily = await tickets_report(storage, clock(), SEOUL, monthly=False)
    assert [(r["period"], r["department"], r["created"], r["resolved"]) for r in daily] == [
        ("2026-12-01", "gangnam.construction", 1, 1),
        ("2026-12-02", "gangnam.parking", 1, 0),
    ]
    assert daily[0]["first_response_min_avg"] == 30.0
    assert daily[0]["resolution_min_avg"] == 60.0
    monthly = await tickets_report(storage, clock(), SEOUL, monthly=True)
    assert {r["period"] for r in monthly} == {"2026-12"}
    rows = await survey_report(storage, SEOUL, monthly=True)
    assert rows == [
        {"period": "2026-12", "answers": 2, "average": 4.0}
        | {f"score_{s}": int(s in (3, 5)) for s in range(1, 6)}
    ]
    assert (
        as_csv(rows).splitlines()[0]
        == "period,answers,average,score_1,score_2,score_3,score_4,score_5"
    )
