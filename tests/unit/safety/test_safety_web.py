"""/api/safety: supervisors read the report (no personal data), consultants mark concern;
unknown people and a disabled campaign get clear errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from common.principal import Principal, Role
from common.storage import Storage
from recordings.keys import KeyRing
from safety.protect import PersonalData
from safety.service import CampaignStatus, SafetyCampaign
from safety.store import SafetyStore
from safety.web import routes

CSV = (
    "name,number,district,language,hours,emergency_name,emergency_number,officer_name,"
    "officer_number\n김순자,010-1234-5678,종로구,ko,10:00-12:00,김민수,010-2222-3333,박,02-2148-1234\n"
)


class Campaign:
    def __init__(self, known: str) -> None:
        self.known = known
        self.status = CampaignStatus(week="2026-12-07")
        self.marks: list[tuple[str, str, str]] = []

    async def mark_concern(self, person_id: str, by: str) -> bool:
        self.marks.append(("concern", person_id, by))
        return person_id == self.known

    async def close_case(self, person_id: str, by: str) -> bool:
        self.marks.append(("close", person_id, by))
        return person_id == self.known


PRINCIPAL = web.RequestKey("principal", Principal)


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[SafetyStore, str]]:
    storage = await Storage.open(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
    store = SafetyStore(storage, PersonalData(KeyRing.generate()))
    report = await store.import_csv(CSV, dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    yield store, report.accepted[0].id
    await storage.close()


def _app(store: SafetyStore, campaign: Campaign | None, role: Role) -> web.Application:
    @web.middleware
    async def signed_in(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        request[PRINCIPAL] = Principal("u1", role, "127.0.0.1")
        return await handler(request)

    app = web.Application(middlewares=[signed_in])
    app.add_routes(routes(cast(SafetyCampaign, campaign), store, principal_key=PRINCIPAL))
    return app


async def _call(app: web.Application, method: str, path: str) -> tuple[int, Any]:
    async with TestClient(TestServer(app)) as client:
        response = await client.request(method, path)
        return response.status, await response.json()


async def test_supervisors_read_the_report_without_personal_data(
    setup: tuple[SafetyStore, str],
) -> None:
    store, _ = setup
    status, body = await _call(
        _app(store, Campaign("x"), Role.SUPERVISOR), "GET", "/api/safety/report"
    )
    assert status == 200
    assert body["total"]["people"] == 1 and "jongno" in body["districts"]
    assert body["campaign"]["week"] == "2026-12-07"
    text = str(body)
    assert "김순자" not in text and "01012345678" not in text
    status, _ = await _call(_app(store, None, Role.CONSULTANT), "GET", "/api/safety/report")
    assert status == 403


async def test_consultants_mark_concern_and_unknown_people_are_404(
    setup: tuple[SafetyStore, str],
) -> None:
    store, person = setup
    campaign = Campaign(person)
    app = _app(store, campaign, Role.CONSULTANT)
    assert (await _call(app, "POST", f"/api/safety/people/{person}/concern"))[0] == 200
    assert (await _call(app, "POST", "/api/safety/people/nobody/close"))[0] == 404
    assert campaign.marks == [("concern", person, "u1"), ("close", "nobody", "u1")]
    status, body = await _call(
        _app(store, None, Role.CONSULTANT), "POST", f"/api/safety/people/{person}/concern"
    )
    assert status == 409 and "not enabled" in body["error"]
