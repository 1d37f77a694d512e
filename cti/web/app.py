"""The aiohttp application of the CTI web edge: REST under /api/, /ws, pages, OpenAPI, metrics.

Invariants:
- ``create_app`` builds everything from its arguments (no globals, nothing at import time):
  the center, the authenticator, a metrics registry (a fresh one when none is given) and any
  extra routes (``Endpoint``s, or plain ``web.RouteDef``s which then need any signed-in
  role), which must live under ``/api/`` and may not shadow a built-in route.
- The auth middleware only identifies the caller (``request["principal"]``, origin = remote
  address); each endpoint's dispatcher decides 401/403. A WebSocket may carry its token in
  ``?token=`` (browsers cannot set headers there) or send it as its first message.
- Every response gets ``nosniff``, ``no-referrer`` and ``frame-ancestors``/``DENY``; API and
  WebSocket responses are never cached. Unknown routes under /api/ answer with ``ErrorBody``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from cti.auth import Authenticator
from cti.control import ContactCenter
from cti.settings import HttpSettings
from cti.web.api_calllog import CallLogApi, CallLogReader
from cti.web.api_calls import CallApi, QueueApi
from cti.web.api_consultants import ConsultantApi
from cti.web.api_session import SessionApi
from cti.web.dispatch import PRINCIPAL, make_handler
from cti.web.endpoint import PUBLIC, STAFF, ApiRequest, Endpoint, from_route
from cti.web.errors import error_response
from cti.web.metrics import WebMetrics
from cti.web.openapi import build_openapi
from cti.web.pages import PageSite, load_files
from cti.web.schemas import Health
from cti.web.ws import WebSocketHub, WsConfig

log = logging.getLogger(__name__)
ENDPOINTS = web.AppKey("endpoints", tuple[Endpoint, ...])
WS_HUB = web.AppKey("ws_hub", WebSocketHub)
VERSION = "0.1.0"


def create_app(
    center: ContactCenter,
    auth: Authenticator,
    extra_routes: Iterable[Endpoint | web.RouteDef] = (),
    *,
    registry: CollectorRegistry | None = None,
    settings: HttpSettings | None = None,
    calllog: CallLogReader | None = None,
) -> web.Application:
    settings = settings or HttpSettings()
    registry = registry if registry is not None else CollectorRegistry()
    metrics = WebMetrics(registry)
    config = WsConfig(
        settings.ws_auth_timeout_s, settings.ws_send_timeout_s, settings.center_timeout_s
    )
    hub = WebSocketHub(center, auth.authenticate_async, config, metrics.ws_clients.set)
    api = [
        *SessionApi(auth).endpoints(),
        *ConsultantApi(center).endpoints(),
        *CallApi(center).endpoints(),
        *QueueApi(center).endpoints(),
        *(CallLogApi(calllog).endpoints() if calllog is not None else ()),
    ]
    # Plain aiohttp routes are open to any signed-in role; their handlers check the rest.
    extra = [r if isinstance(r, Endpoint) else from_route(r) for r in extra_routes]
    for endpoint in extra:
        if not endpoint.path.startswith("/api/"):
            raise ValueError(f"extra route {endpoint.key} must live under /api/")
    document: list[bytes] = []  # filled below: the document describes its own route too
    endpoints = [
        *api,
        *extra,
        *PageSite(load_files()).endpoints(),
        *_edge(hub, registry),
        _openapi_endpoint(document),
    ]
    keys = [e.key for e in endpoints]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate routes: {sorted({k for k in keys if keys.count(k) > 1})}")
    document.append(json.dumps(build_openapi(endpoints, "Dasan CTI", VERSION)).encode())

    app = web.Application(middlewares=[_json_errors, metrics.middleware, _authenticator(auth)])
    for endpoint in endpoints:
        handler = make_handler(endpoint, settings.center_timeout_s)
        app.router.add_route(endpoint.method, endpoint.path, handler)
    app[ENDPOINTS] = tuple(endpoints)
    app[WS_HUB] = hub
    app.on_response_prepare.append(_security_headers)
    app.on_shutdown.append(_close_websockets)
    return app


def _edge(hub: WebSocketHub, registry: CollectorRegistry) -> list[Endpoint]:
    async def healthz(r: ApiRequest) -> object:
        return Health(status="ok", websocket_clients=hub.count)

    async def prometheus(r: ApiRequest) -> object:
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def websocket(r: ApiRequest) -> object:
        if r.principal is None and "token" in r.raw.query:
            return error_response(401, "unauthenticated", "invalid or expired token")
        return await hub.handle(r.raw, r.principal)

    ws_doc = (
        "Live changes as JSON messages (hello, snapshot, consultant_changed, "
        "call_changed, queue_changed, spy_changed, suggestions, resync), filtered by role. "
        'Authenticate with ?token= or a first message {"type":"auth","token":...}.'
    )
    return [
        Endpoint("GET", "/healthz", healthz, "Liveness", PUBLIC, "operations", response=Health),
        Endpoint(
            "GET",
            "/metrics",
            prometheus,
            "Prometheus metrics",
            STAFF,
            "operations",
            media_type="text/plain",
        ),
        Endpoint(
            "GET",
            "/ws",
            websocket,
            "WebSocket of live changes",
            PUBLIC,
            "live",
            media_type="application/json",
            description=ws_doc,
            long_lived=True,
            extra={
                "responses": {
                    "101": {"description": "Switching to WebSocket"},
                    "401": {"description": "Invalid token in the URL"},
                }
            },
        ),
    ]


def _openapi_endpoint(document: list[bytes]) -> Endpoint:
    async def openapi(r: ApiRequest) -> object:
        return web.Response(body=document[0], content_type="application/json")

    return Endpoint(
        "GET",
        "/openapi.json",
        openapi,
        "This OpenAPI 3.1 document",
        PUBLIC,
        "operations",
        media_type="application/json",
    )


def _authenticator(auth: Authenticator) -> Middleware:
    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if not token and request.path == "/ws":
            token = request.query.get("token", "")
        if token:
            principal = await auth.authenticate_async(token, request.remote or "unknown")
            if principal is not None:
                request[PRINCIPAL] = principal
        return await handler(request)

    return authenticate


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith("/api/"):
            raise
        return error_response(exc.status, "http_" + str(exc.status), exc.reason)
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal error; see the server log")


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.path.startswith(("/api/", "/ws")):
        response.headers.setdefault("Cache-Control", "no-store")


async def _close_websockets(app: web.Application) -> None:
    await app[WS_HUB].close_all()
