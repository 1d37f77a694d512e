"""The OpenAPI 3.1 document, generated from the route table and the pydantic/dataclass types.

Invariants: every ``Endpoint`` appears exactly once under its path and method; schemas come
only from pydantic (no hand-written JSON); each operation lists the roles that may call it
(``x-roles``), its ownership rule, and the error statuses it can produce with ``ErrorBody``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter

from cti.web.endpoint import Endpoint
from cti.web.schemas import ErrorBody

_REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"{(\w+)}")
_REASONS = {
    400: "Body is not a JSON object",
    401: "Missing, invalid or expired token (or failed login)",
    403: "Role or ownership does not allow this",
    404: "No such resource",
    409: "Not possible in the current state",
    413: "Body too large",
    422: "Body or query failed validation; the fields are named",
    503: "The PBX or the center did not answer in time",
}


def build_openapi(endpoints: Sequence[Endpoint], title: str, version: str) -> dict[str, Any]:
    schemas, refs = _schemas(endpoints)
    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        paths.setdefault(ep.path, {})[ep.method.lower()] = _operation(ep, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "REST and WebSocket API of Dasan's CTI: consultant state, call "
            "control, interpreters, supervision, queues. Authenticate with POST /api/login, "
            "then send `Authorization: Bearer <token>`.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _schemas(endpoints: Sequence[Endpoint]) -> tuple[dict[str, Any], dict[tuple[str, str], Any]]:
    inputs: list[tuple[tuple[str, str], Any, TypeAdapter[Any]]] = [
        (("error", "ErrorBody"), "serialization", TypeAdapter(ErrorBody))
    ]
    for ep in endpoints:
        if ep.body is not None:
            inputs.append(((ep.key, "body"), "validation", TypeAdapter(ep.body)))
        if ep.query is not None:
            inputs.append(((ep.key, "query"), "validation", TypeAdapter(ep.query)))
        if ep.response is not None:
            inputs.append(((ep.key, "response"), "serialization", TypeAdapter(ep.response)))
    by_key, defs = TypeAdapter.json_schemas(inputs, ref_template=_REF)
    refs = {key: schema for (key, _mode), schema in by_key.items()}
    return defs.get("$defs", {}), refs


def _operation(ep: Endpoint, refs: dict[tuple[str, str], Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": ep.operation_id,
        "summary": ep.summary,
        "tags": [ep.tag],
        "parameters": _parameters(ep),
        "responses": _responses(ep, refs),
    }
    if ep.description:
        op["description"] = ep.description
    if ep.access.public:
        op["security"] = []
    else:
        op["security"] = [{"bearer": []}]
        op["x-roles"] = {
            "any": sorted(ep.access.anyone),
            "own": sorted(ep.access.own),
            "ownership": ep.access.ownership,
        }
    if ep.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(ep.key, "body")]}},
        }
    op.update(ep.extra)
    return op


def _parameters(ep: Endpoint) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(ep.path)
    ]
    if ep.query is not None:
        # Query models are flat: each property is one query parameter.
        properties = ep.query.model_json_schema()["properties"]
        for name, field in ep.query.model_fields.items():
            required = field.is_required()
            params.append(
                {"name": name, "in": "query", "required": required, "schema": properties[name]}
            )
    return params


def _responses(ep: Endpoint, refs: dict[tuple[str, str], Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    if ep.response is not None:
        content = {ep.media_type: {"schema": refs[(ep.key, "response")]}}
        responses["200"] = {"description": "OK", "content": content}
    elif ep.media_type != "application/json":
        responses["200"] = {"description": "OK", "content": {ep.media_type: {}}}
    else:
        responses["204"] = {"description": "Done"}
    codes = set(ep.errors)
    if not ep.access.public:
        codes |= {401, 403}
    if ep.body is not None:
        codes |= {400, 413, 422}
    if ep.query is not None:
        codes.add(422)
    error = {"application/json": {"schema": refs[("error", "ErrorBody")]}}
    for code in sorted(codes):
        responses[str(code)] = {"description": _REASONS.get(code, "Error"), "content": error}
    return responses
