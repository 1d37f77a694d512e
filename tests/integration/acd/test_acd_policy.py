"""ACD (issue 4) through the real PBX: 3 consultants and 6 callers in 2 languages are routed as
the policy says — language always matched, the more proficient consultant first, first come
first served among equals, nobody offered two calls at once."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from dasan.sipp import CitizenCalls, ConsultantUas, Dtmf, ensure_media, run_citizens
from tests.integration.acd.journal import decisions, events
from tests.integration.support import AmiRecorder, EngineProcess, ItEnv, citizen_uniqueid

KOREAN_5, KOREAN_4, ENGLISH = "c0004", "c0002", "c0437"  # general:5, general:4, foreign_en:5


@pytest.fixture(scope="module")
def engine_env() -> dict[str, str]:
    return {"DASAN_ACD__LOGGED_IN": f'["{KOREAN_5}", "{KOREAN_4}", "{ENGLISH}"]'}


def _korean(caller: str) -> CitizenCalls:
    return CitizenCalls(
        caller=caller, digits=(Dtmf("1", 1500), Dtmf("1", 500)), hangup_after_ms=120_000
    )


def _english(caller: str) -> CitizenCalls:
    return CitizenCalls(caller=caller, digits=(Dtmf("2", 1500),), hangup_after_ms=120_000)


async def _call_after(delay_s: float, spec: CitizenCalls, workdir: Path) -> object:
    await asyncio.sleep(delay_s)  # staggered arrivals: the order the policy must respect
    return await run_citizens(spec, workdir)


@pytest.mark.timeout(300)
async def test_six_callers_two_languages_three_consultants(
    engine: EngineProcess,
    consultants: ConsultantUas,
    recorder: AmiRecorder,
    sipp_dir: Path,
    it_env: ItEnv,
) -> None:
    await asyncio.to_thread(ensure_media, sipp_dir / "media")
    plan = [
        (0.0, "0104000001", _korean),
        (1.0, "0104000101", _english),
        (2.0, "0104000002", _korean),
        (3.0, "0104000102", _english),
        (4.0, "0104000003", _korean),
        (5.0, "0104000004", _korean),
    ]
    results = await asyncio.gather(
        *(_call_after(d, make(n), sipp_dir / f"uac-{n}") for d, n, make in plan)
    )
    assert all(r.ok for r in results), [r.errors for r in results]  # type: ignore[attr-defined]

    state = it_env.settings.state_dir
    by_call = {citizen_uniqueid(recorder, n): n for _, n, _ in plan}
    routed = [d for d in decisions(state) if d["call_id"] in by_call]
    assert len(routed) == 6, routed  # each caller offered once: everyone answered at once

    # Language is a hard constraint.
    for d in routed:
        if d["language"] == "en":
            assert d["consultant_id"] == ENGLISH, d
        else:
            assert d["consultant_id"] in (KOREAN_5, KOREAN_4), d

    # With both Korean consultants free, the more proficient one takes the first call.
    korean = [d for d in routed if d["language"] == "ko"]
    assert korean[0]["consultant_id"] == KOREAN_5

    # First come first served among equals: Korean calls are offered in arrival order.
    arrivals = [e["call_id"] for e in events(state, "CallArrived") if e["call_id"] in by_call]
    korean_arrivals = [c for c in arrivals if c in {d["call_id"] for d in korean}]
    assert [d["call_id"] for d in korean] == korean_arrivals

    # Nobody is offered a call while still on another: offers to a consultant alternate with
    # the end of their previous call.
    for consultant in (KOREAN_5, KOREAN_4, ENGLISH):
        mine = [d for d in routed if d["consultant_id"] == consultant]
        for earlier, later in itertools.pairwise(mine):
            ended = recorder.where("Hangup", Uniqueid=earlier["call_id"])
            assert ended, earlier
            answered_next = recorder.where(
                "DialEnd", Uniqueid=later["call_id"], DialStatus="ANSWER"
            )
            assert answered_next
            assert float(answered_next[0].get("Timestamp")) >= float(ended[0].get("Timestamp"))
