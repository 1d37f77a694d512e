"""ACD (issue 4): a caller who hangs up while waiting leaves no trace in the queue: no offer is
ever made for them, and the consultant who frees up later is not rung for them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dasan.sipp import CitizenCalls, ConsultantUas, Dtmf, ensure_media, run_citizens
from tests.integration.acd.journal import decisions, events, states
from tests.integration.support import (
    AmiRecorder,
    EngineProcess,
    ItEnv,
    citizen_uniqueid,
    eventually,
)

ONLY = "c0002"


@pytest.fixture(scope="module")
def engine_env() -> dict[str, str]:
    return {"DASAN_ACD__LOGGED_IN": f'["{ONLY}"]'}


@pytest.mark.timeout(240)
async def test_abandoned_caller_leaves_no_trace(
    engine: EngineProcess, recorder: AmiRecorder, sipp_dir: Path, it_env: ItEnv
) -> None:
    await asyncio.to_thread(ensure_media, sipp_dir / "media")
    keys = (Dtmf("1", 1500), Dtmf("1", 500))
    state = it_env.settings.state_dir
    before = len(await asyncio.to_thread(decisions, state))  # the journal is session-wide
    # The talker goes first and holds the only consultant for 40 s; the quitter is dialled only
    # once the talker has been offered, so it cannot win the consultant by arriving first.
    async with ConsultantUas(sipp_dir / "uas", ring_ms=300, talk_ms=40_000):
        talking = asyncio.create_task(
            run_citizens(
                CitizenCalls(caller="0104200001", digits=keys, hangup_after_ms=120_000),
                sipp_dir / "uac-talker",
            )
        )
        await eventually(
            lambda: asyncio.to_thread(decisions, state),
            lambda found: len(found) > before,
            60,
            "the talker offered to the consultant",
        )
        # Reaches the queue ~17 s in, while the only consultant talks; gives up at 24 s.
        quitter = await run_citizens(
            CitizenCalls(caller="0104200002", digits=keys, hangup_after_ms=24_000),
            sipp_dir / "uac-quitter",
        )
        talker = await talking
        assert talker.ok and quitter.ok, (talker.errors, quitter.errors)
        quit_id = citizen_uniqueid(recorder, "0104200002")
        assert quit_id in [e["call_id"] for e in events(state, "CallArrived")]
        await eventually(  # the engine hears the hangup a moment after SIPp is done
            lambda: asyncio.to_thread(events, state, "CallAbandoned"),
            lambda found: quit_id in [e["call_id"] for e in found],
            10,
            "the abandon reported to the ACD",
        )
        # The consultant finishes the first call and its wrap-up, and is ready again...
        await eventually(
            lambda: asyncio.to_thread(states, state, ONLY),
            lambda rows: (
                rows[-1]["state"] == "ready" and rows[-1].get("call") is None and len(rows) > 3
            ),
            60,
            "the consultant ready again after wrap-up",
        )
    # ...and was never offered the caller who left.
    assert quit_id not in [d["call_id"] for d in decisions(state)]
    assert not recorder.where("DialBegin", Uniqueid=quit_id)
