"""Tickets of the 129 line: created from a call or a web form, routed, worked, escalated.

Invariants:
- ``create`` validates everything (known category, district, urgency, language and channel;
  consent given; lengths within bounds) before it writes, then writes the ticket, its first
  timeline entries and nothing else in one transaction: bad input creates nothing.
- Every change (accept, progress note, resolve, reassign, escalation, linked call) adds a
  timeline row in the same transaction; changes the citizen hears about also add an outbox
  row (``care_notifications``, state ``queued``) there, so none is lost between the two.
- Who may read or change a ticket: supervisors and admins any; an official only the tickets
  of their own department (``care_officials``); a consultant the tickets they created.
- The citizen's number is stored as a lookup hash plus ciphertext bound to the ticket id.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from care.errors import Forbidden, InvalidInput, NotFound, WrongState
from care.messages import LANGUAGES, message
from care.models import NotificationRow, OfficialRow, TicketEventRow, TicketRow
from care.rules import URGENCIES, CareRules, overdue
from common.alarms import Clock, utc_now
from common.principal import Principal, Role
from common.storage import Storage
from recordings.keys import NumberProtector

CHANNELS = ("callback", "sms", "none")
SOURCES = ("call", "web", "chat", "sms", "safety")
MAX_ADDRESS = 300
MAX_DESCRIPTION = 4000
MAX_NOTE = 2000
_NUMBER = re.compile(r"^\+?[0-9][0-9 -]{2,30}$")
_OPEN = ("new", "accepted")
_STAFF = (Role.SUPERVISOR, Role.ADMIN)


@dataclass(frozen=True, slots=True)
class NewTicket:
    category: str
    district: str
    address: str
    description: str
    consent: bool
    urgency: str = "normal"
    language: str = "ko"
    channel: str = "callback"
    number: str | None = None
    call_id: str | None = None
    source: str = "call"


@dataclass(frozen=True, slots=True)
class TicketView:
    id: str
    call_id: str | None
    source: str
    category: str
    district: str
    department: str
    address: str
    description: str
    urgency: str
    language: str
    channel: str
    status: str
    assignee: str | None
    created_by: str
    created_at: dt.datetime
    due_at: dt.datetime
    first_response_at: dt.datetime | None
    resolved_at: dt.datetime | None
    escalations: int
    overdue: bool


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: dt.datetime
    kind: str
    actor: str
    text: str
    call_id: str | None
    ref: str | None


def validate(new: NewTicket, rules: CareRules) -> None:
    """Raise InvalidInput naming the first bad field; pure."""
    checks = (
        (new.consent is True, "consent: the citizen's consent is required"),
        (new.category in rules.categories, f"category: unknown category {new.category!r}"),
        (new.district in rules.districts, f"district: unknown district {new.district!r}"),
        (new.urgency in URGENCIES, f"urgency: one of {', '.join(URGENCIES)}"),
        (new.language in LANGUAGES, f"language: one of {', '.join(LANGUAGES)}"),
        (new.channel in CHANNELS, f"channel: one of {', '.join(CHANNELS)}"),
        (new.source in SOURCES, f"source: one of {', '.join(SOURCES)}"),
        (0 < len(new.address.strip()) <= MAX_ADDRESS, f"address: 1-{MAX_ADDRESS} characters"),
        (
            0 < len(new.description.strip()) <= MAX_DESCRIPTION,
            f"description: 1-{MAX_DESCRIPTION} characters",
        ),
        (new.number is None or bool(_NUMBER.match(new.number)), "number: not a phone number"),
        (
            new.channel == "none" or bool(new.number),
            "number: a number is needed to send updates by call-back or SMS",
        ),
    )
    for ok, problem in checks:
        if not ok:
            raise InvalidInput(problem)


def _view(row: TicketRow, now: dt.datetime) -> TicketView:
    return TicketView(
        id=row.id,
        call_id=row.call_id,
        source=row.source,
        category=row.category,
        district=row.district,
        department=row.department,
        address=row.address,
        description=row.description,
        urgency=row.urgency,
        language=row.language,
        channel=row.channel,
        status=row.status,
        assignee=row.assignee,
        created_by=row.created_by,
        created_at=row.created_at,
        due_at=row.due_at,
        first_response_at=row.first_response_at,
        resolved_at=row.resolved_at,
        escalations=row.escalations,
        overdue=row.status in _OPEN and row.due_at <= now,
    )


class Tickets:
    def __init__(
        self,
        storage: Storage,
        rules: CareRules,
        protector: NumberProtector | None,
        clock: Clock = utc_now,
    ) -> None:
        self._storage = storage
        self._rules = rules
        self._protector = protector
        self._clock = clock

    @property
    def storage(self) -> Storage:
        return self._storage

    @property
    def rules(self) -> CareRules:
        return self._rules

    # Creating ----------------------------------------------------------------------------
    async def create(self, new: NewTicket, actor: Principal) -> TicketView:
        validate(new, self._rules)
        if actor.role is Role.OFFICIAL:
            raise Forbidden("officials work on tickets; they do not create them")
        now = self._clock()
        ticket_id = f"T{now:%Y%m%d}-{secrets.token_hex(4)}"
        department = self._rules.route(new.category, new.district)
        row = TicketRow(
            id=ticket_id,
            call_id=new.call_id,
            source=new.source,
            category=new.category,
            district=new.district,
            department=department,
            address=new.address.strip(),
            description=new.description.strip(),
            urgency=new.urgency,
            language=new.language,
            channel=new.channel,
            consent=True,
            status="new",
            created_by=actor.user_id,
            created_at=now,
            due_at=self._rules.due_at(new.category, new.urgency, now),
            escalations=0,
        )
        if new.number:
            if self._protector is None:
                raise InvalidInput("number: no key loaded to protect the citizen's number")
            row.number_hash = self._protector.lookup_hash(new.number)
            row.number_enc = self._protector.encrypt(new.number, ticket_id)
            row.key_id = self._protector.key_id
        async with self._storage.write() as session:
            session.add(row)
            await session.flush()
            self._event(session, row, "created", actor.user_id, f"{new.source}: {new.category}")
            if new.call_id:
                self._event(
                    session, row, "call", actor.user_id, "conversation", call_id=new.call_id
                )
            self._event(session, row, "routed", "rules", department)
        return _view(row, now)

    # Reading -----------------------------------------------------------------------------
    async def get(self, ticket_id: str, actor: Principal) -> TicketView:
        async with self._storage.session() as session:
            row = await self._readable(session, ticket_id, actor)
            return _view(row, self._clock())

    async def search(
        self, actor: Principal, *, status: str | None = None, department: str | None = None
    ) -> list[TicketView]:
        query = select(TicketRow).order_by(TicketRow.due_at, TicketRow.id)
        async with self._storage.session() as session:
            if actor.role is Role.OFFICIAL:
                query = query.where(TicketRow.department == await self._department(session, actor))
            elif actor.role is Role.CONSULTANT:
                query = query.where(TicketRow.created_by == actor.user_id)
            if status is not None:
                query = query.where(TicketRow.status == status)
            if department is not None:
                query = query.where(TicketRow.department == department)
            rows = list(await session.scalars(query))
        now = self._clock()
        return [_view(r, now) for r in rows]

    async def timeline(self, ticket_id: str, actor: Principal) -> list[TimelineEntry]:
        async with self._storage.session() as session:
            await self._readable(session, ticket_id, actor)
            rows = await session.scalars(
                select(TicketEventRow)
                .where(TicketEventRow.ticket_id == ticket_id)
                .order_by(TicketEventRow.id)
            )
            return [TimelineEntry(r.at, r.kind, r.actor, r.text, r.call_id, r.ref) for r in rows]

    async def number(self, ticket_id: str) -> str | None:
        """The citizen's number in clear, for sending an update (never shown on a page)."""
        async with self._storage.session() as session:
            row = await session.get(TicketRow, ticket_id)
        if row is None or row.number_enc is None or row.key_id is None:
            return None
        if self._protector is None:
            raise InvalidInput("no key loaded to reveal the citizen's number")
        return self._protector.decrypt(row.number_enc, ticket_id, row.key_id)

    # Working -----------------------------------------------------------------------------
    async def accept(self, ticket_id: str, actor: Principal) -> TicketView:
        async with self._storage.write() as session:
            row = await self._writable(session, ticket_id, actor)
            if row.status != "new":
                raise WrongState(f"ticket {ticket_id} is {row.status}, not new")
            now = self._clock()
            row.status, row.assignee = "accepted", actor.user_id
            row.first_response_at = row.first_response_at or now
            self._event(session, row, "accepted", actor.user_id, "")
            self._notify(session, row, "accepted", "")
            return _view(row, now)

    async def note(self, ticket_id: str, actor: Principal, text: str) -> TicketView:
        text = _bounded("note", text, MAX_NOTE)
        async with self._storage.write() as session:
            row = await self._writable(session, ticket_id, actor)
            if row.status not in _OPEN:
                raise WrongState(f"ticket {ticket_id} is {row.status}")
            now = self._clock()
            row.first_response_at = row.first_response_at or now
            self._event(session, row, "progress", actor.user_id, text)
            self._notify(session, row, "progress", text)
            return _view(row, now)

    async def resolve(self, ticket_id: str, actor: Principal, text: str) -> TicketView:
        text = _bounded("resolution", text, MAX_NOTE)
        async with self._storage.write() as session:
            row = await self._writable(session, ticket_id, actor)
            if row.status not in _OPEN:
                raise WrongState(f"ticket {ticket_id} is {row.status}")
            now = self._clock()
            row.status, row.resolved_at = "resolved", now
            row.assignee = row.assignee or actor.user_id
            row.first_response_at = row.first_response_at or now
            self._event(session, row, "resolved", actor.user_id, text)
            self._notify(session, row, "resolved", text)
            return _view(row, now)

    async def reassign(
        self, ticket_id: str, actor: Principal, department: str, reason: str
    ) -> TicketView:
        reason = _bounded("reason", reason, MAX_NOTE)
        if department not in self._rules.departments:
            raise InvalidInput(f"department: unknown department {department!r}")
        async with self._storage.write() as session:
            row = await self._writable(session, ticket_id, actor)
            if row.status not in _OPEN:
                raise WrongState(f"ticket {ticket_id} is {row.status}")
            if department == row.department:
                raise WrongState(f"ticket {ticket_id} is already with {department}")
            before = row.department
            row.department, row.status, row.assignee = department, "new", None
            self._event(session, row, "reassigned", actor.user_id, reason, ref=before)
            return _view(row, self._clock())

    async def link_call(
        self, ticket_id: str, call_id: str, actor: Principal, what: str = "conversation"
    ) -> None:
        async with self._storage.write() as session:
            row = await self._writable(session, ticket_id, actor)
            self._event(
                session, row, "call", actor.user_id, _bounded("what", what, 200), call_id=call_id
            )

    async def record(
        self, ticket_id: str, kind: str, text: str, *, call_id: str | None = None
    ) -> None:
        """A system entry in the timeline (a notification's fate, a call-back's outcome)."""
        async with self._storage.write() as session:
            row = await session.get(TicketRow, ticket_id)
            if row is None:
                raise NotFound(f"no ticket {ticket_id!r}")
            self._event(session, row, kind, "system", text, call_id=call_id)

    async def escalate_overdue(self) -> list[str]:
        """Open tickets past due are escalated once per time they fall due (the due time
        moves on by half the category's time); returns their ids."""
        now = self._clock()
        async with self._storage.write() as session:
            rows = list(
                await session.scalars(
                    select(TicketRow).where(TicketRow.status.in_(_OPEN), TicketRow.due_at <= now)
                )
            )
            by_id = {r.id: r for r in rows}
            due = overdue(((r.id, r.due_at, r.escalated_at) for r in rows), now)
            for ticket_id in due:
                row = by_id[ticket_id]
                row.escalations += 1
                row.escalated_at = now
                hours = float(self._rules.categories[row.category]["due_hours"]) / 2
                row.due_at = now + dt.timedelta(hours=hours)
                text = f"overdue: escalation {row.escalations} to the head of {row.department}"
                self._event(session, row, "escalated", "clock", text)
        return due

    # Helpers -----------------------------------------------------------------------------
    async def _department(self, session: AsyncSession, actor: Principal) -> str:
        official = await session.get(OfficialRow, actor.user_id)
        if official is None:
            raise Forbidden(f"official {actor.user_id} belongs to no department")
        return official.department

    async def _readable(self, session: AsyncSession, ticket_id: str, actor: Principal) -> TicketRow:
        row = await session.get(TicketRow, ticket_id)
        if row is None:
            raise NotFound(f"no ticket {ticket_id!r}")
        if actor.role in _STAFF:
            return row
        if actor.role is Role.OFFICIAL:
            if row.department == await self._department(session, actor):
                return row
        elif actor.role is Role.CONSULTANT and row.created_by == actor.user_id:
            return row
        raise Forbidden(f"ticket {ticket_id} is not yours to see")

    async def _writable(self, session: AsyncSession, ticket_id: str, actor: Principal) -> TicketRow:
        if actor.role is Role.CONSULTANT:
            raise Forbidden("consultants do not work on tickets; officials do")
        return await self._readable(session, ticket_id, actor)

    def _event(
        self,
        session: AsyncSession,
        row: TicketRow,
        kind: str,
        actor: str,
        text: str,
        *,
        call_id: str | None = None,
        ref: str | None = None,
    ) -> None:
        at = self._clock()
        session.add(
            TicketEventRow(
                ticket_id=row.id, at=at, kind=kind, actor=actor, text=text, call_id=call_id, ref=ref
            )
        )

    def _notify(self, session: AsyncSession, row: TicketRow, kind: str, text: str) -> None:
        if row.channel == "none":
            return
        now = self._clock()
        session.add(
            NotificationRow(
                ticket_id=row.id,
                kind=kind,
                channel=row.channel,
                language=row.language,
                message=message(kind, row.language, row.id, text),
                state="queued",
                detail="",
                created_at=now,
                updated_at=now,
            )
        )


def _bounded(name: str, text: str, limit: int) -> str:
    text = text.strip()
    if not 0 < len(text) <= limit:
        raise InvalidInput(f"{name}: 1-{limit} characters")
    return text
