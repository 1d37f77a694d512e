"""/ws: authentication, snapshot, changes pushed after REST actions, role filtering."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from common.principal import Principal, Role
from cti.control import NotReadyReason, SpyMode
from cti.settings import HttpSettings
from cti.web import WS_HUB, create_app

from .conftest import Edge, ManualClock, new_auth, new_center
from .scenes import SYSTEM, all_ready, answered_call, eventually

DEADLINE_S = 5.0


def _token(edge: Edge, user_id: str) -> str:
    return edge.headers(user_id)["Authorization"].removeprefix("Bearer ")


async def _next(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The next message of type ``kind`` (others are skipped), within the deadline."""
    async with asyncio.timeout(DEADLINE_S):
        while True:
            message: dict[str, Any] = await ws.receive_json()
            if message["type"] == kind:
                return message


async def _open(edge: Edge, user_id: str) -> aiohttp.ClientWebSocketResponse:
    ws = await edge.client.ws_connect("/ws")
    await ws.send_json({"type": "auth", "token": _token(edge, user_id)})
    hello = await _next(ws, "hello")
    assert hello["data"]["user_id"] == user_id
    return ws


async def test_token_as_first_message_gives_hello_and_snapshot(edge: Edge) -> None:
    await all_ready(edge.center)
    ws = await _open(edge, "supervisor")
    snapshot = await _next(ws, "snapshot")
    assert {c["consultant_id"] for c in snapshot["data"]["consultants"]} >= {"c0001", "c0002"}
    assert {q["queue_id"] for q in snapshot["data"]["queues"]} == {"general", "foreign-vi"}
    await ws.close()


async def test_token_in_the_query_string(edge: Edge) -> None:
    ws = await edge.client.ws_connect(f"/ws?token={_token(edge, 'c0001')}")
    hello = await _next(ws, "hello")
    assert hello["data"] == {"user_id": "c0001", "role": "consultant"}
    await ws.close()


async def test_bad_token_in_query_is_401_before_upgrade(edge: Edge) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await edge.client.ws_connect("/ws?token=nope")
    assert caught.value.status == 401


async def test_bad_first_message_closes_with_4401(edge: Edge) -> None:
    ws = await edge.client.ws_connect("/ws")
    await ws.send_json({"type": "auth", "token": "nope"})
    async with asyncio.timeout(DEADLINE_S):
        message = await ws.receive()
    assert message.type is aiohttp.WSMsgType.CLOSE
    assert ws.close_code == 4401


async def test_silent_client_is_closed_after_auth_timeout(clock: ManualClock) -> None:
    settings = HttpSettings(ws_auth_timeout_s=0.2)
    app = create_app(new_center(clock), new_auth(clock), settings=settings)
    async with TestClient(TestServer(app)) as client:
        ws = await client.ws_connect("/ws")
        async with asyncio.timeout(DEADLINE_S):
            message = await ws.receive()
        assert message.type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 4401


async def test_change_arrives_after_a_rest_action(edge: Edge) -> None:
    await all_ready(edge.center)
    ws = await _open(edge, "supervisor")
    await _next(ws, "snapshot")
    response = await edge.client.post(
        "/api/consultants/c0002/not-ready", headers=edge.headers("c0002"), json={"reason": "meal"}
    )
    assert response.status == 200
    change = await _next(ws, "consultant_changed")
    assert change["data"]["consultant_id"] == "c0002"
    assert change["data"]["state"] == "not_ready"
    assert change["data"]["reason"] == "meal"
    await ws.close()


async def test_consultant_sees_own_call_not_others_and_no_spying(edge: Edge) -> None:
    await all_ready(edge.center)
    ws = await _open(edge, "c0001")
    await _next(ws, "snapshot")
    other = answered_call(edge.center, edge.clock, "c0002", number="0101111")
    supervisor = Principal("supervisor", Role.SUPERVISOR, "test")
    await edge.center.start_spy(supervisor, "c0001", SpyMode.LISTEN, None)
    mine = answered_call(edge.center, edge.clock, "c0001", number="0102222")
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(DEADLINE_S):
        while not any(
            m["type"] == "call_changed" and m["data"]["state"] == "talking" for m in seen
        ):
            seen.append(await ws.receive_json())
    calls = {m["data"]["call_id"] for m in seen if m["type"] == "call_changed"}
    assert calls == {mine}
    assert other not in calls
    assert all(m["type"] != "spy_changed" for m in seen)
    # Queue figures and everyone's presence are for everyone.
    assert any(m["type"] == "queue_changed" for m in seen)
    assert {"c0001", "c0002"} <= {
        m["data"]["consultant_id"] for m in seen if m["type"] == "consultant_changed"
    }
    await ws.close()


async def test_supervisor_sees_spy_sessions(edge: Edge) -> None:
    await all_ready(edge.center)
    ws = await _open(edge, "supervisor")
    await _next(ws, "snapshot")
    response = await edge.client.post(
        "/api/consultants/c0001/spy", headers=edge.headers("supervisor"), json={"mode": "barge"}
    )
    assert response.status == 200
    event = await _next(ws, "spy_changed")
    assert event["data"]["active"] is True
    assert event["data"]["session"]["mode"] == "barge"
    assert event["data"]["session"]["device"] == "supervisor"
    await ws.close()


async def test_ping_pong_and_unknown_messages(edge: Edge) -> None:
    ws = await _open(edge, "admin")
    await _next(ws, "snapshot")
    await ws.send_json({"type": "ping"})
    assert (await _next(ws, "pong"))["type"] == "pong"
    await ws.send_str("hello?")
    error = await _next(ws, "error")
    assert "ping" in error["data"]["message"]
    await ws.close()


async def test_closing_unsubscribes(edge: Edge) -> None:
    ws = await _open(edge, "admin")
    await _next(ws, "snapshot")
    assert edge.center.hub.subscriber_count == 1
    app = edge.client.app
    assert app is not None
    assert app[WS_HUB].count == 1
    await ws.close()
    await eventually(lambda: not edge.center.hub.subscriber_count and not app[WS_HUB].count)
    assert (await (await edge.client.get("/healthz")).json())["websocket_clients"] == 0


async def test_resync_reaches_the_client_after_overflow(edge: Edge) -> None:
    await all_ready(edge.center)
    ws = await _open(edge, "supervisor")
    await _next(ws, "snapshot")
    for _ in range(1200):  # more than a subscription holds, with no chance to drain it
        await edge.center.set_not_ready(SYSTEM, "c0003", NotReadyReason.BREAK)
    resync = await _next(ws, "resync")
    assert "behind" in resync["data"]["reason"]
    await ws.close()
