"""The IVR's "send me a text" offer through the real PBX and a real Kannel (issue 14).

Outside the desks' hours the closed menu offers key 2, "send me the chat link by SMS", when
an SMS gateway is listening at the call's start (callpath/textoffer.py). Proven here with SIPp
callers and Kannel's fakesmsc as the carrier:
- an English and a Korean caller who press 2 get the chat link and the hours at the carrier
  in their own language (Korean as UCS-2), and their call log says ``sms: sent``;
- a caller offered the SMS whose gateway goes down before they press 2 is told it failed
  (``sms: failed``, the apology prompt) and nothing reaches the carrier;
- a caller who calls while the gateway is down is not offered the SMS at all (the closed
  menu without key 2) and nothing is sent.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from channels.sms.kannel import Kannel
from channels.texts import chat_link
from common.storage import Storage
from dasan.sipp import CitizenCalls, Dtmf, SippResult, ensure_media, run_citizens
from recordings.models import CallRow
from tests.integration.channels.helpers import received_by
from tests.integration.ivr.conftest import foreign_closed_hours, hours_env
from tests.integration.support import (
    AmiRecorder,
    EngineProcess,
    ItEnv,
    dasan_json,
    eventually,
    find_citizen_uniqueid,
)

pytestmark = pytest.mark.integration

# English: "2" for English, then "2" (SMS) once the closed menu plays (keys typed ahead are
# kept). Korean: "1", then "8" (sign language and chat, closed), then "2".
ENGLISH_SMS = (Dtmf("2", 1500), Dtmf("2", 6000))
KOREAN_SMS = (Dtmf("1", 1500), Dtmf("8", 2500), Dtmf("2", 5000))
# Late "2": pressed ~14 s after the answer, while the English closed menu (entered ~7 s,
# an 8 s prompt and 2 s to answer) still listens; the test stops Kannel in between.
ENGLISH_LATE_SMS = (Dtmf("2", 1500), Dtmf("2", 12_500))


@pytest.fixture(scope="module")
def engine_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {
        **hours_env(tmp_path_factory.mktemp("hours"), foreign_closed_hours()),
        "DASAN_IVR__SPEECH_ENABLED": "false",
    }


def _caller(caller: str, digits: tuple[Dtmf, ...], folder: Path) -> asyncio.Task[SippResult]:
    spec = CitizenCalls(caller=caller, digits=digits, hangup_after_ms=30_000)
    return asyncio.create_task(run_citizens(spec, folder))


def _nodes(call: dict[str, Any]) -> list[str]:
    return [e["node"] for e in call["journey"]["entries"] if e["event"] == "enter"]


def _calls(env: ItEnv) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in dasan_json(env, "calls", "--last", "50")}


async def _live_nodes(env: ItEnv, call_id: str) -> list[str]:
    """The menu nodes the call entered so far (the journey is written as the caller goes)."""
    storage = await Storage.open(env.settings.storage_url, migrate=False)
    try:
        async with storage.session() as session:
            text = await session.scalar(select(CallRow.journey).where(CallRow.id == call_id))
    finally:
        await storage.close()
    if not text:
        return []
    return [e["node"] for e in json.loads(text).get("entries", []) if e["event"] == "enter"]


async def _number_of(recorder: AmiRecorder, caller: str) -> tuple[str, str]:
    """(uniqueid, caller number as the PBX saw it) of the call from ``caller``."""
    uid = await eventually(
        lambda: _now(find_citizen_uniqueid(recorder, caller)), bool, 20, f"call from {caller}"
    )
    (event,) = [e for e in recorder.named("Newchannel") if e.uniqueid == uid]
    return uid, event.get("CallerIDNum")


async def _now(value: Any) -> Any:
    return value


@pytest.mark.timeout(240)
async def test_callers_taking_the_offer_get_the_sms_in_their_language(
    kannel: Kannel, engine: EngineProcess, recorder: AmiRecorder, sipp_dir: Path, it_env: ItEnv
) -> None:
    await asyncio.to_thread(ensure_media, sipp_dir / "media")
    callers = {"en": ("0103100301", ENGLISH_SMS), "ko": ("0103100302", KOREAN_SMS)}
    tasks = {
        lang: _caller(number, digits, sipp_dir / f"uac-{lang}")
        for lang, (number, digits) in callers.items()
    }
    numbers = {lang: await _number_of(recorder, callers[lang][0]) for lang in callers}
    for task in tasks.values():
        result = await task
        assert result.ok, result.errors
    url = it_env.settings.channels.chat_url
    for lang, (uid, number) in numbers.items():
        texts = await eventually(
            lambda n=number: _now(received_by(kannel, n)),  # type: ignore[misc]
            bool,
            30,
            f"the {lang} SMS at the carrier",
        )
        assert texts == [chat_link(lang, url)], (lang, texts)
        call = _calls(it_env)[uid]
        assert call["language"] == lang, call
        assert call["journey"]["sms"] == "sent", call
        assert {"closed_menu_sms", "offer_sms"} <= set(_nodes(call)), _nodes(call)
    print("SMS at the carrier:", {lang: received_by(kannel, n) for lang, (_, n) in numbers.items()})


@pytest.mark.timeout(240)
async def test_a_gateway_down_is_told_honestly(
    kannel: Kannel, engine: EngineProcess, recorder: AmiRecorder, sipp_dir: Path, it_env: ItEnv
) -> None:
    await asyncio.to_thread(ensure_media, sipp_dir / "media")
    # Offered while Kannel listens; Kannel stops before the caller presses 2.
    late = _caller("0103100303", ENGLISH_LATE_SMS, sipp_dir / "uac-late")
    uid, number = await _number_of(recorder, "0103100303")
    await eventually(
        lambda: _live_nodes(it_env, uid),
        lambda nodes: "closed_menu_sms" in nodes,
        20,
        "the closed menu with the SMS offer",
    )
    await asyncio.to_thread(kannel.down)
    result = await late
    assert result.ok, result.errors
    call = _calls(it_env)[uid]
    assert call["journey"]["sms"] == "failed", call  # the caller heard the apology
    assert "offer_sms" in _nodes(call), _nodes(call)
    assert received_by(kannel, number) == []

    # Calling while Kannel is down: no SMS offer at all.
    down = _caller("0103100304", ENGLISH_SMS, sipp_dir / "uac-down")
    uid, number = await _number_of(recorder, "0103100304")
    result = await down
    assert result.ok, result.errors
    call = _calls(it_env)[uid]
    nodes = _nodes(call)
    assert "closed_menu" in nodes and "closed_menu_sms" not in nodes, nodes
    assert "sms" not in call["journey"], call
    assert received_by(kannel, number) == []
