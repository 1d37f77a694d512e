"""Care's API through the real web edge (fake center, real care on SQLite): roles and scopes,
clear errors for bad bodies, the officials' flow, the page; officials kept off the center."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from care.officials import set_official
from care.settings import CareSettings
from care.system import Care
from care.web import CareApi, page_routes
from common.principal import Role
from common.storage import Storage
from cti.auth import Authenticator, MemoryUserStore, ScryptParams, make_user
from cti.fake_center import FakeCenter, QueueSpec
from cti.web import create_app
from recordings.keys import NumberProtector

from .conftest import Clock

CHEAP = ScryptParams(n=16, r=1, p=1)


@dataclass
class Site:
    client: TestClient[web.Request, web.Application]
    auth: Authenticator
    care: Care

    def headers(self, user_id: str) -> dict[str, str]:
        user = self.auth.store.get(user_id)
        assert user is not None
        return {"Authorization": f"Bearer {self.auth.open_session(user).token}"}


class FakeCalls:
    """The call log as care reads it (prefill)."""

    async def caller_number(self, call_id: str) -> str | None:
        return "01055556666" if call_id == "call-1" else None

    async def get(self, call_id: str) -> Any:
        if call_id != "call-1":
            return None

        return SimpleNamespace(language="vi", journey=[{"node": "language", "key": "5"}])


@pytest.fixture
async def site(
    storage: Storage, protector: NumberProtector, clock: Clock, tmp_path: Path
) -> AsyncIterator[Site]:
    care = Care.open(CareSettings(), storage, protector, tmp_path / "requests.jsonl", clock)
    await set_official(storage, care.rules, "kim.gangnam", "gangnam.construction")
    await set_official(storage, care.rules, "lee.mapo", "mapo.construction")
    users = [
        make_user(u, role, "password-123", CHEAP)
        for u, role in (
            ("c0001", Role.CONSULTANT),
            ("supervisor", Role.SUPERVISOR),
            ("kim.gangnam", Role.OFFICIAL),
            ("lee.mapo", Role.OFFICIAL),
        )
    ]
    auth = Authenticator(MemoryUserStore(users), lambda: 1.8e9, params=CHEAP)
    center = FakeCenter(clock, [("c0001", "c0001", ("ko",))], [QueueSpec("general", "g", "ko")], {})
    app = create_app(center, auth, CareApi(care, FakeCalls()).endpoints())
    app.router.add_routes(page_routes())
    async with TestClient(TestServer(app)) as client:
        yield Site(client, auth, care)


BODY = {
    "call_id": "call-1",
    "category": "road",
    "district": "gangnam",
    "address": "테헤란로 152",
    "description": "도로 파손",
    "consent": True,
}


async def test_consultant_creates_from_the_call_prefilled(site: Site) -> None:
    made = await site.client.post("/api/care/tickets", json=BODY, headers=site.headers("c0001"))
    assert made.status == 201, await made.text()
    ticket = await made.json()
    assert (ticket["department"], ticket["language"]) == ("gangnam.construction", "vi")
    assert await site.care.tickets.number(ticket["id"]) == "01055556666"
    assert "0105555" not in await made.text()
    one = await site.client.get(
        f"/api/care/tickets/{ticket['id']}", headers=site.headers("supervisor")
    )
    kinds = [e["kind"] for e in (await one.json())["timeline"]]
    assert kinds == ["created", "call", "routed", "ivr-journey"]


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"district": "atlantis"}, 422, "district"),
        ({"consent": False}, 422, "consent"),
        ({"description": "x" * 5000}, 422, "description"),
        ({"call_id": "nope"}, 422, "call_id"),
    ],
)
async def test_bad_bodies_get_a_clear_error_and_create_nothing(
    site: Site, change: dict[str, object], status: int, field: str
) -> None:
    answer = await site.client.post(
        "/api/care/tickets", json=BODY | change, headers=site.headers("c0001")
    )
    assert answer.status == status
    assert field in (await answer.json())["error"]["message"]
    listed = await site.client.get("/api/care/tickets", headers=site.headers("supervisor"))
    assert await listed.json() == []


async def test_official_flow_and_other_district_denied(site: Site) -> None:
    made = await site.client.post("/api/care/tickets", json=BODY, headers=site.headers("c0001"))
    ticket_id = (await made.json())["id"]
    url = f"/api/care/tickets/{ticket_id}"
    mapo = site.headers("lee.mapo")
    assert (await site.client.get(url, headers=mapo)).status == 403
    assert (await site.client.post(url + "/accept", headers=mapo)).status == 403
    assert await (await site.client.get("/api/care/tickets", headers=mapo)).json() == []
    gangnam = site.headers("kim.gangnam")
    assert (await site.client.post(url + "/accept", headers=gangnam)).status == 200
    done = await site.client.post(url + "/resolve", json={"text": "보수 완료"}, headers=gangnam)
    assert (await done.json())["status"] == "resolved"
    detail = await (await site.client.get(url, headers=gangnam)).json()
    assert [n["state"] for n in detail["notifications"]] == ["callback-requested"] * 2
    callbacks = await site.client.get("/api/care/callbacks", headers=site.headers("supervisor"))
    assert [c["ticket_id"] for c in await callbacks.json()] == [ticket_id, ticket_id]
    assert (await site.client.get("/api/care/callbacks", headers=gangnam)).status == 403
    report = await site.client.get(
        "/api/care/reports/tickets?period=monthly", headers=site.headers("supervisor")
    )
    rows = await report.json()
    assert [(r["department"], r["resolved"]) for r in rows] == [("gangnam.construction", 1)]
    assert (await site.client.get("/api/care/reports/survey", headers=gangnam)).status == 403


async def test_officials_are_kept_off_the_center(site: Site) -> None:
    gangnam = site.headers("kim.gangnam")
    assert (await site.client.get("/api/consultants", headers=gangnam)).status == 403
    assert (await site.client.get("/api/queues", headers=gangnam)).status == 403
    assert (await site.client.get("/api/me", headers=gangnam)).status == 200


async def test_citizen_web_form_and_page(site: Site) -> None:
    form = {
        "category": "parking",
        "district": "mapo",
        "address": "월드컵로 1",
        "description": "불법 주차",
        "number": "01012341234",
        "consent": True,
    }
    made = await site.client.post("/api/care/citizen/tickets", json=form)
    assert made.status == 201
    assert (await made.json())["department"] == "mapo.parking"
    refused = await site.client.post("/api/care/citizen/tickets", json=form | {"consent": False})
    assert refused.status == 422
    page = await site.client.get("/officials")
    assert page.status == 200 and "officials.js" in await page.text()
    assert "Content-Security-Policy" in page.headers
    form = await site.client.get("/care/report")
    assert form.status == 200 and "report.js" in await form.text()
    assert (await site.client.get("/care/report.js")).status == 200
