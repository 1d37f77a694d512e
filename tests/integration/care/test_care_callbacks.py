"""Call-backs that happen (issue 15), through the real PBX with an injected clock: two
call-back requests kept after hours (``requests.jsonl``) wait in the list while the service is
closed; when care's clock reaches the opening hour, the engine dials them through its
call-back Originate path. The reachable citizen (SIPp UAS on 5092) answers, is recorded and
handed to the only consultant, and the request shows the answered call linked to it; the
unreachable one (their phone rings and is never picked up) is retried and then shown as given
up."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dasan.sipp import ConsultantUas, ensure_media
from tests.integration.support import EngineProcess, ItEnv, dasan_json, eventually

ONLY = "c0002"
ANSWERS = "0107000001"
NEVER_ANSWERS = "0107000002"
SEOUL = ZoneInfo("Asia/Seoul")


def _offset_to(local: dt.time) -> float:
    """Seconds to add to the real clock so that care's now is ``local`` today in Seoul."""
    now = dt.datetime.now(SEOUL)
    target = now.replace(hour=local.hour, minute=local.minute, second=local.second, microsecond=0)
    return (target - now).total_seconds()


@pytest.fixture(scope="module")
def clock_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("care-clock") / "offset"
    path.write_text(str(_offset_to(dt.time(8, 59, 0))), encoding="ascii")  # after hours
    return path


@pytest.fixture(scope="module")
def engine_env(clock_file: Path) -> dict[str, str]:
    return {
        "DASAN_ACD__LOGGED_IN": f'["{ONLY}"]',
        "DASAN_ACD__CALLBACK_RING_S": "5",
        "DASAN_CARE__CALLBACK_DIALING": "true",
        "DASAN_CARE__CLOCK_FILE": str(clock_file),
        "DASAN_CARE__POLL_S": "1",
        "DASAN_CARE__CALLBACK_MAX_ATTEMPTS": "2",
        "DASAN_CARE__CALLBACK_RETRY_S": "3",
        "DASAN_CARE__CALLBACK_WAIT_S": "60",
    }


def _request(call_id: str, number: str) -> str:
    return json.dumps(
        {
            "call_id": call_id,
            "kind": "callback",
            "number": number,
            "language": "ko",
            "requested_at": "2026-12-01T13:00:00+00:00",
            "reason": "after-hours",
        }
    )


def _listed(env: ItEnv) -> dict[str, dict[str, Any]]:
    return {c["call_id"]: c for c in dasan_json(env, "callbacks", "list")}


@pytest.mark.timeout(300)
async def test_after_hours_requests_are_dialed_at_opening(
    engine: EngineProcess, it_env: ItEnv, sipp_dir: Path, clock_file: Path
) -> None:
    await asyncio.to_thread(ensure_media, sipp_dir / "media")
    state = it_env.settings.state_dir
    await asyncio.to_thread((state / "callbacks").mkdir, parents=True, exist_ok=True)
    lines = [
        _request("after-hours-1", ANSWERS),
        _request("after-hours-2", NEVER_ANSWERS),
    ]
    requests = state / "callbacks" / "requests.jsonl"
    await asyncio.to_thread(requests.write_text, "\n".join(lines) + "\n", encoding="utf-8")
    async with (
        ConsultantUas(sipp_dir / "consultants", ring_ms=300, talk_ms=4000),
        # The citizens' phones behind the outside gateway; one of them is never picked up.
        ConsultantUas(
            sipp_dir / "citizens-called-back",
            port=5092,
            ring_ms=500,
            talk_ms=30_000,  # the greeting plays before the consultant is rung
            no_answer=(NEVER_ANSWERS,),
        ),
    ):
        listed = await eventually(
            lambda: asyncio.to_thread(_listed, it_env),
            lambda found: len(found) == 2,
            30,
            "the kept requests in the list",
        )
        # Closed: both wait, none dialed (the list says so to supervisors).
        assert {c["state"] for c in listed.values()} == {"waiting"}
        assert {c["attempts"] for c in listed.values()} == {0}
        opening = str(_offset_to(dt.time(9, 0, 5)))
        await asyncio.to_thread(clock_file.write_text, opening, encoding="ascii")
        done = await eventually(
            lambda: asyncio.to_thread(_listed, it_env),
            lambda found: (
                found["after-hours-1"]["state"] == "answered"
                and found["after-hours-2"]["state"] == "given_up"
            ),
            180,
            "one answered, one given up",
        )
    answered = done["after-hours-1"]
    call_id = answered["answered_call_id"]
    assert call_id, answered
    assert [a["outcome"] for a in answered["history"]] == ["answered"]
    gone = done["after-hours-2"]
    assert gone["attempts"] == 2
    assert [a["outcome"] for a in gone["history"]] == ["not answered", "not answered"]
    # Recorded like any call, in the call log, handed to the only consultant.
    await eventually(
        lambda: asyncio.to_thread(
            lambda: list(it_env.settings.recordings_dir.rglob(f"{call_id}.*"))
        ),
        bool,
        30,
        "the call-back's recording",
    )
    calls = {c["id"]: c for c in dasan_json(it_env, "calls", "--last", "20")}
    assert calls[call_id]["linkedid"].startswith("care-")
    assert calls[call_id]["consultant"] == ONLY
