"""Chat through the real engine, and text capacity against a real SIP call.

- A citizen chats in Korean over the WebSocket, the consultant answers on theirs; typing and
  read indicators reach the other side; the engine is killed mid-chat and every message is
  still there afterwards (a message re-sent with the same ref after the restart is stored once).
- A consultant holding 3 chats is offered no fourth and no call: a real SIPp citizen waits
  until the consultant's last chat ends, then is rung to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from cti.ami.client import AmiClient
from cti.ami.messages import AmiError
from dasan.sipp import ConsultantUas
from tests.integration.channels.helpers import conversations, mine
from tests.integration.cti.helpers import HttpUser, place_call, wait_answered
from tests.integration.support import AmiRecorder, EngineProcess, ItEnv, eventually

QUESTION = "안녕하세요, 여권 재발급은 어디서 하나요?"
ANSWER = "가까운 구청 민원실에서 하실 수 있습니다."


def _base(env: ItEnv) -> str:
    http = env.settings.http
    return f"{http.host}:{http.port}"


async def start_chat(http: aiohttp.ClientSession, env: ItEnv, language: str = "ko") -> str:
    async with http.post(f"http://{_base(env)}/api/chat/start", json={"language": language}) as r:
        assert r.status == 201, await r.text()
        return str((await r.json())["token"])


@asynccontextmanager
async def socket(
    http: aiohttp.ClientSession, env: ItEnv, path: str, token: str
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    async with http.ws_connect(f"ws://{_base(env)}{path}") as ws:
        await ws.send_json({"type": "auth", "token": token})
        yield ws


async def next_of(
    ws: aiohttp.ClientWebSocketResponse, kind: str, timeout: float = 20
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no {kind} event"
        event = await ws.receive_json(timeout=left)
        if event.get("type") == kind:
            return dict(event)


async def holder(env: ItEnv, conv_id: str) -> str:
    async def probe() -> list[dict[str, Any]]:
        return [r for r in conversations(env) if r["id"] == conv_id]

    rows = await eventually(probe, lambda rs: bool(rs) and rs[0]["consultant"], 30, "a holder")
    return str(rows[0]["consultant"])


async def test_korean_chat_with_indicators_survives_an_engine_restart(
    web_engine: EngineProcess, it_env: ItEnv, http: aiohttp.ClientSession
) -> None:
    env = it_env
    token = await start_chat(http, env)
    async with socket(http, env, "/api/chat/ws", token) as citizen:
        state = await next_of(citizen, "state")
        conv_id = state["conversation"]["id"]
        await citizen.send_json({"type": "message", "text": QUESTION, "ref": "q1"})
        assert (await next_of(citizen, "ack"))["seq"] == 1
        who = await holder(env, conv_id)
        consultant = await HttpUser(http, env.settings, who).login()
        async with socket(http, env, "/api/conversations/ws", consultant._token) as desk:
            held = await next_of(desk, "mine")
            (thread,) = [c for c in held["conversations"] if c["id"] == conv_id]
            assert [m["text"] for m in thread["messages"]] == [QUESTION]
            await citizen.send_json({"type": "typing"})
            assert (await next_of(desk, "typing"))["conversation"] == conv_id
            await desk.send_json({"type": "read", "conversation": conv_id, "seq": 1})
            assert (await next_of(citizen, "read"))["seq"] == 1
            await desk.send_json({"type": "typing", "conversation": conv_id})
            assert (await next_of(citizen, "typing"))["by"] == "consultant"
            await desk.send_json({"type": "message", "conversation": conv_id, "text": ANSWER})
            got = await next_of(citizen, "message")
            assert (got["message"]["text"], got["message"]["sender"]) == (ANSWER, "consultant")

    web_engine.kill()
    web_engine.start()
    async with aiohttp.ClientSession() as fresh:
        async with socket(fresh, env, "/api/chat/ws", token) as citizen:
            state = await next_of(citizen, "state", 30)
            assert [m["text"] for m in state["conversation"]["messages"]] == [QUESTION, ANSWER]
            await citizen.send_json({"type": "message", "text": QUESTION, "ref": "q1"})  # resent
            assert (await next_of(citizen, "ack"))["seq"] == 1
            await citizen.send_json({"type": "message", "text": "감사합니다", "ref": "q2"})
            assert (await next_of(citizen, "ack"))["seq"] == 3
        consultant = await HttpUser(fresh, env.settings, who).login()
        (thread,) = [t for t in await mine(consultant) if t["id"] == conv_id]
        assert [m["text"] for m in thread["messages"]] == [QUESTION, ANSWER, "감사합니다"]
        await consultant.ok("POST", f"/api/conversations/{conv_id}/end")


async def test_three_chats_then_no_fourth_and_no_call(
    web_engine: EngineProcess,
    *,
    it_env: ItEnv,
    http: aiohttp.ClientSession,
    ami: AmiClient,
    sipp_dir: Path,
    consultants: ConsultantUas,
) -> None:
    env = it_env
    other = await HttpUser(http, env.settings, "c0002").login()
    await other.ok("POST", "/api/consultants/c0002/not-ready", {"reason": "break"})
    c1 = await HttpUser(http, env.settings, "c0001").login()
    try:
        tokens = [await start_chat(http, env) for _ in range(4)]
        await eventually(lambda: mine(c1), lambda held: len(held) == 3, 30, "three chats held")
        supervisor = await HttpUser(http, env.settings, "supervisor").login()
        stats = await supervisor.ok("GET", "/api/channels/stats")
        assert stats["chat"]["waiting"] >= 1 and stats["chat"]["held"] >= 3

        async with AmiRecorder(ami) as recorder:
            call = place_call(sipp_dir, "capacity", hangup_after_ms=40_000)
            waiting = await eventually(
                lambda: supervisor.ok("GET", "/api/waiting"), bool, 40, "the call waiting"
            )
            assert waiting[0]["language"] == "ko"
            # The call waits while c0001 holds chats: no ring to them, no fourth chat.
            held = [t["id"] for t in await mine(c1)]
            assert len(held) == 3
            rung = [e.get("DestChannel") for e in recorder.named("DialBegin")]
            assert not [c for c in rung if c.startswith("PJSIP/c0001-")], rung
            for conv_id in held:
                await c1.ok("POST", f"/api/conversations/{conv_id}/end")
            # Freed chats let the fourth in first (it waited longer); end it too.
            rest = await eventually(lambda: mine(c1), lambda h: len(h) <= 1, 20, "the fourth")
            for thread in rest:
                await c1.ok("POST", f"/api/conversations/{thread['id']}/end")
            answered = await wait_answered(recorder, set(), timeout=40)
            assert answered.consultant_id == "c0001"
            with contextlib.suppress(AmiError):  # the consultant's phone may have hung up
                await ami.action("Hangup", Channel=answered.citizen_channel)
            await asyncio.wait_for(call, 60)
        del tokens
    finally:
        await other.ok("POST", "/api/consultants/c0002/ready")
