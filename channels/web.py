"""The HTTP edge of the text channels: citizens' chat, consultants' threads, Kannel's callbacks.

Invariants:
- Citizens need no account: a chat is reached with the secret token its start returned (kept
  by the page across reloads); SMS callbacks are accepted only with the key Kannel's
  generated configuration carries.
- Consultants act only on conversations they hold (403 otherwise); supervisors and admins
  may read the figures.
- Every refusal is a JSON ``{"error", "message"}`` with a 4xx status (or an ``error`` event
  on a socket) and nothing half-stored: messages are validated before they are written.
- Message text is returned as data; the pages insert it as text, never as markup.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import WSMsgType, web

from channels.live import Listener
from channels.model import MessageRefused
from channels.service import ChannelsService, ChatClosed, NotYours, conversation_json
from channels.sms.codec import SmsRefused, decode_inbound
from channels.sms.kannel import inbound_key
from channels.store import ConversationClosed, UnknownConversation
from common.principal import Principal, Role
from cti.web.dispatch import PRINCIPAL
from cti.web.endpoint import ANY_ROLE, PUBLIC, Access, Endpoint, from_route
from cti.web.errors import error_response

log = logging.getLogger("dasan.channels.web")
Authenticate = Callable[[str, str], Awaitable[Principal | None]]
WS_MAX_BYTES = 64 * 1024
_PAGES = {
    "/chat": ("chat.html", "text/html"),
    "/chat.js": ("chat.js", "text/javascript"),
    "/chat.css": ("chat.css", "text/css"),
    "/chat-desk.js": ("desk.js", "text/javascript"),
    "/chat-board.js": ("board.js", "text/javascript"),
}


def _error(status: int, code: str, message: str) -> web.Response:
    return error_response(status, code, message)


def _refusal(exc: Exception) -> web.Response:
    if isinstance(exc, MessageRefused):
        return _error(422, exc.reason, str(exc))
    if isinstance(exc, NotYours):
        return _error(403, "not_yours", str(exc))
    if isinstance(exc, UnknownConversation):
        return _error(404, "unknown_conversation", str(exc))
    if isinstance(exc, ConversationClosed):
        return _error(409, "ended", str(exc))
    if isinstance(exc, ChatClosed):
        return _error(409, "closed", str(exc))
    raise exc


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > WS_MAX_BYTES:
        raise MessageRefused("too_large", "the request body is too large")
    try:
        body = json.loads(await request.read() or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise MessageRefused("malformed", "the body is not JSON") from exc
    if not isinstance(body, dict):
        raise MessageRefused("malformed", "the body must be a JSON object")
    return body


class ChannelRoutes:
    def __init__(self, service: ChannelsService, authenticate: Authenticate) -> None:
        self.service = service
        self._authenticate = authenticate

    def route_defs(self) -> list[tuple[web.RouteDef, Access]]:
        public = [
            web.post("/api/chat/start", self.start_chat),
            web.get("/api/chat/ws", self.citizen_ws),
            web.get("/api/sms/inbound", self.sms_inbound),
            web.get("/api/sms/dlr", self.sms_dlr),
            web.get("/api/conversations/ws", self.consultant_ws),
        ]
        signed_in = [
            web.get("/api/conversations/mine", self.mine),
            web.post("/api/conversations/{id}/messages", self.reply),
            web.post("/api/conversations/{id}/handover", self.handover),
            web.post("/api/conversations/{id}/end", self.end),
            web.get("/api/channels/stats", self.stats),
        ]
        return [(r, PUBLIC) for r in public] + [(r, ANY_ROLE) for r in signed_in]

    def endpoints(self) -> list[Endpoint]:
        return [from_route(route, access, "channels") for route, access in self.route_defs()]

    # Pages ----------------------------------------------------------------------------
    @staticmethod
    def page_routes() -> list[web.RouteDef]:
        async def page(request: web.Request) -> web.Response:
            name, kind = _PAGES[request.path]
            body = resources.files("channels.pages").joinpath(name).read_bytes()
            return web.Response(body=body, content_type=kind, charset="utf-8")

        return [web.get(path, page) for path in _PAGES]

    # Citizens -------------------------------------------------------------------------
    async def start_chat(self, request: web.Request) -> web.Response:
        """Open a chat (language in the body); returns its id and the citizen's token."""
        try:
            body = await _json_body(request)
            conv, token = await self.service.start_chat(str(body.get("language", "ko")))
        except (MessageRefused, ChatClosed) as exc:
            return _refusal(exc)
        return web.json_response(
            {"conversation": conversation_json(conv), "token": token}, status=201
        )

    async def citizen_ws(self, request: web.Request) -> web.StreamResponse:
        """The citizen's live chat; the first message is ``{"type": "auth", "token": ...}``."""
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=WS_MAX_BYTES)
        await ws.prepare(request)
        token = await _first_token(ws)
        conv = await self.service.resume(token) if token else None
        if conv is None:
            await ws.send_json({"type": "error", "reason": "no_chat", "message": "no open chat"})
            await ws.close(code=4004, message=b"no open chat")
            return ws
        listener = self.service.hub.watch_conversation(conv.id)
        try:
            await ws.send_json({"type": "state", "conversation": await self.service.view(conv.id)})
            await _pump(ws, listener, lambda data: self._citizen_says(conv.id, data))
        finally:
            self.service.hub.forget(listener)
        return ws

    async def _citizen_says(self, conv_id: str, data: dict[str, Any]) -> dict[str, Any] | None:
        kind = data.get("type")
        if kind == "message":
            ref = data.get("ref")
            ref = str(ref)[:64] if ref is not None else None
            message = await self.service.citizen_message(conv_id, data.get("text"), ref)
            return {"type": "ack", "ref": ref, "seq": message.seq}
        if kind in ("typing", "read"):
            await self.service.citizen_signal(conv_id, kind, _int(data.get("seq")))
            return None
        if kind == "end":
            await self.service.citizen_end(conv_id)
            return None
        raise MessageRefused("malformed", f"unknown message type {kind!r}")

    # Kannel ---------------------------------------------------------------------------
    def _kannel_key_ok(self, request: web.Request) -> bool:
        gateway = self.service.gateway
        if gateway is None:
            return False
        return hmac.compare_digest(request.query.get("key", ""), inbound_key(gateway.cfg))

    async def sms_inbound(self, request: web.Request) -> web.Response:
        """An SMS from a citizen, as Kannel's get-url delivers it."""
        if not self._kannel_key_ok(request):
            return _error(403, "forbidden", "unknown SMS gateway")
        try:
            sms = decode_inbound(request.rel_url.raw_query_string)
            conv_id = await self.service.sms_inbound(sms)
        except (MessageRefused, ConversationClosed) as exc:
            log.warning("inbound SMS refused: %s", exc)
            return _refusal(exc)
        return web.json_response({"conversation": conv_id}, status=202)

    async def sms_dlr(self, request: web.Request) -> web.Response:
        """A delivery report from Kannel (``dlr-url``)."""
        gateway = self.service.gateway
        if gateway is None:
            return _error(404, "no_sms", "SMS is not configured")
        try:
            outbox_id, status = int(request.query["id"]), int(request.query["status"])
        except (KeyError, ValueError):
            return _error(400, "malformed", "id and status must be integers")
        if not await gateway.delivery_report(outbox_id, status, request.query.get("detail", "")):
            return _error(404, "unknown_message", f"no outbox message {outbox_id}")
        return web.json_response({"kept": True}, status=202)

    # Consultants ----------------------------------------------------------------------
    @staticmethod
    def _consultant(request: web.Request) -> str:
        principal: Principal | None = request.get(PRINCIPAL)
        if principal is None:
            raise web.HTTPUnauthorized()
        return principal.user_id

    async def mine(self, request: web.Request) -> web.Response:
        """The conversations the signed-in consultant holds, with their messages."""
        return web.json_response(await self.service.mine(self._consultant(request)))

    async def reply(self, request: web.Request) -> web.Response:
        """The consultant writes in a conversation they hold (SMS goes out through Kannel)."""
        who = self._consultant(request)
        try:
            body = await _json_body(request)
            message = await self.service.consultant_message(
                who, request.match_info["id"], body.get("text")
            )
        except (MessageRefused, NotYours, UnknownConversation, ConversationClosed) as exc:
            return _refusal(exc)
        return web.json_response(message.as_json(), status=201)

    async def handover(self, request: web.Request) -> web.Response:
        """Hand the conversation to another consultant (routing picks who)."""
        try:
            await self.service.handover(self._consultant(request), request.match_info["id"])
        except (NotYours, UnknownConversation) as exc:
            return _refusal(exc)
        return web.json_response({"handed_over": True})

    async def end(self, request: web.Request) -> web.Response:
        """End the conversation; its transcript is sealed into the catalog."""
        try:
            conv = await self.service.consultant_end(
                self._consultant(request), request.match_info["id"]
            )
        except (NotYours, UnknownConversation) as exc:
            return _refusal(exc)
        return web.json_response(conversation_json(conv))

    async def stats(self, request: web.Request) -> web.Response:
        """Per-channel figures since start: offered, answered, within 60 s, waiting, held."""
        return web.json_response(self.service.channel_figures())

    async def consultant_ws(self, request: web.Request) -> web.StreamResponse:
        """The consultant's live threads; the first message is ``{"type": "auth", ...}``."""
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=WS_MAX_BYTES)
        await ws.prepare(request)
        token = await _first_token(ws)
        principal = await self._authenticate(token, request.remote or "?") if token else None
        if principal is None or principal.role is not Role.CONSULTANT:
            await ws.send_json(
                {
                    "type": "error",
                    "reason": "unauthenticated",
                    "message": "a consultant's token is needed",
                }
            )
            await ws.close(code=4001, message=b"unauthenticated")
            return ws
        who = principal.user_id
        listener = self.service.hub.watch_consultant(who)
        try:
            await ws.send_json({"type": "mine", "conversations": await self.service.mine(who)})
            await _pump(ws, listener, lambda data: self._consultant_says(who, data))
        finally:
            self.service.hub.forget(listener)
        return ws

    async def _consultant_says(self, who: str, data: dict[str, Any]) -> dict[str, Any] | None:
        kind = data.get("type")
        conv_id = str(data.get("conversation", ""))
        if kind == "message":
            message = await self.service.consultant_message(who, conv_id, data.get("text"))
            return {"type": "ack", "ref": data.get("ref"), "seq": message.seq}
        if kind in ("typing", "read"):
            await self.service.consultant_signal(who, conv_id, kind, _int(data.get("seq")))
            return None
        raise MessageRefused("malformed", f"unknown message type {kind!r}")


