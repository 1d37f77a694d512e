"""Metrics from a passed-in registry, extra routes, domain errors and timeouts at the edge."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry, Counter

from cti.control import ContactCenter, InvalidState, Unavailable, VideoCallRequired
from cti.settings import HttpSettings
from cti.web import PRINCIPAL, PUBLIC, STAFF, ApiRequest, Endpoint, create_app
from cti.web.errors import status_for

from .conftest import Edge, ManualClock, new_auth, new_center
from .scenes import all_ready, answered_call


async def test_metrics_use_the_given_registry(clock: ManualClock) -> None:
    registry = CollectorRegistry()
    Counter("dasan_acd_decisions", "decisions", registry=registry).inc(3)
    auth = new_auth(clock)
    app = create_app(new_center(clock), auth, registry=registry)
    async with TestClient(TestServer(app)) as client:
        user = auth.store.get("supervisor")
        assert user is not None
        headers = {"Authorization": f"Bearer {auth.open_session(user).token}"}
        await client.get("/api/consultants/c0001", headers=headers)
        text = await (await client.get("/metrics", headers=headers)).text()
    assert "dasan_acd_decisions_total 3.0" in text
    assert 'route="/api/consultants/{consultant_id}",status="200"' in text
    assert "c0001" not in text  # route templates, never raw paths
    assert "dasan_ws_clients 0.0" in text


async def test_two_apps_do_not_share_metrics(clock: ManualClock) -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    app = create_app(new_center(clock), new_auth(clock), registry=first)
    create_app(new_center(clock), new_auth(clock), registry=second)  # no duplicate-series error
    async with TestClient(TestServer(app)) as client:
        await client.get("/healthz")
    labels = {"method": "GET", "route": "/healthz", "status": "200"}
    assert first.get_sample_value("dasan_http_requests_total", labels) == 1.0
    assert second.get_sample_value("dasan_http_requests_total", labels) is None


async def test_extra_routes_get_auth_roles_and_docs(clock: ManualClock) -> None:
    async def listing(r: ApiRequest) -> object:
        return [{"recording_id": "r1", "by": r.who.user_id}]

    extra = Endpoint(
        "GET",
        "/api/recordings",
        listing,
        "Recordings",
        STAFF,
        "recordings",
        response=list[dict[str, str]],
    )
    auth = new_auth(clock)
    app = create_app(new_center(clock), auth, [extra])
    async with TestClient(TestServer(app)) as client:

        def bearer(user_id: str) -> dict[str, str]:
            user = auth.store.get(user_id)
            assert user is not None
            return {"Authorization": f"Bearer {auth.open_session(user).token}"}

        assert (await client.get("/api/recordings")).status == 401
        assert (await client.get("/api/recordings", headers=bearer("c0001"))).status == 403
        ok = await client.get("/api/recordings", headers=bearer("admin"))
        assert await ok.json() == [{"recording_id": "r1", "by": "admin"}]
        doc = await (await client.get("/openapi.json")).json()
        assert doc["paths"]["/api/recordings"]["get"]["x-roles"]["any"] == ["admin", "supervisor"]


def test_extra_routes_must_be_under_api_and_unique(clock: ManualClock) -> None:
    async def nothing(r: ApiRequest) -> object:
        return None

    outside = Endpoint("GET", "/recordings", nothing, "x", PUBLIC, "x")
    with pytest.raises(ValueError, match="under /api/"):
        create_app(new_center(clock), new_auth(clock), [outside])
    clash = Endpoint("GET", "/api/queues", nothing, "x", PUBLIC, "x")
    with pytest.raises(ValueError, match="duplicate"):
        create_app(new_center(clock), new_auth(clock), [clash])


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/api/consultants/c9999/ready", None, 404, "not_found"),
        ("/api/consultants/c0001/ready", None, 409, "invalid_state"),
        ("CALL/interpreter", {"language": "ja"}, 409, "no_interpreter_available"),
        ("CALL/interpreter", {"language": "sign"}, 409, "no_interpreter_available"),
        ("/api/calls/nope/hold", None, 404, "not_found"),
        ("CALL/transfer/complete", None, 409, "invalid_state"),
    ],
)
async def test_domain_errors_are_mapped(
    edge: Edge, path: str, body: dict[str, Any] | None, status: int, code: str
) -> None:
    await all_ready(edge.center)
    call_id = answered_call(edge.center, edge.clock, "c0001")
    url = path.replace("CALL", f"/api/calls/{call_id}")
    response = await edge.client.post(url, headers=edge.headers("supervisor"), json=body)
    data = await response.json()
    assert (response.status, data["error"]["code"]) == (status, code)
    assert data["error"]["message"]


def test_a_sign_interpreter_on_a_voice_call_is_a_conflict_with_its_own_code() -> None:
    refused = VideoCallRequired("call u-1 is a voice call")
    assert isinstance(refused, InvalidState)
    assert (status_for(refused), refused.code) == (409, "video_call_required")


async def test_consultant_gets_404_not_403_for_a_missing_call(edge: Edge) -> None:
    response = await edge.client.post("/api/calls/nope/hold", headers=edge.headers("c0001"))
    assert response.status == 404


class _Stalled:
    """A center whose every call hangs (a PBX that stopped answering) or fails."""

    def __init__(self, center: Any) -> None:
        self._center = center

    async def queues(self) -> object:
        await asyncio.Event().wait()
        return []

    async def consultants(self) -> object:
        raise Unavailable("AMI is reconnecting")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._center, name)


async def test_a_stalled_center_is_503_not_a_hang(clock: ManualClock) -> None:
    auth = new_auth(clock)
    center = cast(ContactCenter, _Stalled(new_center(clock)))
    app = create_app(center, auth, settings=HttpSettings(center_timeout_s=0.1))
    async with TestClient(TestServer(app)) as client:
        user = auth.store.get("c0001")
        assert user is not None
        headers = {"Authorization": f"Bearer {auth.open_session(user).token}"}
        stalled = await client.get("/api/queues", headers=headers)
        assert stalled.status == 503
        assert (await stalled.json())["error"]["code"] == "timeout"
        down = await client.get("/api/consultants", headers=headers)
        assert down.status == 503
        assert "reconnecting" in (await down.json())["error"]["message"]


async def test_unknown_api_route_is_json_404(edge: Edge) -> None:
    response = await edge.client.get("/api/nothing-here", headers=edge.headers("admin"))
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "http_404"
    wrong_method = await edge.client.put("/api/queues", headers=edge.headers("admin"))
    assert wrong_method.status == 405
    assert response.headers["Cache-Control"] == "no-store"


async def test_plain_aiohttp_routes_mount_with_the_principal(clock: ManualClock) -> None:
    async def audio(request: web.Request) -> web.StreamResponse:
        """Stream one recording."""
        principal = request[PRINCIPAL]
        response = web.StreamResponse(headers={"Content-Type": "audio/wav"})
        await response.prepare(request)
        await response.write(principal.user_id.encode())
        await response.write_eof()
        return response

    route = web.get("/api/recordings/calls/{call_id}/audio", audio, allow_head=False)
    auth = new_auth(clock)
    app = create_app(new_center(clock), auth, [route])
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/api/recordings/calls/c1/audio")).status == 401
        user = auth.store.get("c0001")
        assert user is not None
        headers = {"Authorization": f"Bearer {auth.open_session(user).token}"}
        ok = await client.get("/api/recordings/calls/c1/audio", headers=headers)
        assert (ok.status, await ok.read()) == (200, b"c0001")
        doc = await (await client.get("/openapi.json")).json()
        op = doc["paths"]["/api/recordings/calls/{call_id}/audio"]["get"]
        assert (op["summary"], op["tags"]) == ("Stream one recording.", ["recordings"])
