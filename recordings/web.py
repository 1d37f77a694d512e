"""aiohttp handlers for listening to, downloading and searching recordings.

The CTI web edge authenticates each request and puts a ``common.principal.Principal`` in the
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

from common.principal import Principal
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


class _Handlers:
    def __init__(self, access: RecordingAccess, principal_key: PrincipalKey) -> None:
        self._access, self._key = access, principal_key

    def _who(self, request: web.Request) -> Principal:
        return _principal(request, self._key)

    async def _audio(self, request: web.Request, download: bool) -> web.StreamResponse:
        call_id = request.match_info["call_id"]
        stream = await self._access.open_audio(
            self._who(request), call_id, _reason(request), download=download
        )
        disposition = "attachment" if download else "inline"
        response = web.StreamResponse(
            headers={
                "Content-Type": stream.media_type,
                "Cache-Control": "no-store",
                "Content-Disposition": f'{disposition}; filename="{stream.filename}"',
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

    async def listen(self, request: web.Request) -> web.StreamResponse:
        return await self._audio(request, download=False)

    async def download(self, request: web.Request) -> web.StreamResponse:
        return await self._audio(request, download=True)

    async def search(self, request: web.Request) -> web.StreamResponse:
        keyword = request.query.get("q", "")
        limit = min(int(request.query.get("limit", "50")), _MAX_SEARCH_RESULTS)
        hits = await self._access.search(self._who(request), keyword, _reason(request), limit)
        return web.json_response({"query": keyword, "hits": [h.as_json() for h in hits]})

    async def report(self, request: web.Request) -> web.StreamResponse:
        result = await self._access.report(self._who(request), request.query.get("month", ""))
        return web.json_response(result.as_json())


def routes(
    access: RecordingAccess,
    prefix: str = "/api/recordings",
    *,
    principal_key: PrincipalKey = "principal",
) -> list[web.RouteDef]:
    """Route definitions; ``principal_key`` is where the auth middleware left the caller."""
    h = _Handlers(access, principal_key)
    return [
        # No HEAD: every request for audio is an access and is logged as one.
        web.get(f"{prefix}/calls/{{call_id}}/audio", _mapped(h.listen), allow_head=False),
        web.get(f"{prefix}/calls/{{call_id}}/download", _mapped(h.download), allow_head=False),
        web.get(f"{prefix}/search", _mapped(h.search), allow_head=False),
        web.get(f"{prefix}/access-report", _mapped(h.report), allow_head=False),
    ]
