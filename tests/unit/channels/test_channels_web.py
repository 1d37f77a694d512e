"""The chat and SMS HTTP edge: bad input gets a clear refusal; markup is kept as inert text."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.typedefs import Handler

from channels.service import ChannelsService
from channels.sms.kannel import inbound_key
from channels.web import ChannelRoutes
from common.principal import Principal, Role
from cti.web.dispatch import PRINCIPAL

SCRIPT = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


async def _auth(token: str, origin: str) -> Principal | None:
    return Principal(token, Role.CONSULTANT, origin) if token.startswith("c0") else None


@pytest.fixture
async def client(
    service: ChannelsService,
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    @web.middleware
    async def who(request: web.Request, handler: Handler) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer c0"):
            request[PRINCIPAL] = Principal(header[7:], Role.CONSULTANT, "test")
        return await handler(request)

    app = web.Application(middlewares=[who])
    routes = ChannelRoutes(service, _auth)
    app.router.add_routes([r for r, _access in routes.route_defs()])
    app.router.add_routes(routes.page_routes())
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def _ws_chat(client: TestClient[web.Request, web.Application]) -> tuple[object, str]:
    start = await client.post("/api/chat/start", json={"language": "ko"})
    assert start.status == 201
    token = (await start.json())["token"]
    ws = await client.ws_connect("/api/chat/ws")
    await ws.send_json({"type": "auth", "token": token})
    state = await ws.receive_json()
    assert state["type"] == "state"
    return ws, state["conversation"]["id"]


async def test_chat_text_with_markup_is_kept_as_data(
    client: TestClient[web.Request, web.Application], service: ChannelsService
) -> None:
    ws, conv_id = await _ws_chat(client)
    await ws.send_json({"type": "message", "text": SCRIPT, "ref": "a"})  # type: ignore[attr-defined]
    answers = [await ws.receive_json() for _ in range(2)]  # type: ignore[attr-defined]
    assert {"type": "ack", "ref": "a", "seq": 1} in answers
    await service.route_pending()
    holder = next(c for c in ("c0001", "c0002") if conv_id in service.holding(c))
    mine = await client.get(
        "/api/conversations/mine", headers={"Authorization": f"Bearer {holder}"}
    )
    (view,) = await mine.json()
    assert view["messages"][0]["text"] == SCRIPT
    page = await (await client.get("/chat.js")).text()
    assert "innerHTML" not in page and "textContent" in page
    await ws.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("not json", "malformed"),
        (json.dumps(["a"]), "malformed"),
        (json.dumps({"type": "message", "text": ""}), "empty"),
        (json.dumps({"type": "message", "text": "가" * 2001}), "too_long"),
        (json.dumps({"type": "message", "text": 42}), "malformed"),
        (json.dumps({"type": "dance"}), "malformed"),
    ],
)
async def test_bad_chat_messages_are_refused(
    client: TestClient[web.Request, web.Application], payload: str, reason: str
) -> None:
    ws, _conv = await _ws_chat(client)
    await ws.send_str(payload)  # type: ignore[attr-defined]
    answer = await ws.receive_json()  # type: ignore[attr-defined]
    assert (answer["type"], answer["reason"]) == ("error", reason)
    await ws.close()  # type: ignore[attr-defined]


async def test_an_oversized_frame_closes_the_socket(
    client: TestClient[web.Request, web.Application],
) -> None:
    ws, _conv = await _ws_chat(client)
    await ws.send_str("x" * (70 * 1024))  # type: ignore[attr-defined]
    msg = await ws.receive()  # type: ignore[attr-defined]
    assert msg.type.name in ("CLOSE", "CLOSED", "CLOSING")
    assert ws.close_code == 1009  # type: ignore[attr-defined]


async def test_unknown_language_and_wrong_consultant_are_refused(
    client: TestClient[web.Request, web.Application], service: ChannelsService
) -> None:
    bad = await client.post("/api/chat/start", json={"language": "fr"})
    assert bad.status == 422 and (await bad.json())["error"]["code"] == "language"
    _ws, conv_id = await _ws_chat(client)
    await service.route_pending()
    holder = next(c for c in ("c0001", "c0002") if conv_id in service.holding(c))
    other = "c0002" if holder == "c0001" else "c0001"
    refused = await client.post(
        f"/api/conversations/{conv_id}/messages",
        json={"text": "hi"},
        headers={"Authorization": f"Bearer {other}"},
    )
    assert refused.status == 403
    ghost = await client.post(
        "/api/conversations/chat-none/messages",
        json={"text": "hi"},
        headers={"Authorization": f"Bearer {holder}"},
    )
    assert ghost.status == 403  # not held by them: no hint whether it exists
    anonymous = await client.get("/api/conversations/mine")
    assert anonymous.status == 401


async def test_inbound_sms_needs_the_gateway_key_and_a_number(
    client: TestClient[web.Request, web.Application], service: ChannelsService
) -> None:
    assert service.gateway is None
    refused = await client.get("/api/sms/inbound?from=0101&to=120&text=hi")
    assert refused.status == 403
    assert inbound_key(service.settings.kannel) not in (await refused.text())
