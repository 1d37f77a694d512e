"""Care's web edge: the ticket API (consultants, officials, supervisors), the citizen's web
form, the call-back list and survey aggregates for supervisors, and the ``/officials`` page.

Invariants:
- Handlers raise care's domain errors; ``_mapped`` turns each into one HTTP status here only.
- Role decides which endpoints answer (the dispatcher's ``Access``); which tickets a principal
  may see or change is decided by ``care.tickets`` (an official: their department only).
- A ticket created from a call is prefilled from the call log: the caller's language and
  number (kept encrypted) and the IVR journey; the body's values win where given.
- Citizens' numbers never leave in a response (call-backs show the last two digits).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from care.errors import CareError, Forbidden, InvalidInput, NotFound, WrongState
from care.reports import survey_report, tickets_report
from care.system import Care
from care.tickets import MAX_ADDRESS, MAX_DESCRIPTION, MAX_NOTE, NewTicket
from common.principal import Principal, Role
from cti.web.endpoint import PUBLIC, STAFF, Access, ApiRequest, Endpoint
from cti.web.errors import error_response

_STATUS: tuple[tuple[type[CareError], int], ...] = (
    (InvalidInput, 422),
    (NotFound, 404),
    (Forbidden, 403),
    (WrongState, 409),
)
WORKERS = Access(anyone=frozenset(Role))
CREATORS = Access(anyone=frozenset({Role.CONSULTANT, Role.SUPERVISOR, Role.ADMIN}))
OFFICIALS = Access(anyone=frozenset({Role.OFFICIAL, Role.SUPERVISOR, Role.ADMIN}))
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_ANONYMOUS_CITIZEN = "citizen-web"


class CallLookup(Protocol):
    """What care reads from the call log to prefill a ticket."""

    async def caller_number(self, call_id: str) -> str | None: ...

    async def get(self, call_id: str) -> Any: ...


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TicketBody(_Body):
    call_id: str | None = Field(default=None, max_length=64)
    category: str = Field(max_length=32)
    district: str = Field(max_length=32)
    address: str = Field(min_length=1, max_length=MAX_ADDRESS)
    description: str = Field(min_length=1, max_length=MAX_DESCRIPTION)
    urgency: Literal["low", "normal", "high", "urgent"] = "normal"
    language: str | None = Field(default=None, max_length=2)
    channel: Literal["callback", "sms", "none"] = "callback"
    number: str | None = Field(default=None, max_length=32)
    consent: bool = False


class CitizenTicketBody(_Body):
    category: str = Field(max_length=32)
    district: str = Field(max_length=32)
    address: str = Field(min_length=1, max_length=MAX_ADDRESS)
    description: str = Field(min_length=1, max_length=MAX_DESCRIPTION)
    language: Literal["ko", "en", "zh", "ja", "vi", "mn"] = "ko"
    channel: Literal["callback", "sms", "none"] = "callback"
    number: str | None = Field(default=None, max_length=32)
    consent: bool = False


class NoteBody(_Body):
    text: str = Field(min_length=1, max_length=MAX_NOTE)


class ReassignBody(_Body):
    department: str = Field(max_length=64)
    reason: str = Field(min_length=1, max_length=MAX_NOTE)


class ReportQuery(_Body):
    period: Literal["daily", "monthly"] = "daily"


class TicketQuery(_Body):
    status: Literal["new", "accepted", "resolved"] | None = None


def as_data(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: as_data(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): as_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_data(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def _ok(value: object, status: int = 200) -> web.Response:
    return web.json_response(as_data(value), status=status, dumps=_dumps)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


Handler = Callable[[ApiRequest], Awaitable[object]]


def _mapped(handler: Handler) -> Handler:
    async def handle(r: ApiRequest) -> object:
        try:
            return await handler(r)
        except CareError as exc:
            status = next((s for cls, s in _STATUS if isinstance(exc, cls)), 500)
            return error_response(status, exc.code, str(exc))

    return handle


class CareApi:
    def __init__(self, care: Care, calls: CallLookup | None) -> None:
        self._care = care
        self._calls = calls

    async def create(self, r: ApiRequest) -> object:
        body = r.body_as(TicketBody)
        language, number, journey = body.language, body.number, None
        if body.call_id:
            language, number, journey = await self._prefill(body.call_id, language, number)
        new = NewTicket(
            category=body.category,
            district=body.district,
            address=body.address,
            description=body.description,
            consent=body.consent,
            urgency=body.urgency,
            language=language or "ko",
            channel=body.channel,
            number=number,
            call_id=body.call_id,
            source="call" if body.call_id else "chat",
        )
        view = await self._care.tickets.create(new, r.who)
        if journey:
            await self._care.tickets.record(view.id, "ivr-journey", journey, call_id=body.call_id)
        return _ok(view, 201)

    async def _prefill(
        self, call_id: str, language: str | None, number: str | None
    ) -> tuple[str | None, str | None, str | None]:
        if self._calls is None:
            raise InvalidInput("call_id: the call log is not available here")
        record = await self._calls.get(call_id)
        if record is None:
            raise InvalidInput(f"call_id: no call {call_id!r} in the call log")
        journey = json.dumps(record.journey, ensure_ascii=False) if record.journey else None
        number = number or await self._calls.caller_number(call_id)
        return language or record.language, number, journey

    async def citizen_create(self, r: ApiRequest) -> object:
        body = r.body_as(CitizenTicketBody)
        new = NewTicket(
            category=body.category,
            district=body.district,
            address=body.address,
            description=body.description,
            consent=body.consent,
            language=body.language,
            channel=body.channel,
            number=body.number,
            source="web",
        )
        who = Principal(_ANONYMOUS_CITIZEN, Role.CONSULTANT, r.raw.remote or "web")
        view = await self._care.tickets.create(new, who)
        return _ok({"id": view.id, "department": view.department, "due_at": view.due_at}, 201)

    async def search(self, r: ApiRequest) -> object:
        status = r.query_as(TicketQuery).status
        return _ok(await self._care.tickets.search(r.who, status=status))

    async def one(self, r: ApiRequest) -> object:
        ticket_id = r.path["ticket_id"]
        view = await self._care.tickets.get(ticket_id, r.who)
        timeline = await self._care.tickets.timeline(ticket_id, r.who)
        notes = await self._care.outbox.notifications(ticket_id)
        return _ok({"ticket": view, "timeline": timeline, "notifications": notes})

    async def accept(self, r: ApiRequest) -> object:
        view = await self._care.tickets.accept(r.path["ticket_id"], r.who)
        await self._care.outbox.dispatch()
        return _ok(view)

    async def note(self, r: ApiRequest) -> object:
        text = r.body_as(NoteBody).text
        view = await self._care.tickets.note(r.path["ticket_id"], r.who, text)
        await self._care.outbox.dispatch()
        return _ok(view)

    async def resolve(self, r: ApiRequest) -> object:
        text = r.body_as(NoteBody).text
        view = await self._care.tickets.resolve(r.path["ticket_id"], r.who, text)
        await self._care.outbox.dispatch()
        return _ok(view)

    async def reassign(self, r: ApiRequest) -> object:
        body = r.body_as(ReassignBody)
        view = await self._care.tickets.reassign(
            r.path["ticket_id"], r.who, body.department, body.reason
        )
        return _ok(view)

    async def catalog(self, r: ApiRequest) -> object:
        rules = self._care.rules
        return _ok(
            {
                "districts": dict(rules.districts),
                "categories": {k: dict(v) for k, v in rules.categories.items()},
                "departments": sorted(rules.departments),
            }
        )

    async def callbacks(self, r: ApiRequest) -> object:
        return _ok(await self._care.callbacks.entries())

    async def survey(self, r: ApiRequest) -> object:
        return _ok(await self._care.survey.summary())

    async def report(self, r: ApiRequest) -> object:
        monthly = r.query_as(ReportQuery).period == "monthly"
        zone = ZoneInfo(self._care.settings.timezone)
        storage = self._care.tickets.storage
        if r.path["what"] == "survey":
            return _ok(await survey_report(storage, zone, monthly=monthly))
        if r.path["what"] != "tickets":
            raise NotFound(f"no report {r.path['what']!r} (tickets, survey)")
        return _ok(await tickets_report(storage, self._care.clock(), zone, monthly=monthly))

    def endpoints(self) -> list[Endpoint]:
        one = "/api/care/tickets/{ticket_id}"
        rows: list[tuple[str, str, Handler, str, Access, Any, Any]] = [
            ("POST", "/api/care/tickets", self.create, "Create a ticket (from a call: prefilled)",
             CREATORS, TicketBody, None),
            ("POST", "/api/care/citizen/tickets", self.citizen_create,
             "A citizen's report from the web form", PUBLIC, CitizenTicketBody, None),
            ("GET", "/api/care/tickets", self.search, "Tickets the caller may see",
             WORKERS, None, TicketQuery),
            ("GET", one, self.one, "One ticket with its timeline and updates", WORKERS,
             None, None),
            ("POST", one + "/accept", self.accept, "Accept a ticket", OFFICIALS, None, None),
            ("POST", one + "/notes", self.note, "Progress note (told to the citizen)",
             OFFICIALS, NoteBody, None),
            ("POST", one + "/resolve", self.resolve, "Resolve (told to the citizen)",
             OFFICIALS, NoteBody, None),
            ("POST", one + "/reassign", self.reassign, "Reassign with a reason", OFFICIALS,
             ReassignBody, None),
            ("GET", "/api/care/catalog", self.catalog, "Districts, categories, departments",
             PUBLIC, None, None),
            ("GET", "/api/care/callbacks", self.callbacks, "The call-back list", STAFF,
             None, None),
            ("GET", "/api/care/survey", self.survey, "Survey aggregates (no single score)",
             STAFF, None, None),
            ("GET", "/api/care/reports/{what}", self.report,
             "Tickets or survey per day or month", STAFF, None, ReportQuery),
        ]  # fmt: skip
        return [
            Endpoint(
                method,
                path,
                _mapped(handler),
                summary,
                access,
                "care",
                body=body,
                query=query,
                media_type="application/json",
                errors=(403, 404, 409, 422),
            )
            for method, path, handler, summary, access, body, query in rows
        ]


def page_routes() -> list[web.RouteDef]:
    """``/officials`` and the citizen's ``/care/report`` form with their scripts (read once,
    served like the CTI pages with the same strict CSP)."""
    files = resources.files("care.pages")
    routes = []
    for path, name in (("/officials", "officials"), ("/care/report", "report")):
        page = files.joinpath(f"{name}.html").read_bytes()
        script = files.joinpath(f"{name}.js").read_bytes()
        routes += [
            web.get(path, _serve(page, "text/html", {"Content-Security-Policy": _CSP})),
            web.get(f"/care/{name}.js", _serve(script, "text/javascript", {})),
        ]
    return routes


def _serve(
    body: bytes, content_type: str, headers: dict[str, str]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def serve(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type=content_type, charset="utf-8", headers=headers)

    return serve
