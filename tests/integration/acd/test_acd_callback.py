"""ACD (issue 4): a waiting caller takes the call-back offer, keeps their place and hangs up;
when their turn comes the engine calls them back (AMI Originate), records the call like any
other, and rings the consultant who was reserved for them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dasan.sipp import CitizenCalls, ConsultantUas, Dtmf, ensure_media, run_citizens
from tests.integration.acd.journal import decisions, events
from tests.integration.support import (
    AmiRecorder,
    EngineProcess,
    ItEnv,
    citizen_uniqueid,
    dasan_json,
    eventually,
)

ONLY = "c0002"


@pytest.fixture(scope="module")
def engine_env() -> dict[str, str]:
    return {
        "DASAN_ACD__LOGGED_IN": f'["{ONLY}"]',
        # Offer the call-back to anyone who has to wait at all.
        "DASAN_ACD__CALLBACK_OFFER_MIN_WAIT_S": "0",
    }


@pytest.mark.timeout(300)
async def test_callback_keeps_the_place_and_calls_the_citizen_back(
    engine: EngineProcess, recorder: AmiRecorder, sipp_dir: Path, it_env: ItEnv
) -> None:
    await asyncio.to_thread(ensure_media, sipp_dir / "media")
    menu = (Dtmf("1", 1500), Dtmf("1", 500))
    # The second caller reaches the queue ~3 s in (right after the welcome), hears position
    # and wait (~5 s), then the offer (~8 s, then 5 s for a key): "1" lands while it plays.
    take_offer = (*menu, Dtmf("1", 12_000))
    async with (
        ConsultantUas(sipp_dir / "consultants", ring_ms=300, talk_ms=30_000),
        # Plays the citizens' phones when they are called back (the outside gateway).
        ConsultantUas(sipp_dir / "citizens-called-back", port=5092, ring_ms=500, talk_ms=60_000),
    ):
        first_call = asyncio.create_task(
            run_citizens(
                CitizenCalls(caller="0107000001", digits=menu, hangup_after_ms=90_000),
                sipp_dir / "uac-first",
            )
        )
        # The second caller comes once the first talks to the only consultant.
        await recorder.wait_event("DialEnd", DialStatus="ANSWER", timeout=60)
        second = await run_citizens(
            CitizenCalls(caller="0107000002", digits=take_offer, hangup_after_ms=90_000),
            sipp_dir / "uac-second",
        )
        first = await first_call
        assert first.ok and second.ok, (first.errors, second.errors)
        state = it_env.settings.state_dir
        waiting_id = citizen_uniqueid(recorder, "0107000002")
        assert waiting_id in [e["call_id"] for e in events(state, "CallbackAccepted")]
        # Once the consultant is free, the citizen is called back and connected.
        await eventually(
            lambda: asyncio.to_thread(events, state, "CallbackAnswered"),
            lambda found: waiting_id in [e["call_id"] for e in found],
            120,
            "the call-back answered",
        )
        originated = await recorder.wait_event("OriginateResponse", Response="Success", timeout=10)
        callback_id = originated.uniqueid
        answered = await recorder.wait_event(
            "DialEnd", Uniqueid=callback_id, DialStatus="ANSWER", timeout=60
        )
        assert answered.get("DestChannel").startswith(f"PJSIP/{ONLY}-")
        await recorder.wait_event("Hangup", Uniqueid=callback_id, timeout=90)
    # The reserved consultant took it: one decision for the call, to that consultant.
    assert [d["consultant_id"] for d in decisions(state) if d["call_id"] == waiting_id] == [ONLY]
    # Recorded like any call, and in the call log, linked to the call that asked for it.
    assert list(it_env.settings.recordings_dir.rglob(f"{callback_id}.*"))
    calls = {c["id"]: c for c in dasan_json(it_env, "calls", "--last", "20")}
    assert calls[callback_id]["linkedid"] == waiting_id
    assert calls[callback_id]["consultant"] == ONLY
