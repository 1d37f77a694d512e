"""/openapi.json is generated from the route table: every route is in it, every $ref resolves."""

from __future__ import annotations

import json
from typing import Any

from cti.web import ENDPOINTS

from .conftest import Edge

_METHODS = {"get", "post", "put", "patch", "delete"}


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


async def test_every_route_is_documented(edge: Edge) -> None:
    response = await edge.client.get("/openapi.json")
    assert response.status == 200
    doc = await response.json()
    assert doc["openapi"].startswith("3.1")
    documented = {
        f"{method.upper()} {path}"
        for path, ops in doc["paths"].items()
        for method in ops
        if method in _METHODS
    }
    app = edge.client.app
    assert app is not None
    routed = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method != "HEAD":
            routed.add(f"{route.method} {path}")
    assert routed == documented
    assert {e.key for e in app[ENDPOINTS]} == documented


async def test_refs_resolve_and_operations_are_complete(edge: Edge) -> None:
    doc = await (await edge.client.get("/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in schemas, ref
    ids = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            ids.append(op["operationId"])
            assert op["summary"], (method, path)
            assert op["responses"], (method, path)
            for name in [p["name"] for p in op["parameters"] if p["in"] == "path"]:
                assert "{" + name + "}" in path
    assert len(ids) == len(set(ids)), "operationIds must be unique"


async def test_roles_bodies_and_errors_are_described(edge: Edge) -> None:
    doc = await (await edge.client.get("/openapi.json")).json()
    ready = doc["paths"]["/api/consultants/{consultant_id}/not-ready"]["post"]
    assert ready["x-roles"]["own"] == ["consultant"]
    assert set(ready["x-roles"]["any"]) == {"supervisor", "admin"}
    assert ready["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/NotReadyBody"
    }
    assert {"401", "403", "422", "200"} <= set(ready["responses"])
    assert doc["paths"]["/api/login"]["post"]["security"] == []
    reasons = doc["components"]["schemas"]["NotReadyReason"]["enum"]
    assert "break" in reasons
    timeline = doc["paths"]["/api/timeline"]["get"]["parameters"]
    assert timeline == [
        {"name": "minutes", "in": "query", "required": False, "schema": timeline[0]["schema"]}
    ]
    assert timeline[0]["schema"]["maximum"] == 240
    assert "/ws" in doc["paths"] and "101" in doc["paths"]["/ws"]["get"]["responses"]


async def test_docs_page_and_document_are_public_and_json(edge: Edge) -> None:
    response = await edge.client.get("/openapi.json")
    assert response.content_type == "application/json"
    json.loads(await response.text())
    page = await edge.client.get("/docs")
    assert page.status == 200
    assert "docs.js" in await page.text()
