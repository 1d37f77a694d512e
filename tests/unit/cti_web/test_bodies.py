"""Bad bodies and query strings get a 4xx whose JSON names the field and the problem."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Edge
from .scenes import all_ready, answered_call


async def _post(edge: Edge, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    response = await edge.client.post(path, headers=edge.headers("supervisor"), **kwargs)
    return response.status, await response.json()


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "reason", "Field required"),
        ({"reason": "nap"}, "reason", "Input should be"),
        ({"reason": "break", "extra": 1}, "extra", "Extra inputs are not permitted"),
        ({"reason": 5}, "reason", "Input should be"),
    ],
)
async def test_not_ready_body(edge: Edge, body: dict[str, Any], field: str, words: str) -> None:
    await all_ready(edge.center)
    status, data = await _post(edge, "/api/consultants/c0001/not-ready", json=body)
    assert status == 422
    assert data["error"]["code"] == "invalid_body"
    assert [f["field"] for f in data["error"]["fields"]] == [field]
    assert words in data["error"]["fields"][0]["message"]
    assert field in data["error"]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"target": {"kind": "external", "value": "hospital"}}, "target"),
        ({"target": {"kind": "desk", "value": "c0003"}}, "target.kind"),
        ({"target": {"kind": "queue"}}, "target.value"),
        ({"target": {"kind": "queue", "value": "general"}, "mode": "cold"}, "mode"),
        ({"target": {"kind": "consultant", "value": "c0003; DROP"}}, "target"),
    ],
)
async def test_transfer_body(edge: Edge, body: dict[str, Any], field: str) -> None:
    await all_ready(edge.center)
    call_id = answered_call(edge.center, edge.clock, "c0001")
    status, data = await _post(edge, f"/api/calls/{call_id}/transfer", json=body)
    assert status == 422
    assert field in [f["field"] for f in data["error"]["fields"]]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("interpreter", {"language": "fr"}, "language"),
        ("interpreter", {"language": None}, "language"),
        ("interpreter", {"language": "ksl"}, "language"),  # the sign pool is "sign"
        ("interpreter", {"language": "SIGN"}, "language"),
        ("interpreter", {"language": "sign", "kind": "video"}, "kind"),
        ("third-party", {"number": "call-the-hospital"}, "number"),
        ("third-party", {"number": "1" * 21}, "number"),
    ],
)
async def test_call_bodies(edge: Edge, path: str, body: dict[str, Any], field: str) -> None:
    await all_ready(edge.center)
    call_id = answered_call(edge.center, edge.clock, "c0001")
    status, data = await _post(edge, f"/api/calls/{call_id}/{path}", json=body)
    assert status == 422
    assert [f["field"] for f in data["error"]["fields"]] == [field]


@pytest.mark.parametrize(
    ("raw", "message"),
    [(b"{not json", "body is not JSON"), (b"[1, 2]", "JSON object"), (b'"break"', "JSON object")],
)
async def test_not_json(edge: Edge, raw: bytes, message: str) -> None:
    await all_ready(edge.center)
    status, data = await _post(edge, "/api/consultants/c0001/not-ready", data=raw)
    assert status == 400
    assert data["error"]["code"] == "invalid_json"
    assert message in data["error"]["message"]


async def test_body_too_large(edge: Edge) -> None:
    status, data = await _post(edge, "/api/login", data=b'{"x": "' + b"a" * 70_000 + b'"}')
    assert status == 413
    assert data["error"]["code"] == "body_too_large"


async def test_bad_query(edge: Edge) -> None:
    response = await edge.client.get("/api/timeline?minutes=1000", headers=edge.headers("c0001"))
    data = await response.json()
    assert response.status == 422
    assert data["error"]["code"] == "invalid_query"
    assert data["error"]["fields"][0]["field"] == "minutes"


async def test_user_body_names_id_and_password(edge: Edge) -> None:
    body = {"user_id": "Bad Id", "role": "consultant", "password": "short"}
    response = await edge.client.post("/api/users", headers=edge.headers("admin"), json=body)
    data = await response.json()
    assert response.status == 422
    assert {f["field"] for f in data["error"]["fields"]} == {"user_id", "password"}


async def test_nothing_changed_after_a_bad_body(edge: Edge) -> None:
    await all_ready(edge.center)
    before = await edge.center.consultant("c0001")
    await _post(edge, "/api/consultants/c0001/not-ready", json={"reason": "nap"})
    assert await edge.center.consultant("c0001") == before
