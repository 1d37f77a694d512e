"""IVR (issue 3): outside foreign-language hours the caller hears so in their language and is
offered what is open (a call-back, SMS, the Korean line); a call-back request is kept."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from dasan.sipp import CitizenCalls, ConsultantUas, Dtmf, ensure_media, run_citizens
from tests.integration.ivr.conftest import foreign_closed_hours, hours_env
from tests.integration.support import (
    AmiRecorder,
    EngineProcess,
    ItEnv,
    citizen_uniqueid,
    dasan_json,
    roster_languages,
)


@pytest.fixture(scope="module")
def engine_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return hours_env(tmp_path_factory.mktemp("hours"), foreign_closed_hours())


def _nodes(call: dict[str, object]) -> list[str]:
    journey = call["journey"]
    assert isinstance(journey, dict)
    return [e["node"] for e in journey["entries"] if e["event"] == "enter"]


@pytest.mark.timeout(300)
async def test_outside_foreign_hours_offers_what_is_open(
    engine: EngineProcess,
    consultants: ConsultantUas,
    recorder: AmiRecorder,
    sipp_dir: Path,
    it_env: ItEnv,
) -> None:
    await asyncio.to_thread(ensure_media, sipp_dir / "media")
    english_callback, english_korean_line = "0103100201", "0103100202"
    results = await asyncio.gather(
        # English; the desk is closed: "1" asks for a call-back.
        run_citizens(
            CitizenCalls(
                caller=english_callback,
                digits=(Dtmf("2", 1500), Dtmf("1", 6000)),
                hangup_after_ms=60_000,
            ),
            sipp_dir / "uac-callback",
        ),
        # English; "3" takes the Korean line, which is open around the clock.
        run_citizens(
            CitizenCalls(
                caller=english_korean_line,
                digits=(Dtmf("2", 1500), Dtmf("3", 6000)),
                dtmf_mode="info",
                hangup_after_ms=90_000,
            ),
            sipp_dir / "uac-korean-line",
        ),
    )
    for result in results:
        assert result.ok, result.errors

    calls = {c["id"]: c for c in dasan_json(it_env, "calls", "--last", "50")}
    callback = calls[citizen_uniqueid(recorder, english_callback)]
    assert callback["language"] == "en"
    assert callback["service"] == "callback"
    assert callback["consultant"] is None
    assert {"foreign_closed", "closed_menu", "offer_callback"} <= set(_nodes(callback))
    requests = [
        json.loads(line)
        for line in (it_env.settings.state_dir / "callbacks" / "requests.jsonl")
        .read_text(encoding="utf-8")
        .splitlines()
    ]
    assert any(r["call_id"] == callback["id"] and r["reason"] == "after-hours" for r in requests)

    korean_line = calls[citizen_uniqueid(recorder, english_korean_line)]
    assert {"foreign_closed", "closed_menu", "korean_line"} <= set(_nodes(korean_line))
    assert korean_line["consultant"], korean_line
    # An English caller on the Korean line goes to the English desk's pool (which would
    # overflow to a Korean consultant with an interpreter); here one is free at once.
    assert "en" in roster_languages()[korean_line["consultant"]]
