"""The citizen's verdict through the real PBX: a citizen talks to a consultant (SIPp UAS, who
hangs up after 3 s), stays on the line, hears the survey question and presses 4; the score is
stored with that call (its uniqueid), and the supervisors' report shows only the aggregate."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from care.models import SurveyRow
from common.storage import Storage
from dasan.sipp import CitizenCalls, ConsultantUas, Dtmf, ensure_media, run_citizens
from recordings.audit import AuditReport, audit
from tests.integration.support import (
    AmiRecorder,
    EngineProcess,
    ItEnv,
    citizen_uniqueid,
    dasan_json,
    eventually,
)

CALLER = "0108000001"


@pytest.fixture(scope="module")
def engine_env() -> dict[str, str]:
    return {"DASAN_CARE__SURVEY_ENABLED": "true"}


async def _stored(env: ItEnv) -> dict[str, int]:
    storage = await Storage.open(env.settings.storage_url)
    try:
        async with storage.session() as session:
            rows = await session.scalars(select(SurveyRow))
            return {r.call_id: r.score for r in rows}
    finally:
        await storage.close()


@pytest.mark.timeout(180)
async def test_the_citizen_rates_the_call_after_the_consultant_hangs_up(
    engine: EngineProcess, recorder: AmiRecorder, sipp_dir: Path, it_env: ItEnv
) -> None:
    await asyncio.to_thread(ensure_media, sipp_dir / "media")
    since = dt.datetime.now(dt.UTC)
    # Korean, general line typed ahead; the consultant talks 3 s and hangs up (~8 s in); the
    # question plays next: "4" at ~13 s. After the thanks the PBX hangs up (the BYE the
    # citizen's scenario waits for).
    keys = (Dtmf("1", 1500), Dtmf("1", 500), Dtmf("4", 11_000))
    async with ConsultantUas(sipp_dir / "consultants", ring_ms=300, talk_ms=3000):
        result = await run_citizens(
            CitizenCalls(caller=CALLER, digits=keys, hangup_after_ms=30_000),
            sipp_dir / "citizen",
        )
    assert result.ok, result.errors
    uniqueid = citizen_uniqueid(recorder, CALLER)
    stored = await eventually(
        lambda: _stored(it_env), lambda found: uniqueid in found, 30, "the survey answer"
    )
    assert stored[uniqueid] == 4
    report = dasan_json(it_env, "report", "survey", "--daily")
    assert [(r["answers"], r["average"], r["score_4"]) for r in report] == [(1, 4.0, 1)]

    # The survey is part of the call: the call log's end is the channel's, not the end of the
    # engine's IVR session, so the recording (which ran on) is as long as the call.
    def settled(audited: AuditReport) -> bool:
        return not audited.in_progress and audited.recordings_checked >= 1

    audited = await eventually(
        lambda: asyncio.to_thread(audit, it_env.settings, since=since),
        settled,
        60,
        "the survey call's recording cataloged",
    )
    assert audited.ok, audited.gaps
