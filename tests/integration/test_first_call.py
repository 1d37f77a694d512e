"""Foundation (issue 2, step 7): a citizen dials 120, presses 1, a consultant answers, they talk,
hang up; the call is recorded once, for its whole length, and nothing is left behind."""

from __future__ import annotations

import subprocess
from pathlib import Path

from dasan.sipp import CitizenCalls, ConsultantUas, Dtmf, run_citizens
from tests.integration.support import AmiRecorder, EngineProcess, ItEnv


def _ts(event_ts: str) -> float:
    return float(event_ts)


def _wav_seconds(path: Path) -> float:
    out = subprocess.run(["soxi", "-D", str(path)], capture_output=True, text=True, check=True)
    return float(out.stdout)


async def test_first_call_is_answered_and_recorded_once(
    engine: EngineProcess,
    consultants: ConsultantUas,
    recorder: AmiRecorder,
    sipp_dir: Path,
    it_env: ItEnv,
) -> None:
    result = await run_citizens(
        CitizenCalls(calls=1, digits=(Dtmf("1", 1500), Dtmf("1", 8000)), hangup_after_ms=60_000),
        sipp_dir / "uac",
    )
    assert result.ok, result.errors

    answered = await recorder.wait_event("DialEnd", DialStatus="ANSWER")
    citizen = answered.uniqueid
    assert answered.get("DestChannel").startswith("PJSIP/c")
    assert not recorder.where("DialEnd", DialStatus="NOANSWER")

    hangup = await recorder.wait_event("Hangup", Uniqueid=citizen)
    newchannel = recorder.where("Newchannel", Uniqueid=citizen)[0]
    call_seconds = _ts(hangup.get("Timestamp")) - _ts(newchannel.get("Timestamp"))

    files = list(it_env.settings.recordings_dir.rglob(f"{citizen}.*"))
    assert len(files) == 1, files
    recorded = _wav_seconds(files[0])
    assert abs(recorded - call_seconds) <= 0.05 * call_seconds, (recorded, call_seconds)
