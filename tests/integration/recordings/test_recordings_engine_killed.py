"""Recordings (issue 5): the engine is killed mid-conversation; the call goes on (Asterisk
records it regardless), and once the engine is back the recording is complete, cataloged,
archived and passes the audit."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from dasan.sipp import CitizenCalls, ConsultantUas, Dtmf, ensure_media, run_citizens
from recordings.audit import AuditReport, audit
from tests.integration.support import (
    AmiRecorder,
    EngineProcess,
    ItEnv,
    call_seconds,
    citizen_uniqueid,
    dasan_json,
    eventually,
)


@pytest.fixture(scope="module")
def engine_env() -> dict[str, str]:
    # Finish a recording left behind by a dead engine soon after the call ends.
    return {"DASAN_RECORDINGS__SETTLE_S": "5", "DASAN_RECORDINGS__RESCAN_INTERVAL_S": "5"}


@pytest.mark.timeout(300)
async def test_recording_survives_engine_kill_and_is_cataloged_after_restart(
    engine: EngineProcess, recorder: AmiRecorder, sipp_dir: Path, it_env: ItEnv
) -> None:
    since = dt.datetime.now(dt.UTC)
    await asyncio.to_thread(ensure_media, sipp_dir / "media")
    async with ConsultantUas(sipp_dir / "uas", ring_ms=300, talk_ms=12_000):
        call = asyncio.create_task(
            run_citizens(
                CitizenCalls(
                    caller="0106000001",
                    digits=(Dtmf("1", 1500), Dtmf("1", 500)),
                    hangup_after_ms=120_000,
                ),
                sipp_dir / "uac",
            )
        )
        await recorder.wait_event("DialEnd", DialStatus="ANSWER", timeout=90)
        engine.kill()  # mid-conversation
        result = await call
    assert result.ok, result.errors
    uniqueid = citizen_uniqueid(recorder, "0106000001")
    hangup = await recorder.wait_event("Hangup", Uniqueid=uniqueid)
    call_s = call_seconds(recorder, uniqueid, hangup)

    await asyncio.to_thread(engine.start)

    def cataloged(report: AuditReport) -> bool:
        return report.ok and not report.in_progress and report.recordings_checked >= 1

    report = await eventually(
        lambda: asyncio.to_thread(audit, it_env.settings, since=since),
        cataloged,
        120,
        "the killed call's recording cataloged and clean",
    )
    assert report.calls_checked >= 1
    calls = {c["id"]: c for c in dasan_json(it_env, "calls", "--last", "20")}
    assert calls[uniqueid]["ended_at"], "the restarted engine closes the call from the CDR"
    recording = calls[uniqueid]["recording"]
    assert recording is not None, calls[uniqueid]
    assert abs(recording["duration_s"] - call_s) <= max(0.01 * call_s, 0.5), (recording, call_s)
