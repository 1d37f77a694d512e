"""The route table's entries: what an endpoint does, who may call it, what it takes and returns.

Invariants:
- Every HTTP route of the app is an ``Endpoint``; the dispatcher enforces ``access`` before the
  handler runs and the OpenAPI document is generated from the same table, so the two cannot
  disagree.
- ``Access``: a role in ``anyone`` may act on any resource; a role in ``own`` only when
  ``owner`` says the principal owns the resource named by the path; any other role gets 403;
  no valid token gets 401 unless the endpoint is public. A district's user
  (``Principal.tenant``, districts as tenants) gets 403 from every non-public endpoint whose
  access does not say ``districts``: those are city-wide; the ones that do scope their answer
  to the district.
- Handlers see an ``ApiRequest``; they raise domain errors (``cti.control.CenterError``) and
  never build HTTP error responses themselves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from common.principal import Principal, Role

OwnerRule = Callable[[Principal, Mapping[str, str]], Awaitable[bool]]
Handler = Callable[["ApiRequest"], Awaitable[object]]
ModelT = TypeVar("ModelT", bound=BaseModel)

STAFF_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
# The contact center's own people; officials (care, 129) see only their tickets' endpoints.
CENTER_ROLES = frozenset({Role.CONSULTANT, Role.SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class Access:
    anyone: frozenset[Role] = frozenset()
    own: frozenset[Role] = frozenset()
    owner: OwnerRule | None = None
    # Shown in the OpenAPI document next to the roles.
    ownership: str = ""
    public: bool = False
    # A district's user may call it (the handler scopes to their district); otherwise 403.
    districts: bool = False

    def allows_role(self, role: Role) -> bool:
        return self.public or role in self.anyone or role in self.own


PUBLIC = Access(public=True)
ANY_ROLE = Access(anyone=CENTER_ROLES)
SIGNED_IN = Access(anyone=frozenset(Role), districts=True)
STAFF = Access(anyone=STAFF_ROLES)
ADMIN_ONLY = Access(anyone=frozenset({Role.ADMIN}))


def own_or_staff(owner: OwnerRule, ownership: str) -> Access:
    """Consultants on what they own; supervisors and admins on anything."""
    return Access(STAFF_ROLES, frozenset({Role.CONSULTANT}), owner, ownership)


async def consultant_in_path(principal: Principal, path: Mapping[str, str]) -> bool:
    return path.get("consultant_id") == principal.user_id


@dataclass(frozen=True, slots=True)
class ApiRequest:
    principal: Principal | None
    path: Mapping[str, str]
    body: BaseModel | None
    query: BaseModel | None
    raw: web.Request

    @property
    def who(self) -> Principal:
        if self.principal is None:  # only public endpoints run without one
            raise RuntimeError("public endpoint asked for a principal")
        return self.principal

    def body_as(self, model: type[ModelT]) -> ModelT:
        if not isinstance(self.body, model):
            raise RuntimeError(f"endpoint body is {type(self.body).__name__}, not {model.__name__}")
        return self.body

    def query_as(self, model: type[ModelT]) -> ModelT:
        if not isinstance(self.query, model):
            raise RuntimeError(f"endpoint query is {type(self.query).__name__}")
        return self.query


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    access: Access
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    # A type pydantic can describe (dataclass, model, list of them); None: 204 No Content.
    response: Any = None
    # Non-JSON endpoints return a web.StreamResponse themselves and name its media type.
    media_type: str = "application/json"
    # HTTP statuses the handler's domain errors may produce, for the document.
    errors: tuple[int, ...] = ()
    description: str = ""
    extra: Mapping[str, object] = field(default_factory=dict)
    # Runs without the request timeout (the WebSocket lives as long as the client).
    long_lived: bool = False

    @property
    def operation_id(self) -> str:
        words = [p.strip("{}") for p in self.path.strip("/").split("/") if p]
        return "_".join([self.method.lower(), *words]).replace("-", "_").replace(".", "_")

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def from_route(route: web.RouteDef, access: Access = ANY_ROLE, tag: str = "") -> Endpoint:
    """Wrap a plain aiohttp route (e.g. recordings' handlers) as an ``Endpoint``.

    The handler gets the raw request (the principal is under ``cti.web.PRINCIPAL``), does its
    own finer checks, and may stream: it runs without the request timeout.
    """
    raw = route.handler
    doc = (getattr(raw, "__doc__", None) or "").strip().splitlines()

    async def handler(r: ApiRequest) -> object:
        return await raw(r.raw)

    words = [w for w in route.path.split("/") if w and not w.startswith("{")]
    return Endpoint(
        route.method,
        route.path,
        handler,
        doc[0] if doc else route.path,
        access,
        tag or (words[1] if len(words) > 1 else "extra"),
        media_type="*/*",
        long_lived=True,
    )
