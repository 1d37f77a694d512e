"""ACD (issue 4): the engine is killed while a call waits; the dialplan's static app_queue
fallback still gets that call answered by a consultant, and it stays recorded. The call that
was already talking is not queued a second time."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dasan.sipp import CitizenCalls, ConsultantUas, Dtmf, ensure_media, run_citizens
from tests.integration.acd.journal import decisions
from tests.integration.support import (
    AmiRecorder,
    EngineProcess,
    ItEnv,
    call_seconds,
    citizen_uniqueid,
    eventually,
    find_citizen_uniqueid,
    wav_seconds,
)

ONLY = "c0002"


@pytest.fixture(scope="module")
def engine_env() -> dict[str, str]:
    return {"DASAN_ACD__LOGGED_IN": f'["{ONLY}"]'}


@pytest.mark.timeout(300)
async def test_waiting_call_survives_engine_crash(
    engine: EngineProcess, recorder: AmiRecorder, sipp_dir: Path, it_env: ItEnv
) -> None:
    await asyncio.to_thread(ensure_media, sipp_dir / "media")
    keys = (Dtmf("1", 1500), Dtmf("1", 500))
    settings = it_env.settings
    before = len(decisions(settings.state_dir))  # the journal is session-wide
    # The talker goes first and holds the only consultant for 40 s; the second caller is
    # dialled only once the talker has been offered, so it reaches the queue while they talk.
    async with ConsultantUas(sipp_dir / "uas", ring_ms=300, talk_ms=40_000):
        talking = asyncio.create_task(
            run_citizens(
                CitizenCalls(caller="0104300001", digits=keys, hangup_after_ms=150_000),
                sipp_dir / "uac-talking",
            )
        )
        await eventually(
            lambda: asyncio.to_thread(decisions, settings.state_dir),
            lambda found: len(found) > before,
            60,
            "the first call routed",
        )
        waiting = asyncio.create_task(
            run_citizens(
                CitizenCalls(caller="0104300002", digits=keys, hangup_after_ms=150_000),
                sipp_dir / "uac-waiting",
            )
        )
        waiting_id = await eventually(
            lambda: asyncio.sleep(0, find_citizen_uniqueid(recorder, "0104300002")),
            lambda found: found is not None,
            20,
            "the second caller's channel",
        )
        assert waiting_id is not None
        # The second caller is through the IVR and waits (music on hold) while the first talks.
        await recorder.wait_event("MusicOnHoldStart", timeout=60, Uniqueid=waiting_id)
        talking_id = citizen_uniqueid(recorder, "0104300001")
        engine.kill()
        first, second = await asyncio.gather(talking, waiting)
    assert first.ok and second.ok, (first.errors, second.errors)

    # The waiting caller was answered through the fallback queue by a consultant.
    answered = recorder.where("DialEnd", Uniqueid=waiting_id, DialStatus="ANSWER")
    assert answered and answered[0].get("DestChannel").startswith("PJSIP/c")
    assert recorder.where("QueueCallerJoin", Uniqueid=waiting_id)
    # The talking caller finished once and was not queued again.
    assert len(recorder.where("DialEnd", Uniqueid=talking_id, DialStatus="ANSWER")) == 1
    assert not recorder.where("QueueCallerJoin", Uniqueid=talking_id)

    # One recording for the rescued call, as long as the call.
    files = list(settings.recordings_dir.rglob(f"{waiting_id}.*"))
    assert len(files) == 1, files
    hangup = await recorder.wait_event("Hangup", Uniqueid=waiting_id)
    call_s = call_seconds(recorder, waiting_id, hangup)
    assert abs(wav_seconds(files[0]) - call_s) <= 0.05 * call_s
