"""The knowledge area's HTTP API: the editor's review workflow by role, consultants' search,
after-call notes, the caller's history, the screen pop's cases and the wrap-up gate."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from kb_support import NOW, content

from common.principal import Principal, Role
from common.storage import Storage
from cti.web.dispatch import PRINCIPAL
from knowledge.analyze import Analyzer
from knowledge.cases import Action
from knowledge.settings import KnowledgeSettings
from knowledge.wiring import EngineKnowledge, open_for_engine
from recordings.accesslog import AccessLog
from recordings.calllog import CallLog
from recordings.keys import KeyRing, NumberProtector

PEOPLE = {
    "editor": Principal("editor", Role.SUPERVISOR, "test"),
    "reviewer": Principal("reviewer", Role.ADMIN, "test"),
    "c0002": Principal("c0002", Role.CONSULTANT, "test"),
    "c0009": Principal("c0009", Role.CONSULTANT, "test"),
}
Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def setup(
    tmp_path: Path, analyzer: Analyzer
) -> AsyncIterator[tuple[Client, EngineKnowledge, CallLog]]:
    storage = await Storage.open(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
    ring = KeyRing.generate()
    calls = CallLog(storage, NumberProtector(ring), lambda: NOW)
    parts = await open_for_engine(
        KnowledgeSettings(require_note=True),
        storage=storage,
        ring=ring,
        calls=calls,
        access_log=AccessLog(storage, lambda: NOW),
        principal_key=PRINCIPAL,
        analyzer=analyzer,
    )

    @web.middleware
    async def fake_auth(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        user = request.headers.get("X-Test-User")
        if user in PEOPLE:
            request[PRINCIPAL] = PEOPLE[user]
        return await handler(request)

    app = web.Application(middlewares=[fake_auth])
    app.add_routes(parts.web.routes())
    async with TestClient(TestServer(app)) as client:
        yield client, parts, calls
    await storage.close()


def _as(user: str) -> dict[str, str]:
    return {"X-Test-User": user}


async def test_review_workflow_by_role_then_search(
    setup: tuple[Client, EngineKnowledge, CallLog],
) -> None:
    client, _, _ = setup
    body = content().model_dump(mode="json")
    assert (await client.post("/api/kb/cases", json=body, headers=_as("c0002"))).status == 403
    assert (await client.post("/api/kb/cases", json=body)).status == 401
    bad = await client.post("/api/kb/cases", json={**body, "language": "fr"}, headers=_as("editor"))
    assert bad.status == 400 and "language" in await bad.text()
    made = await client.post("/api/kb/cases", json=body, headers=_as("editor"))
    assert made.status == 201
    case_id = (await made.json())["id"]
    base = f"/api/kb/cases/{case_id}/versions/1"
    assert (await client.post(f"{base}/submit", headers=_as("editor"))).status == 200
    queue = await (await client.get("/api/kb/queue?state=review", headers=_as("reviewer"))).json()
    assert [q["id"] for q in queue] == [case_id]
    assert (await client.post(f"{base}/publish", headers=_as("editor"))).status == 409
    done = await client.post(f"{base}/publish", json={"comment": "확인"}, headers=_as("reviewer"))
    assert (await done.json())["state"] == "published"
    hits = await (await client.get("/api/kb/search?q=여권 재발급", headers=_as("c0002"))).json()
    assert [h["id"] for h in hits] == [case_id]
    shown = await (await client.get(f"/api/kb/cases/{case_id}", headers=_as("c0002"))).json()
    assert shown["versions"][0]["reviewer"] == "reviewer"
    assert (await client.get("/api/kb/cases/999", headers=_as("c0002"))).status == 404


async def test_note_history_cases_and_wrap_up_gate(
    setup: tuple[Client, EngineKnowledge, CallLog],
) -> None:
    client, parts, calls = setup
    made = await parts.kb.cases.create(content(), "editor")
    await parts.kb.cases.act(made.case_id, 1, Action.SUBMIT, "editor")
    await parts.kb.cases.act(made.case_id, 1, Action.PUBLISH, "reviewer")
    parts.kb.search.invalidate()
    journey = {
        "started_at": NOW.isoformat(),
        "entries": [{"t_ms": 900, "node": "main_menu", "event": "digits", "value": "3"}],
    }
    for n in (1, 2):
        call = f"call-{n}"
        await calls.call_started(call, f"u{n}", None, "010-2222-3333", NOW + timedelta(hours=n))
        await calls.call_routed(call, "ko", "documents", journey)
        await calls.consultant_joined(call, "c0002", at=NOW + timedelta(hours=n, seconds=9))
    assert parts.gate is not None
    assert "call-2" in (await parts.gate("c0002") or "")
    note = {"disposition": "callback", "text": "서류 보완 후 회신"}
    assert (
        await client.put("/api/calls/call-2/note", json=note, headers=_as("c0009"))
    ).status == 403
    wrong = await client.put(
        "/api/calls/call-2/note", json={**note, "disposition": "?"}, headers=_as("c0002")
    )
    assert wrong.status == 400
    empty = await client.put(
        "/api/calls/call-2/note", json={**note, "text": " "}, headers=_as("c0002")
    )
    assert empty.status == 400  # required when configured
    assert (
        await client.put("/api/calls/call-2/note", json=note, headers=_as("c0002"))
    ).status == 200
    assert await parts.gate("c0002") is None
    history = await (await client.get("/api/calls/call-2/history", headers=_as("c0002"))).json()
    assert [h["call_id"] for h in history] == ["call-2", "call-1"]
    assert history[0]["notes"][0]["text"] == "서류 보완 후 회신"
    assert (await client.get("/api/calls/call-2/history", headers=_as("c0009"))).status == 403
    cases = await (await client.get("/api/calls/call-2/cases", headers=_as("c0002"))).json()
    assert [c["id"] for c in cases["cases"]] == [made.case_id]
    codes = await (await client.get("/api/kb/dispositions", headers=_as("c0002"))).json()
    assert codes["require_note"] is True and "callback" in codes["codes"]


async def test_routes_fit_the_cti_edge_and_its_openapi_document(
    setup: tuple[Client, EngineKnowledge, CallLog],
) -> None:
    from cti.auth import Authenticator, DemoUserStore, MemoryUserStore, ScryptParams
    from cti.fake_center import FakeCenter, QueueSpec
    from cti.web import create_app

    _, parts, _ = setup
    cheap = ScryptParams(n=16, r=1, p=1)
    store = DemoUserStore(MemoryUserStore(), "secret", ("c0002",), cheap)
    auth = Authenticator(store, lambda: 1_800_000_000.0, session_ttl_s=60, params=cheap)
    center = FakeCenter(
        lambda: NOW, [("c0002", "c0002", ("ko",))], [QueueSpec("general", "general", "ko")], {}
    )
    app = create_app(center, auth, parts.web.routes())
    async with TestClient(TestServer(app)) as client:
        document = await (await client.get("/openapi.json")).json()
        assert "/api/kb/search" in document["paths"]
        assert (await client.get("/api/kb/search?q=x")).status == 401
