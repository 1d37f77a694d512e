"""Foundation (issue 2, step 7): a citizen dials 120, presses 1, a consultant answers, they talk,
hang up; the call is recorded once, for its whole length, and nothing is left behind."""

from __future__ import annotations

from pathlib import Path

from dasan.sipp import CitizenCalls, ConsultantUas, Dtmf, run_citizens
from tests.integration.support import (
    AmiRecorder,
    EngineProcess,
    ItEnv,
    call_seconds,
    wav_seconds,
)


async def test_first_call_is_answered_and_recorded_once(
    engine: EngineProcess,
    consultants: ConsultantUas,
    recorder: AmiRecorder,
    sipp_dir: Path,
    it_env: ItEnv,
) -> None:
    result = await run_citizens(
        CitizenCalls(calls=1, digits=(Dtmf("1", 1500), Dtmf("1", 500)), hangup_after_ms=60_000),
        sipp_dir / "uac",
    )
    assert result.ok, result.errors

    answered = await recorder.wait_event("DialEnd", DialStatus="ANSWER")
    citizen = answered.uniqueid
    assert answered.get("DestChannel").startswith("PJSIP/c")
    assert not recorder.where("DialEnd", DialStatus="NOANSWER")

    hangup = await recorder.wait_event("Hangup", Uniqueid=citizen)
    length = call_seconds(recorder, citizen, hangup)

    files = list(it_env.settings.recordings_dir.rglob(f"{citizen}.*"))
    assert len(files) == 1, files
    recorded = wav_seconds(files[0])
    assert abs(recorded - length) <= 0.05 * length, (recorded, length)
