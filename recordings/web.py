"""aiohttp handlers for listening to, downloading and searching recordings.

The CTI web edge authenticates each request and puts a ``dasan.principal.Principal`` in the
request under its key (``cti.web.dispatch.PRINCIPAL``, a ``web.RequestKey``; pass it as
``principal_key``); these handlers never authenticate. The reason for an access comes
from the ``X-Access-Reason`` header (preferred: it stays out of URLs and proxy logs) or the
``reason`` query parameter (for an ``<audio src>``).

Invariants:
- Domain errors are mapped to HTTP statuses here and only here (``_STATUS``).
- Audio is streamed chunk by chunk as it is decrypted; a decryption failure mid-stream
  aborts the response (the client sees a broken transfer, never unauthenticated bytes).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from dasan.principal import Principal
from recordings.access import (
    AccessDenied,
    AccessError,
    ReasonRequired,
    RecordingAccess,
    RecordingGone,
    RecordingNotFound,
    RecordingUnavailable,
)
from recordings.crypto import DecryptionError
from recordings.keys import WrongKeyError

log = logging.getLogger(__name__)

_STATUS: dict[type[AccessError], int] = {
    ReasonRequired: 400,
    AccessDenied: 403,
    RecordingNotFound: 404,
    RecordingGone: 410,
    RecordingUnavailable: 503,
}
_MAX_SEARCH_RESULTS = 200

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


PrincipalKey = web.RequestKey[Principal] | str


def _principal(request: web.Request, key: PrincipalKey) -> Principal:
    principal = request.get(key)
    if not isinstance(principal, Principal):
        raise web.HTTPUnauthorized(
            text='{"error": "not authenticated"}', content_type="application/json"
        )
    return principal


def _reason(request: web.Request) -> str:
    return request.headers.get("X-Access-Reason") or request.query.get("reason", "")


def _error(exc: AccessError) -> web.Response:
    status = _STATUS.get(type(exc), 500)
    return web.json_response({"error": type(exc).__name__, "detail": str(exc)}, status=status)


def _mapped(handler: Handler) -> Handler:
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except AccessError as exc:
            return _error(exc)
        except ValueError as exc:
            return web.json_response({"error": "BadRequest", "detail": str(exc)}, status=400)

    return wrapper


def routes(
    access: RecordingAccess,
    prefix: str = "/api/recordings",
    *,
    principal_key: PrincipalKey = "principal",
) -> list[web.RouteDef]:
    """Route definitions; ``principal_key`` is where the auth middleware left the caller."""

    def who(request: web.Request) -> Principal:
        return _principal(request, principal_key)

    async def audio(request: web.Request, download: bool) -> web.StreamResponse:
        call_id = request.match_info["call_id"]
        stream = await access.open_audio(who(request), call_id, _reason(request), download=download)
        response = web.StreamResponse(
            headers={
                "Content-Type": stream.media_type,
                "Cache-Control": "no-store",
                "Content-Disposition": f'{"attachment" if download else "inline"}; filename="{stream.filename}"',
            }
        )
        await response.prepare(request)
        try:
            async for chunk in stream.chunks:
                await response.write(chunk)
        except (DecryptionError, WrongKeyError, OSError):
            log.exception("recording of call %s failed mid-stream; aborting the response", call_id)
            raise
        await response.write_eof()
        return response

    async def listen(request: web.Request) -> web.StreamResponse:
        return await audio(request, download=False)

    async def download(request: web.Request) -> web.StreamResponse:
        return await audio(request, download=True)

    async def search(request: web.Request) -> web.StreamResponse:
        keyword = request.query.get("q", "")
        limit = min(int(request.query.get("limit", "50")), _MAX_SEARCH_RESULTS)
        hits = await access.search(who(request), keyword, _reason(request), limit)
        return web.json_response({"query": keyword, "hits": [h.as_json() for h in hits]})

    async def report(request: web.Request) -> web.StreamResponse:
        result = await access.report(who(request), request.query.get("month", ""))
        return web.json_response(result.as_json())

    return [
        # No HEAD: every request for audio is an access and is logged as one.
        web.get(f"{prefix}/calls/{{call_id}}/audio", _mapped(listen), allow_head=False),
        web.get(f"{prefix}/calls/{{call_id}}/download", _mapped(download), allow_head=False),
        web.get(f"{prefix}/search", _mapped(search), allow_head=False),
        web.get(f"{prefix}/access-report", _mapped(report), allow_head=False),
    ]
