"""The one place where domain and validation errors become HTTP statuses and JSON bodies.

Invariant: every error response of the API has the shape of ``ErrorBody``:
``{"error": {"code": ..., "message": ..., "fields": [{"field": "a.b", "message": ...}]}}``.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import ValidationError

from cti.auth import AuthError
from cti.control import (
    CenterError,
    InvalidState,
    NoInterpreterAvailable,
    NotAllowed,
    NotFound,
    Unavailable,
)
from cti.web.schemas import ErrorBody, ErrorDetail, FieldError

_STATUS: tuple[tuple[type[CenterError], int], ...] = (
    (NotFound, 404),
    (NotAllowed, 403),
    (NoInterpreterAvailable, 409),
    (InvalidState, 409),
    (Unavailable, 503),
)


def status_for(error: CenterError) -> int:
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return 500


def error_response(
    status: int, code: str, message: str, fields: list[FieldError] | None = None
) -> web.Response:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, fields=fields or []))
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return web.json_response(body.model_dump(mode="json"), status=status, headers=headers)


def center_error_response(error: CenterError) -> web.Response:
    return error_response(status_for(error), error.code, str(error))


def auth_error_response(error: AuthError) -> web.Response:
    return error_response(401, "login_failed", str(error))


def validation_response(error: ValidationError, what: str) -> web.Response:
    """422 naming each offending field (dotted path) of the body or query string."""
    fields = [
        FieldError(field=".".join(str(p) for p in err["loc"]) or "(body)", message=err["msg"])
        for err in error.errors(include_url=False)
    ]
    summary = "; ".join(f"{f.field}: {f.message}" for f in fields)
    return error_response(422, f"invalid_{what}", f"invalid {what}: {summary}", fields)
