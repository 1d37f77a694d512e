"""Districts as tenants on the web edge: a district's supervisor sees only its district's calls
and figures, another district's call is not there for them (404), city-wide endpoints and the
live WebSocket are refused (403 / close 4401); the city's supervisor sees everything with a
breakdown per tenant."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from common.principal import Role
from cti.auth import Authenticator, make_user
from cti.web import create_app
from recordings.calllog import CITY_TENANT, CallRecord, Participant
from recordings.models import ParticipantRole

from .conftest import CHEAP, ManualClock, new_auth, new_center

# Within the figures' default window (the last 24 h of the real clock).
T0 = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)


def call(
    call_id: str,
    tenant: str | None,
    *,
    answered_after_s: float | None = None,
    ended: bool = True,
    service: str | None = "general",
) -> CallRecord:
    routed = T0 + dt.timedelta(seconds=10)
    people = (
        ()
        if answered_after_s is None
        else (
            Participant(
                "c0004", ParticipantRole.CONSULTANT, routed + dt.timedelta(seconds=answered_after_s)
            ),
        )
    )
    return CallRecord(
        id=call_id,
        uniqueid=call_id,
        linkedid=None,
        language="ko",
        service=service,
        journey=None,
        started_at=T0,
        routed_at=routed,
        ended_at=T0 + dt.timedelta(minutes=3) if ended else None,
        duration_ms=180_000 if ended else None,
        participants=people,
        tenant=tenant,
    )


CALLS = [
    call("g1", "gangnam", answered_after_s=5),
    call("g2", "gangnam", answered_after_s=40),
    call("g3", "gangnam"),  # abandoned
    call("g4", "gangnam", ended=False),  # still waiting: offered only
    call("g5", "gangnam", service="callback"),  # an offer, not a queued call
    call("m1", "mapo", answered_after_s=2),
    call("c1", None, answered_after_s=1),
    call("c2", None),
]


class FakeCallLog:
    """The call log's reads, filtered as the database query does."""

    def _of(self, tenant: str | None) -> list[CallRecord]:
        if tenant is None:
            return list(CALLS)
        if tenant == CITY_TENANT:
            return [c for c in CALLS if c.tenant is None]
        return [c for c in CALLS if c.tenant == tenant]

    async def get(self, call_id: str) -> CallRecord | None:
        return next((c for c in CALLS if c.id == call_id), None)

    async def last(self, count: int, *, tenant: str | None = None) -> list[CallRecord]:
        return self._of(tenant)[:count]

    async def all(
        self, since: dt.datetime | None = None, *, tenant: str | None = None
    ) -> list[CallRecord]:
        return [c for c in self._of(tenant) if since is None or c.started_at >= since]


@dataclass
class Site:
    client: TestClient[web.Request, web.Application]
    auth: Authenticator

    def headers(self, user_id: str) -> dict[str, str]:
        user = self.auth.store.get(user_id)
        assert user is not None
        return {"Authorization": f"Bearer {self.auth.open_session(user).token}"}

    async def get(self, path: str, user_id: str) -> tuple[int, object]:
        async with self.client.get(path, headers=self.headers(user_id)) as response:
            return response.status, await response.json()


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    clock = ManualClock()
    auth = new_auth(clock)
    auth.add_user(
        make_user("sup.gangnam", Role.SUPERVISOR, "gangnam-password", CHEAP, tenant="gangnam")
    )
    app = create_app(new_center(clock), auth, calllog=FakeCallLog())
    async with TestClient(TestServer(app)) as client:
        yield Site(client, auth)


async def test_a_district_supervisor_sees_only_its_calls(site: Site) -> None:
    status, body = await site.get("/api/calllog", "sup.gangnam")
    assert status == 200
    assert isinstance(body, list)
    assert {c["id"] for c in body} == {"g1", "g2", "g3", "g4", "g5"}
    assert {c["tenant"] for c in body} == {"gangnam"}
    status, body = await site.get("/api/calllog/g1", "sup.gangnam")
    assert status == 200 and isinstance(body, dict) and body["answered_after_s"] == 5.0
    # Another tenant's call is not there for Gangnam, exactly like a call that does not exist.
    for other in ("m1", "c1", "nope"):
        status, body = await site.get(f"/api/calllog/{other}", "sup.gangnam")
        assert status == 404, other
    status, _ = await site.get("/api/calllog?tenant=mapo", "sup.gangnam")
    assert status == 403


async def test_a_district_supervisor_gets_its_figures_only(site: Site) -> None:
    status, body = await site.get("/api/calllog/figures", "sup.gangnam")
    assert status == 200 and isinstance(body, dict)
    assert body["scope"] == "gangnam"
    total = body["total"]
    # g1..g4 offered (g5 was an offer); g1, g2 answered, g1 within 20 s; g3 abandoned.
    assert (total["offered"], total["answered"], total["abandoned"]) == (4, 2, 1)
    assert total["answered_within_target"] == 1
    assert total["service_level"] == pytest.approx(1 / 3)
    assert [t["tenant"] for t in body["per_tenant"]] == ["gangnam"]
    status, _ = await site.get("/api/calllog/figures?tenant=city", "sup.gangnam")
    assert status == 403


async def test_city_wide_endpoints_are_refused_to_a_district(site: Site) -> None:
    for path in ("/api/timeline", "/api/queues", "/api/calls", "/api/waiting", "/metrics"):
        status, body = await site.get(path, "sup.gangnam")
        assert status == 403, path
        assert isinstance(body, dict) and "city-wide" in body["error"]["message"], path
    status, body = await site.get("/api/me", "sup.gangnam")
    assert status == 200 and isinstance(body, dict) and body["tenant"] == "gangnam"
    ws = await site.client.ws_connect("/ws")
    token = site.headers("sup.gangnam")["Authorization"][7:]
    await ws.send_json({"type": "auth", "token": token})
    async with asyncio.timeout(5):
        message = await ws.receive()
    assert message.type is aiohttp.WSMsgType.CLOSE
    assert ws.close_code == 4401


async def test_the_city_sees_every_tenant_with_a_breakdown(site: Site) -> None:
    status, body = await site.get("/api/calllog", "supervisor")
    assert status == 200 and isinstance(body, list) and len(body) == len(CALLS)
    status, body = await site.get("/api/calllog/m1", "supervisor")
    assert status == 200 and isinstance(body, dict) and body["tenant"] == "mapo"
    status, body = await site.get("/api/calllog?tenant=city", "supervisor")
    assert isinstance(body, list) and {c["id"] for c in body} == {"c1", "c2"}
    status, body = await site.get("/api/calllog/figures", "supervisor")
    assert status == 200 and isinstance(body, dict)
    assert body["scope"] == "all"
    per = {t["tenant"]: (t["offered"], t["answered"], t["abandoned"]) for t in body["per_tenant"]}
    assert per == {"city": (2, 1, 1), "gangnam": (4, 2, 1), "mapo": (1, 1, 0)}
    assert body["total"]["offered"] == 7
    status, _ = await site.get("/api/timeline", "supervisor")
    assert status == 200


async def test_consultants_do_not_read_the_call_log(site: Site) -> None:
    status, _ = await site.get("/api/calllog", "c0001")
    assert status == 403
