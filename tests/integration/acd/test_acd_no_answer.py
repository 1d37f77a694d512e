"""ACD (issue 4): a consultant who does not answer is skipped, set not ready ("no answer"),
and the call goes to the next consultant; the no-answer consultant gets no further offers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dasan.sipp import CitizenCalls, ConsultantUas, Dtmf, ensure_media, run_citizens
from tests.integration.acd.journal import decisions, events, states
from tests.integration.support import AmiRecorder, EngineProcess, ItEnv, citizen_uniqueid

SILENT, BACKUP = "c0004", "c0002"  # general:5 rings first, general:4 takes it


@pytest.fixture(scope="module")
def engine_env() -> dict[str, str]:
    return {
        "DASAN_ACD__LOGGED_IN": f'["{SILENT}", "{BACKUP}"]',
        "DASAN_ACD__RING_TIMEOUT_S": "4",
    }


@pytest.mark.timeout(180)
async def test_no_answer_skips_and_sets_not_ready(
    engine: EngineProcess, recorder: AmiRecorder, sipp_dir: Path, it_env: ItEnv
) -> None:
    await asyncio.to_thread(ensure_media, sipp_dir / "media")
    async with ConsultantUas(sipp_dir / "uas", ring_ms=300, talk_ms=2000, no_answer=[SILENT]):
        first, second = await asyncio.gather(
            run_citizens(
                CitizenCalls(
                    caller="0104100001",
                    digits=(Dtmf("1", 1500), Dtmf("1", 500)),
                    hangup_after_ms=90_000,
                ),
                sipp_dir / "uac-1",
            ),
            run_citizens(
                CitizenCalls(
                    caller="0104100002",
                    digits=(Dtmf("1", 1500), Dtmf("1", 500)),
                    hangup_after_ms=120_000,
                ),
                sipp_dir / "uac-2",
            ),
        )
    assert first.ok and second.ok, (first.errors, second.errors)

    state = it_env.settings.state_dir
    calls = {citizen_uniqueid(recorder, "0104100001"), citizen_uniqueid(recorder, "0104100002")}
    timed_out = [e for e in events(state, "OfferTimedOut") if e["call_id"] in calls]
    assert [e["consultant_id"] for e in timed_out] == [SILENT]
    assert recorder.where("DialEnd", DialStatus="NOANSWER")
    silent = states(state, SILENT)
    assert silent[-1]["state"] == "not_ready" and silent[-1]["reason"] == "no answer"
    # Both callers were served by the consultant who answers; never offered to the silent one again.
    routed = [d for d in decisions(state) if d["call_id"] in calls]
    assert [d["consultant_id"] for d in routed].count(SILENT) == 1
    for call in calls:
        answered = recorder.where("DialEnd", Uniqueid=call, DialStatus="ANSWER")
        assert len(answered) == 1 and answered[0].get("DestChannel").startswith(f"PJSIP/{BACKUP}-")
