"""Turns an ``Endpoint`` into an aiohttp handler: authorize, validate, call, serialize.

Invariants, in order for every request:
1. no principal on a non-public endpoint -> 401; a district's user on a city-wide endpoint
   (access without ``districts``) -> 403; a role the endpoint does not list -> 403;
2. a role allowed only on what it owns -> the owner rule is asked (domain errors such as
   ``NotFound`` pass through to the error mapping), and 403 when it says no;
3. the query string and JSON body are validated -> 400 (not JSON) or 422 (naming the field);
4. the handler runs under ``timeout_s``; a timeout is reported as 503, never hung on;
5. the result is serialized with the endpoint's declared response type (None -> 204).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel, TypeAdapter, ValidationError

from common.principal import Principal
from cti.auth import AuthError
from cti.control import CenterError
from cti.web.endpoint import ApiRequest, Endpoint
from cti.web.errors import (
    auth_error_response,
    center_error_response,
    error_response,
    validation_response,
)

log = logging.getLogger(__name__)
# Where the auth middleware leaves the caller: ``request[PRINCIPAL]``.
PRINCIPAL = web.RequestKey("principal", Principal)
MAX_BODY_BYTES = 64 * 1024


def make_handler(endpoint: Endpoint, timeout_s: float) -> Handler:
    adapter: TypeAdapter[Any] | None = (
        TypeAdapter(endpoint.response) if endpoint.response is not None else None
    )

    async def handle(request: web.Request) -> web.StreamResponse:
        principal: Principal | None = request.get(PRINCIPAL)
        denied = await _authorize(endpoint, principal, request)
        if denied is not None:
            return denied
        parsed = await _parse(endpoint, request)
        if isinstance(parsed, web.Response):
            return parsed
        query, body = parsed
        api = ApiRequest(principal, dict(request.match_info), body, query, request)
        try:
            async with asyncio.timeout(None if endpoint.long_lived else timeout_s):
                result = await endpoint.handler(api)
        except CenterError as exc:
            return center_error_response(exc)
        except AuthError as exc:
            return auth_error_response(exc)
        except TimeoutError:
            log.warning("%s timed out after %.1f s", endpoint.key, timeout_s)
            return error_response(503, "timeout", f"no answer within {timeout_s:g} s; retry")
        return _serialize(result, adapter)

    return handle


async def _authorize(
    endpoint: Endpoint, principal: Principal | None, request: web.Request
) -> web.Response | None:
    access = endpoint.access
    if access.public:
        return None
    if principal is None:
        return error_response(401, "unauthenticated", "a valid bearer token is required")
    denied = _city_wide(endpoint, principal)
    if denied is not None or principal.role in access.anyone:
        return denied
    if principal.role in access.own and access.owner is not None:
        try:
            owned = await access.owner(principal, request.match_info)
        except CenterError as exc:
            return center_error_response(exc)
        return (
            None
            if owned
            else error_response(
                403,
                "forbidden",
                f"{principal.user_id} may act here only on what they own ({access.ownership})",
            )
        )
    return error_response(403, "forbidden", f"role {principal.role} may not {endpoint.key}")


def _city_wide(endpoint: Endpoint, principal: Principal) -> web.Response | None:
    """403 for a district's user on an endpoint that is not scoped to districts."""
    if principal.tenant is None or endpoint.access.districts:
        return None
    return error_response(
        403,
        "forbidden",
        f"{principal.user_id} sees only the district {principal.tenant!r}; "
        f"{endpoint.key} is city-wide",
    )


async def _parse(
    endpoint: Endpoint, request: web.Request
) -> tuple[BaseModel | None, BaseModel | None] | web.Response:
    query = body = None
    if endpoint.query is not None:
        try:
            query = endpoint.query.model_validate(dict(request.query))
        except ValidationError as exc:
            return validation_response(exc, "query")
    if endpoint.body is not None:
        raw = await request.content.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            return error_response(413, "body_too_large", f"body over {MAX_BODY_BYTES} bytes")
        try:
            data = json.loads(raw) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError) as exc:
            return error_response(400, "invalid_json", f"body is not JSON: {exc}")
        if not isinstance(data, dict):
            return error_response(400, "invalid_json", "body must be a JSON object")
        try:
            body = endpoint.body.model_validate(data)
        except ValidationError as exc:
            return validation_response(exc, "body")
    return query, body


def _serialize(result: object, adapter: TypeAdapter[Any] | None) -> web.StreamResponse:
    if isinstance(result, web.StreamResponse):
        return result
    if adapter is None:
        return web.Response(status=204)
    return web.Response(body=adapter.dump_json(result), content_type="application/json")
