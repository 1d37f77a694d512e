"""Request bodies, query strings and the web edge's own responses, as pydantic models.

Invariants: every body model forbids unknown fields and bounds every string, so a bad body is
rejected with the offending field named before any domain code runs; ids and numbers are
checked by pattern, languages against the contract's ISO 639-1 list (an interpreter may also
be ``sign``).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from common.principal import Role
from cti.control import NotReadyReason, SpyMode, TargetKind, TransferMode

Language = Literal["ko", "en", "zh", "ja", "vi", "mn"]
Ident = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
# A dialable outside number: digits with an optional leading +, 2-20 digits.
PhoneNumber = Annotated[str, Field(pattern=r"^\+?[0-9]{2,20}$", examples=["0221336000"])]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoginBody(Body):
    user_id: Ident
    password: Annotated[str, Field(min_length=1, max_length=256)]


class NotReadyBody(Body):
    reason: NotReadyReason


class TargetBody(Body):
    kind: TargetKind
    value: Annotated[str, Field(min_length=1, max_length=64)]

    @model_validator(mode="after")
    def _value_fits_kind(self) -> TargetBody:
        pattern = r"^\+?[0-9]{2,20}$" if self.kind is TargetKind.EXTERNAL else r"^[A-Za-z0-9._-]+$"
        if not re.fullmatch(pattern, self.value):
            what = (
                "a phone number (digits, optional +)"
                if self.kind is TargetKind.EXTERNAL
                else "an id"
            )
            raise ValueError(f"value must be {what} for kind {self.kind.value!r}")
        return self


class TransferBody(Body):
    target: TargetBody
    mode: TransferMode = TransferMode.BLIND


# An interpreter is asked for by the language interpreted, or "sign" for the Korean Sign
# Language pool (video calls only; "sign" is an interpreter kind, not an ISO 639-1 code).
InterpreterKind = Literal[Language, "sign"]


class InterpreterBody(Body):
    language: Annotated[
        InterpreterKind,
        Field(description='ISO 639-1 code, or "sign" for a Korean Sign Language interpreter'),
    ]


class ThirdPartyBody(Body):
    number: PhoneNumber


class SpyBody(Body):
    mode: SpyMode
    # The supervisor's phone (endpoint id or number); omitted: their own configured phone.
    device: Ident | None = None


class CreateUserBody(Body):
    user_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
    role: Role
    password: Annotated[str, Field(min_length=8, max_length=256)]
    display_name: Annotated[str, Field(max_length=100)] = ""


class ApiTokenBody(Body):
    label: Annotated[str, Field(min_length=1, max_length=64)]


class TimelineQuery(Body):
    minutes: Annotated[int, Field(ge=1, le=240)] = 60


# --- responses of the web edge itself -------------------------------------------------------------
class LoginResponse(BaseModel):
    token: str
    user_id: str
    role: Role
    # Unix time the token stops working; null for API tokens.
    expires_at: float | None


class Me(BaseModel):
    user_id: str
    role: Role
    # The district a district's user sees (districts as tenants); None: the city's user.
    tenant: str | None = None


class UserInfo(BaseModel):
    user_id: str
    role: Role
    display_name: str


class Health(BaseModel):
    status: Literal["ok"]
    websocket_clients: int


class FieldError(BaseModel):
    field: str
    message: str


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: list[FieldError] = []


class ErrorBody(BaseModel):
    error: ErrorDetail