async def _first_token(ws: web.WebSocketResponse, within_s: float = 10.0) -> str:
    """The token of the socket's first message ``{"type": "auth", "token": ...}`` or ""."""
    try:
        msg = await ws.receive(timeout=within_s)
        data = json.loads(msg.data) if msg.type is WSMsgType.TEXT else None
    except (TimeoutError, ValueError):
        return ""
    if isinstance(data, dict) and data.get("type") == "auth" and isinstance(data.get("token"), str):
        return str(data["token"])[:200]
    return ""


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


async def _pump(
    ws: web.WebSocketResponse,
    listener: Listener,
    handle: Callable[[dict[str, Any]], Any],
) -> None:
    """Relay hub events to the socket and the socket's messages to ``handle``."""

    async def outbound() -> None:
        while True:
            event = await listener.queue.get()
            if event is None:  # fell behind: the page reloads its state
                await ws.close(code=4008, message=b"resync")
                return
            await ws.send_json(event)

    sender = asyncio.create_task(outbound())
    try:
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            await ws.send_json(await _answer(msg.data, handle))
    finally:
        sender.cancel()


async def _answer(raw: str, handle: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    ref: object = None
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise MessageRefused("malformed", "a message must be a JSON object")
        ref = data.get("ref")
        result = await handle(data)
        return result if result is not None else {"type": "ok"}
    except ValueError as exc:
        reason = exc.reason if isinstance(exc, MessageRefused) else "malformed"
        return {"type": "error", "reason": reason, "message": str(exc), "ref": ref}
    except (NotYours, UnknownConversation, ConversationClosed, SmsRefused) as exc:
        reason = exc.reason if isinstance(exc, SmsRefused) else type(exc).__name__
        return {"type": "error", "reason": reason, "message": str(exc), "ref": ref}
