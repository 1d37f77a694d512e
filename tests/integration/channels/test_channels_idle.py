"""Idle chats end by themselves through the real engine (``channels.idle_end_s``).

A citizen opens a Korean chat and writes once; a consultant holds it; nobody writes again.
After the idle time the citizen's WebSocket gets a system message in Korean saying why, then
``ended``; the conversation is listed as ended with the notice in its sealed transcript, and
the consultant's desktop no longer shows it.
"""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from channels.texts import idle_ended
from tests.integration.channels.helpers import conversations, mine
from tests.integration.channels.test_channels_chat import holder, next_of, socket, start_chat
from tests.integration.cti.helpers import HttpUser
from tests.integration.support import EngineProcess, ItEnv, eventually

pytestmark = pytest.mark.integration
IDLE_S = 3.0


@pytest.fixture(scope="module")
def engine_env() -> dict[str, str]:
    return {
        "DASAN_IVR__SPEECH_ENABLED": "false",
        "DASAN_CHANNELS__HOURS_SERVICE": "telephone",
        "DASAN_CHANNELS__IDLE_END_S": str(IDLE_S),
        # The sweep runs with routing, at least every reoffer_s.
        "DASAN_CHANNELS__REOFFER_S": "1",
        "DASAN_ACD__LOGGED_IN": '["c0001", "c0002"]',
    }


@pytest.mark.timeout(120)
async def test_an_idle_chat_is_ended_with_a_message_to_the_citizen(
    web_engine: EngineProcess, it_env: ItEnv, http: aiohttp.ClientSession
) -> None:
    env = it_env
    token = await start_chat(http, env, "ko")
    async with socket(http, env, "/api/chat/ws", token) as citizen:
        conv_id = (await next_of(citizen, "state"))["conversation"]["id"]
        await citizen.send_json({"type": "message", "text": "안녕하세요", "ref": "q1"})
        assert (await next_of(citizen, "ack"))["seq"] == 1
        written = time.monotonic()
        who = await holder(env, conv_id)
        notice = await next_of(citizen, "message", 30)
        while notice["message"]["sender"] == "citizen":  # the citizen's own message, echoed
            notice = await next_of(citizen, "message", 30)
        quiet_s = time.monotonic() - written
        assert notice["message"]["sender"] == "system", notice
        assert notice["message"]["text"] == idle_ended("ko", IDLE_S), notice
        await next_of(citizen, "ended", 10)
    assert quiet_s >= IDLE_S * 0.9, quiet_s  # never before the idle time
    print(f"idle chat ended {quiet_s:.1f} s after the last message (idle_end_s={IDLE_S})")
    rows = await eventually(
        lambda: _rows(env, conv_id),
        lambda rs: bool(rs) and bool(rs[0]["record"]),
        30,
        "its transcript",
    )
    row = rows[0]
    assert row["ended_at"] and row["outcome"] == "unanswered" and row["messages"] == 2, row
    consultant = await HttpUser(http, env.settings, who).login()
    assert conv_id not in [t["id"] for t in await mine(consultant)]


async def _rows(env: ItEnv, conv_id: str) -> list[dict[str, Any]]:
    return [r for r in conversations(env) if r["id"] == conv_id]
