"""``/ws``: live changes pushed to desktops and wallboards as JSON, filtered by role.

Protocol (server -> client): ``{"type": "hello", "data": {"user_id", "role"}}``, then
``{"type": "snapshot", "data": {"consultants", "queues", "calls"}}``, then one message per
change: ``consultant_changed`` / ``call_changed`` / ``queue_changed`` / ``spy_changed`` /
``suggestions`` (agent assist: cases for what was just said on a call) / ``resync`` (refetch
everything), each ``{"type": ..., "data": <the view>}``.
Client -> server: ``{"type": "auth", "token": ...}`` as the first message when the URL has no
``?token=``; ``{"type": "ping"}`` is answered with ``pong``.

Invariants:
- The subscription is opened before the snapshot is read, so no change falls between them.
- Consultants see consultant and queue changes and only the calls they are on; supervisors
  and admins see everything. Spy sessions are never shown to consultants.
- A client that cannot take a message within ``send_timeout_s`` is disconnected; a client that
  does not authenticate within ``auth_timeout_s`` is closed with code 4401.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web
from pydantic import TypeAdapter

from common.principal import Principal, Role
from cti.control import (
    CallChanged,
    CallSummary,
    CenterEvent,
    ConsultantChanged,
    ConsultantView,
    ContactCenter,
    EventStream,
    QueueChanged,
    QueueStats,
    Resync,
    SpyChanged,
    SuggestionsChanged,
)

log = logging.getLogger(__name__)
# Wire name of each event, and the field sent as "data" (None: the whole event).
_EVENTS: dict[type[Any], tuple[str, str | None]] = {
    ConsultantChanged: ("consultant_changed", "consultant"),
    CallChanged: ("call_changed", "call"),
    QueueChanged: ("queue_changed", "queue"),
    SpyChanged: ("spy_changed", None),
    SuggestionsChanged: ("suggestions", None),
    Resync: ("resync", None),
}
_CLOSE_UNAUTHORIZED = 4401
_NOT_ACCEPTED = {"type": "error", "data": {"message": 'only {"type": "ping"} is accepted here'}}


def visible(event: CenterEvent, principal: Principal) -> bool:
    if principal.role is not Role.CONSULTANT:
        return True
    if isinstance(event, CallChanged):
        return _on_call(event.call, principal.user_id)
    if isinstance(event, SuggestionsChanged):  # what the citizen said: their consultant only
        return event.consultant_id == principal.user_id
    return not isinstance(event, SpyChanged)


def _on_call(call: CallSummary, user_id: str) -> bool:
    return call.consultant_id == user_id or any(p.address == user_id for p in call.parties)


@dataclass(frozen=True, slots=True)
class Snapshot:
    consultants: list[ConsultantView]
    queues: list[QueueStats]
    calls: list[CallSummary]


@dataclass(frozen=True, slots=True)
class WsConfig:
    auth_timeout_s: float
    send_timeout_s: float
    query_timeout_s: float


class EventEncoder:
    """Serializes events and snapshots with pydantic, one adapter per type built once."""

    def __init__(self) -> None:
        self._adapters = {cls: TypeAdapter(cls) for cls in _EVENTS}
        self._snapshot = TypeAdapter(Snapshot)

    def event(self, event: CenterEvent) -> str:
        name, field = _EVENTS[type(event)]
        data = self._adapters[type(event)].dump_python(event, mode="json")
        payload = data[field] if field is not None else data
        return json.dumps({"type": name, "data": payload}, ensure_ascii=False)

    def snapshot(self, snapshot: Snapshot) -> str:
        data = self._snapshot.dump_python(snapshot, mode="json")
        return json.dumps({"type": "snapshot", "data": data}, ensure_ascii=False)


class WebSocketHub:
    """Serves ``/ws`` connections; ``close_all`` on shutdown."""

    def __init__(
        self,
        center: ContactCenter,
        authenticate: Callable[[str, str], Awaitable[Principal | None]],
        config: WsConfig,
        on_count: Callable[[int], None],
    ) -> None:
        self._center = center
        self._authenticate = authenticate
        self._config = config
        self._on_count = on_count
        self._encoder = EventEncoder()
        self._sockets: set[web.WebSocketResponse] = set()

    @property
    def count(self) -> int:
        return len(self._sockets)

    async def handle(self, request: web.Request, principal: Principal | None) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=16 * 1024)
        await ws.prepare(request)
        if principal is None:
            principal = await self._first_message_auth(ws, request.remote or "unknown")
            if principal is None:
                await ws.close(code=_CLOSE_UNAUTHORIZED, message=b"unauthorized")
                return ws
        if principal.role is Role.OFFICIAL:  # officials see their tickets, not the center
            await ws.close(code=_CLOSE_UNAUTHORIZED, message=b"not for officials")
            return ws
        if principal.tenant is not None:  # the live feed is city-wide (no district filter yet)
            await ws.close(code=_CLOSE_UNAUTHORIZED, message=b"city-wide feed; not for districts")
            return ws
        self._sockets.add(ws)
        self._on_count(len(self._sockets))
        try:
            await self._serve(ws, principal)
        except TimeoutError:
            log.warning("ws %s: the center did not answer the snapshot", principal.user_id)
            await ws.close(code=1011, message=b"center did not answer")
        except ConnectionError as exc:  # the client went away mid-send; nothing left to tell it
            log.info("ws %s: connection lost: %r", principal.user_id, exc)
        finally:
            self._sockets.discard(ws)
            self._on_count(len(self._sockets))
        return ws

    async def close_all(self) -> None:
        for ws in tuple(self._sockets):
            await ws.close(code=1001, message=b"server shutdown")

    async def _first_message_auth(self, ws: web.WebSocketResponse, origin: str) -> Principal | None:
        try:
            async with asyncio.timeout(self._config.auth_timeout_s):
                msg = await ws.receive()
        except TimeoutError:
            return None
        if msg.type is not WSMsgType.TEXT:
            return None
        try:
            data = json.loads(msg.data)
        except ValueError:
            return None
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str) or data.get("type") != "auth":
            return None
        return await self._authenticate(token, origin)

    async def _serve(self, ws: web.WebSocketResponse, principal: Principal) -> None:
        async with contextlib.aclosing(self._center.subscribe()) as events:
            hello = {"user_id": principal.user_id, "role": principal.role.value}
            await self._send(ws, json.dumps({"type": "hello", "data": hello}))
            async with asyncio.timeout(self._config.query_timeout_s):
                snapshot = await self._read_snapshot(principal)
            await self._send(ws, self._encoder.snapshot(snapshot))
            pump = asyncio.create_task(self._pump(ws, events, principal))
            try:
                await self._read_client(ws)
            finally:
                pump.cancel()
                await asyncio.gather(pump, return_exceptions=True)

    async def _read_snapshot(self, principal: Principal) -> Snapshot:
        calls = [c for c in await self._center.live_calls() if _visible_call(c, principal)]
        consultants = list(await self._center.consultants())
        return Snapshot(consultants, list(await self._center.queues()), calls)

    async def _pump(
        self, ws: web.WebSocketResponse, events: EventStream, principal: Principal
    ) -> None:
        async for event in events:
            if not visible(event, principal):
                continue
            try:
                await self._send(ws, self._encoder.event(event))
            except (TimeoutError, ConnectionError) as exc:
                log.info("ws %s dropped: %r", principal.user_id, exc)
                await ws.close(code=1008, message=b"too slow")
                return

    async def _read_client(self, ws: web.WebSocketResponse) -> None:
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            try:
                kind = json.loads(msg.data).get("type")
            except (ValueError, AttributeError):
                kind = None
            reply = {"type": "pong"} if kind == "ping" else _NOT_ACCEPTED
            try:
                await self._send(ws, json.dumps(reply))
            except (TimeoutError, ConnectionError):
                return

    async def _send(self, ws: web.WebSocketResponse, text: str) -> None:
        async with asyncio.timeout(self._config.send_timeout_s):
            await ws.send_str(text)


def _visible_call(call: CallSummary, principal: Principal) -> bool:
    return principal.role is not Role.CONSULTANT or _on_call(call, principal.user_id)
