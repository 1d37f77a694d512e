"""The call log and its figures over HTTP, scoped by tenant (districts as tenants).

Invariants:
- A district's user (``Principal.tenant``) sees only its district's calls: the list is
  filtered in the database query, a call of another tenant by id answers 404 (as if it did not
  exist), and asking for another tenant's list or figures answers 403. The city's users see
  every call and, in the figures, a breakdown per tenant.
- Figures come from the call log alone, over the last ``hours``: *offered* = calls routed to a
  service (the IVR handed them over; offers such as a call-back or an SMS are not queued calls);
  *answered* = offered calls a consultant joined; *abandoned* = offered calls that ended with no
  consultant; *service level* = answered within ``within_s`` of routing / (answered +
  abandoned), None with no finished call. Calls still going on count as offered only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Protocol

from pydantic import BaseModel, Field

from common.principal import Principal
from cti.control import NotAllowed, NotFound
from cti.web.endpoint import STAFF_ROLES, Access, ApiRequest, Endpoint
from cti.web.schemas import Body
from ivr.targets import OFFERS
from recordings.calllog import CITY_TENANT, CallRecord
from recordings.models import ParticipantRole

# Supervisors and admins, the city's and the districts' (the latter scoped to their district).
SCOPED_STAFF = Access(anyone=STAFF_ROLES, districts=True)


class CallLogReader(Protocol):
    async def get(self, call_id: str) -> CallRecord | None: ...

    async def last(self, count: int, *, tenant: str | None = None) -> list[CallRecord]: ...

    async def all(
        self, since: dt.datetime | None = None, *, tenant: str | None = None
    ) -> list[CallRecord]: ...


class CallLogQuery(Body):
    limit: Annotated[int, Field(ge=1, le=1000)] = 100
    # A city user may filter by tenant (``city``: the city's own line); a district user's
    # only allowed value is their own district.
    tenant: str | None = None


class FiguresQuery(Body):
    hours: Annotated[int, Field(ge=1, le=24 * 31)] = 24
    within_s: Annotated[float, Field(gt=0, le=3600)] = 20.0
    tenant: str | None = None


class CallLogItem(BaseModel):
    id: str
    tenant: str
    started_at: dt.datetime
    routed_at: dt.datetime | None
    ended_at: dt.datetime | None
    language: str | None
    service: str | None
    consultant: str | None
    answered_after_s: float | None


class Figures(BaseModel):
    tenant: str
    offered: int
    answered: int
    abandoned: int
    answered_within_target: int
    service_level: float | None


class FiguresReport(BaseModel):
    scope: str  # "all" for the city's users, else the district
    since: dt.datetime
    within_s: float
    total: Figures
    per_tenant: list[Figures]


def tenant_of(call: CallRecord) -> str:
    return call.tenant or CITY_TENANT


def _answered_after(call: CallRecord) -> float | None:
    joined = [p.joined_at for p in call.participants if p.role is ParticipantRole.CONSULTANT]
    if not joined or call.routed_at is None:
        return None
    return max(0.0, (min(joined) - call.routed_at).total_seconds())


def _item(call: CallRecord) -> CallLogItem:
    return CallLogItem(
        id=call.id,
        tenant=tenant_of(call),
        started_at=call.started_at,
        routed_at=call.routed_at,
        ended_at=call.ended_at,
        language=call.language,
        service=call.service,
        consultant=call.consultant,
        answered_after_s=_answered_after(call),
    )


def figures(tenant: str, calls: Iterable[CallRecord], within_s: float) -> Figures:
    offered = answered = abandoned = in_target = 0
    for call in calls:
        if call.routed_at is None or call.service is None or call.service in OFFERS:
            continue
        offered += 1
        after = _answered_after(call)
        if after is not None:
            answered += 1
            in_target += after <= within_s
        elif call.ended_at is not None:
            abandoned += 1
    finished = answered + abandoned
    return Figures(
        tenant=tenant,
        offered=offered,
        answered=answered,
        abandoned=abandoned,
        answered_within_target=in_target,
        service_level=in_target / finished if finished else None,
    )


def _scope(who: Principal, asked: str | None) -> str | None:
    """The tenant filter for this principal (None: everything, for the city's users)."""
    if who.tenant is None:
        return asked
    if asked is not None and asked != who.tenant:
        raise NotAllowed(f"{who.user_id} sees only the district {who.tenant!r}")
    return who.tenant


class CallLogApi:
    def __init__(
        self,
        calls: CallLogReader,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._calls = calls
        self._clock = clock

    async def list(self, r: ApiRequest) -> object:
        query = r.query_as(CallLogQuery)
        found = await self._calls.last(query.limit, tenant=_scope(r.who, query.tenant))
        return [_item(c) for c in found]

    async def one(self, r: ApiRequest) -> object:
        call_id = r.path["call_id"]
        call = await self._calls.get(call_id)
        who = r.who
        # Another tenant's call is not there for a district: the same answer as no call.
        if call is None or (who.tenant is not None and tenant_of(call) != who.tenant):
            raise NotFound("call", call_id)
        return _item(call)

    async def figures(self, r: ApiRequest) -> object:
        query = r.query_as(FiguresQuery)
        scope = _scope(r.who, query.tenant)
        since = self._clock() - dt.timedelta(hours=query.hours)
        calls = await self._calls.all(since, tenant=scope)
        by_tenant: dict[str, list[CallRecord]] = {}
        for call in calls:
            by_tenant.setdefault(tenant_of(call), []).append(call)
        return FiguresReport(
            scope=scope or "all",
            since=since,
            within_s=query.within_s,
            total=figures(scope or "all", calls, query.within_s),
            per_tenant=[figures(t, by_tenant[t], query.within_s) for t in sorted(by_tenant)],
        )

    def endpoints(self) -> Sequence[Endpoint]:
        return [
            Endpoint(
                "GET",
                "/api/calllog",
                self.list,
                "The newest calls of the call log, of the caller's tenant only for a district",
                SCOPED_STAFF,
                "calllog",
                query=CallLogQuery,
                response=list[CallLogItem],
                errors=(403,),
            ),
            Endpoint(
                "GET",
                "/api/calllog/figures",
                self.figures,
                "Offered, answered, abandoned and service level, per tenant",
                SCOPED_STAFF,
                "calllog",
                query=FiguresQuery,
                response=FiguresReport,
                errors=(403,),
            ),
            Endpoint(
                "GET",
                "/api/calllog/{call_id}",
                self.one,
                "One call of the call log (404 for a district user: another tenant's call)",
                SCOPED_STAFF,
                "calllog",
                response=CallLogItem,
                errors=(404,),
            ),
        ]
