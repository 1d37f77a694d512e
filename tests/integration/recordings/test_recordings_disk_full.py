"""Recordings (issue 5): the recordings disk fills up. An alarm appears within seconds; a new
call is still recorded (the guard moves it to the spare path before any consultant is
bridged) and answered; nothing is lost silently; the alarm clears once space is back."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from dasan.sipp import CitizenCalls, ConsultantUas, Dtmf, ensure_media, run_citizens
from tests.integration.support import (
    AmiRecorder,
    EngineProcess,
    ItEnv,
    citizen_uniqueid,
    dasan_json,
    eventually,
)


def _fill(folder: Path, leave_bytes: int) -> Path:
    filler = folder / "filler.bin"
    stat = os.statvfs(folder)
    size = stat.f_bavail * stat.f_frsize - leave_bytes
    subprocess.run(["fallocate", "-l", str(size), str(filler)], check=True)
    return filler


def _waiting_wavs(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.wav*") if not p.name.endswith(".enc")]


def _disk_alarms(env: ItEnv) -> list[dict[str, object]]:
    return [a for a in dasan_json(env, "alarms") if str(a["source"]).startswith("recordings.disk")]


@pytest.mark.timeout(420)
async def test_disk_full_raises_alarm_and_calls_stay_recorded(
    engine: EngineProcess, recorder: AmiRecorder, sipp_dir: Path, it_env: ItEnv
) -> None:
    await asyncio.to_thread(ensure_media, sipp_dir / "media")
    settings = it_env.settings
    # Earlier modules' recordings may still be archiving (WAV -> Opus frees most of their
    # space): wait until they are done, or the disk frees itself under the filler.
    await eventually(
        lambda: asyncio.to_thread(_waiting_wavs, settings.recordings_dir),
        lambda found: not found,
        180,
        "earlier recordings archived",
    )
    filler = _fill(settings.recordings_dir, leave_bytes=8 * 1024)
    try:
        alarms = await eventually(
            lambda: asyncio.to_thread(_disk_alarms, it_env),
            bool,
            10,
            "a low-disk alarm within seconds",
        )
        assert alarms[0]["severity"] in ("major", "critical")

        async with ConsultantUas(sipp_dir / "uas", ring_ms=300, talk_ms=3000):
            result = await run_citizens(
                CitizenCalls(
                    caller="0106100001",
                    digits=(Dtmf("1", 1500), Dtmf("1", 500)),
                    hangup_after_ms=120_000,
                ),
                sipp_dir / "uac",
            )
        assert result.ok, result.errors
        uniqueid = citizen_uniqueid(recorder, "0106100001")
        # Answered by a consultant, and recorded on the spare path (on another disk).
        assert recorder.where("DialEnd", Uniqueid=uniqueid, DialStatus="ANSWER")
        spare = list(settings.recordings_spare_dir.rglob(f"{uniqueid}.*"))
        assert spare, "the call must be recorded on the spare path"
        raised = {a["source"] for a in dasan_json(it_env, "alarms", "--history", "50")}
        assert "recording" in raised  # the guard said it moved the recording
    finally:
        filler.unlink()
    await eventually(
        lambda: asyncio.to_thread(_disk_alarms, it_env),
        lambda found: not found,
        20,
        "the low-disk alarm cleared",
    )
