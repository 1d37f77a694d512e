"""IVR (issue 3) through the real PBX: each of the six languages and several services chosen
by DTMF (RFC 2833 and SIP INFO) arrive at the expected routing target, language and tags; a
caller who presses nothing is still served by a general consultant."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from dasan.sipp import CitizenCalls, ConsultantUas, Dtmf, ensure_media, run_citizens
from tests.integration.ivr.conftest import ALWAYS_OPEN, hours_env
from tests.integration.support import (
    AmiRecorder,
    EngineProcess,
    ItEnv,
    citizen_uniqueid,
    dasan_json,
    roster_languages,
)

# (caller number, digits, dtmf mode, expected language, expected service, expected tags)
CASES = [
    ("0103000101", "11", "rfc2833", "ko", "general", {"skill": "general"}),
    ("0103000102", "12", "info", "ko", "transport", {"skill": "transport"}),
    ("0103000103", "13", "rfc2833", "ko", "documents", {"skill": "documents"}),
    ("0103000104", "14", "rfc2833", "ko", "water_tax", {"skill": "water_tax"}),
    ("0103000105", "16", "info", "ko", "care129", {"skill": "care129", "priority": "3"}),
    ("0103000106", "18", "rfc2833", "ko", "sign_language", {"skill": "sign_language"}),
    ("0103000201", "2", "rfc2833", "en", "foreign_en", {"skill": "interpretation"}),
    ("0103000301", "3", "info", "zh", "foreign_zh", {"skill": "interpretation"}),
    ("0103000401", "4", "rfc2833", "ja", "foreign_ja", {"skill": "interpretation"}),
    ("0103000501", "5", "info", "vi", "foreign_vi", {"skill": "interpretation"}),
    ("0103000601", "6", "rfc2833", "mn", "foreign_mn", {"skill": "interpretation"}),
    ("0103000172", "172", "rfc2833", "zh", "foreign_zh", {"skill": "interpretation"}),
    ("0103000999", "", "rfc2833", "ko", "general", {"skill": "general"}),
]


@pytest.fixture(scope="module")
def engine_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return hours_env(tmp_path_factory.mktemp("hours"), ALWAYS_OPEN)


def _digits(keys: str) -> tuple[Dtmf, ...]:
    # Typed ahead during the welcome (heard out, its keys kept for the menus that follow).
    delays = [1000, 500, 500]
    return tuple(Dtmf(k, delays[i]) for i, k in enumerate(keys))


@pytest.mark.timeout(420)
async def test_languages_and_services_reach_their_targets(
    engine: EngineProcess,
    consultants: ConsultantUas,
    recorder: AmiRecorder,
    sipp_dir: Path,
    it_env: ItEnv,
) -> None:
    await asyncio.to_thread(ensure_media, sipp_dir / "media")
    results = await asyncio.gather(
        *(
            run_citizens(
                CitizenCalls(
                    calls=1,
                    caller=number,
                    digits=_digits(keys),
                    dtmf_mode=mode,  # type: ignore[arg-type]
                    hangup_after_ms=240_000,
                ),
                sipp_dir / f"uac-{number}",
            )
            for number, keys, mode, *_ in CASES
        )
    )
    for (number, *_), result in zip(CASES, results, strict=True):
        assert result.ok, f"{number}: {result.errors}"

    calls = {c["id"]: c for c in dasan_json(it_env, "calls", "--last", "200")}
    languages = roster_languages()
    for number, keys, _mode, language, service, tags in CASES:
        uniqueid = citizen_uniqueid(recorder, number)
        call = calls[uniqueid]
        why = f"{keys}: {call['language']} {call['service']} {json.dumps(call['journey'])}"
        assert call["language"] == language, why
        assert call["service"] == service, why
        consultant = call["consultant"]
        assert consultant, (keys, call)
        assert language in languages[consultant], (keys, consultant, languages[consultant])
        journey = call["journey"]
        final_tags = journey["tags"] if isinstance(journey, dict) and "tags" in journey else {}
        for key, value in tags.items():
            assert str(final_tags.get(key)) == value, (keys, key, final_tags)
        answered = recorder.where("DialEnd", Uniqueid=uniqueid, DialStatus="ANSWER")
        assert answered and answered[0].get("DestChannel").startswith(f"PJSIP/{consultant}-")
