"""Without a valid token every route answers 401, except login, healthz, pages and OpenAPI."""

from __future__ import annotations

import re

from cti.web import ENDPOINTS

from .conftest import Edge

PUBLIC = {
    "POST /api/login",
    "GET /healthz",
    "GET /openapi.json",
    "GET /",
    "GET /desktop",
    "GET /wallboard",
    "GET /docs",
    "GET /kb",
    "GET /static/{name}",
    # Authenticates itself (?token= or a first message); see test_websocket.
    "GET /ws",
}


def _concrete(path: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: "desktop.js" if m.group(1) == "name" else "x1", path)


async def test_401_everywhere_but_the_public_routes(edge: Edge) -> None:
    app = edge.client.app
    assert app is not None
    seen_public = set()
    for endpoint in app[ENDPOINTS]:
        url = _concrete(endpoint.path)
        for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic x"}):
            response = await edge.client.request(endpoint.method, url, headers=headers, json={})
            if endpoint.key in PUBLIC:
                assert response.status != 401 or endpoint.key == "POST /api/login", endpoint.key
                seen_public.add(endpoint.key)
                continue
            assert response.status == 401, (endpoint.key, headers, response.status)
            body = await response.json()
            assert body["error"]["code"] == "unauthenticated"
            assert response.headers["WWW-Authenticate"] == "Bearer"
    assert seen_public == PUBLIC


async def test_expired_and_revoked_tokens_are_401(edge: Edge) -> None:
    headers = edge.headers("c0001")
    assert (await edge.client.get("/api/me", headers=headers)).status == 200
    edge.clock.advance(3601)
    assert (await edge.client.get("/api/me", headers=headers)).status == 401
    fresh = edge.headers("c0001")
    assert (await edge.client.post("/api/logout", headers=fresh)).status == 204
    assert (await edge.client.get("/api/me", headers=fresh)).status == 401
