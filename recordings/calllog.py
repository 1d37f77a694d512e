"""The call log: what the engine tells us about each call into 120.

The engine (AMI + IVR, wired by the composition root) calls ``call_started`` when the
citizen's channel is answered, ``call_routed`` when the IVR hands the call over,
``consultant_joined`` for every consultant, interpreter or supervisor bridged in, and
``call_ended`` at hangup.

Invariants:
- A caller's number is stored only as a keyed lookup hash plus ciphertext (``NumberProtector``).
- ``call_started`` is idempotent for the same (call id, uniqueid) so an engine that restarts
  and re-announces a call does not fail; a different uniqueid for a known id is an error.
- Bad input (malformed language code, journey that is not JSON, naive times) raises
  ``CallLogError`` at once and stores nothing. A change the database state refuses (unknown
  call, uniqueid taken) raises ``CallLogError`` in direct mode; with a ``DurableWriter`` the
  engine's call path never waits on the database: the write is journaled and queued, and a
  refused one is set aside (``rejected.jsonl``) with an alarm.
- With a writer, readers of one call (``get``, ``by_uniqueid``, ``caller_number``) first wait
  a bounded time for that call's queued writes (read-your-writes).
- ``started_at`` is the answer time (MixMonitor starts right after), so ``duration_ms``
  is what the recording's length is compared with.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from common.alarms import Clock, utc_now
from common.storage import Storage
from common.writer import Applier, DurableWriter, Rejected
from recordings.keys import NumberProtector
from recordings.models import CallRow, ParticipantRole, ParticipantRow

_LANGUAGE = re.compile(r"^[a-z]{2}$")
_TENANT = re.compile(r"^[a-z0-9]{1,32}$")
_BATCH = 1000


class CallLogError(ValueError):
    """The engine reported something the call log cannot accept; nothing was stored."""


class CallLogPending(RuntimeError):
    """A call's writes are still queued (the database is behind or down); try again later."""


@dataclass(frozen=True, slots=True)
class Participant:
    person_id: str
    role: ParticipantRole
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class CallRecord:
    id: str
    uniqueid: str
    linkedid: str | None
    language: str | None
    service: str | None
    journey: Any
    started_at: datetime
    routed_at: datetime | None
    ended_at: datetime | None
    duration_ms: int | None
    participants: tuple[Participant, ...]
    # The district whose number was dialed (districts as tenants); None: the city's own line.
    tenant: str | None = None

    def people(self, role: ParticipantRole) -> list[str]:
        return [p.person_id for p in self.participants if p.role is role]

    @property
    def consultant(self) -> str | None:
        consultants = self.people(ParticipantRole.CONSULTANT)
        return consultants[0] if consultants else None


def _aware(name: str, value: datetime) -> datetime:
    if value.tzinfo is None:
        raise CallLogError(f"{name} must be timezone-aware")
    return value


def _journey_text(journey: str | Mapping[str, Any] | Sequence[Any] | None) -> str | None:
    if journey is None:
        return None
    if isinstance(journey, str):
        try:
            json.loads(journey)
        except ValueError as exc:
            raise CallLogError(f"journey is not valid JSON: {exc}") from exc
        return journey
    try:
        return json.dumps(journey, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise CallLogError(f"journey cannot be written as JSON: {exc}") from exc


def _routing(
    call_id: str,
    language: str | None,
    service: str | None,
    journey_json: str | Mapping[str, Any] | Sequence[Any] | None,
) -> dict[str, Any]:
    """A routing or progress write's fields, the language checked (ISO 639-1)."""
    if language is not None and not _LANGUAGE.match(language):
        raise CallLogError(f"language {language!r} is not an ISO 639-1 code")
    return {
        "id": call_id,
        "language": language,
        "service": service,
        "journey": _journey_text(journey_json),
    }


class CallLogRefused(CallLogError, Rejected):
    """The database state makes this change impossible (unknown call, uniqueid taken)."""


# Writes are data (JSON-able arguments) so the durable writer can journal and replay them;
# each applier is idempotent (replaying a write after a crash changes nothing). Within one
# transaction the rows a batch touches are kept in ``session.info`` (the writer clears it when
# it redoes a batch), and lookups do not flush: a batch's inserts go out together at commit.
def _known(session: AsyncSession) -> dict[str, CallRow]:
    known: dict[str, CallRow] = session.info.setdefault("dasan_calls", {})
    return known


async def _apply_started(session: AsyncSession, args: dict[str, Any]) -> None:
    with session.no_autoflush:
        existing = await _lookup(session, args["id"])
        if existing is not None:
            if existing.uniqueid != args["uniqueid"]:
                raise CallLogRefused(f"call {args['id']} already has uniqueid {existing.uniqueid}")
            return
        taken = await session.scalar(select(CallRow.id).where(CallRow.uniqueid == args["uniqueid"]))
    if taken is not None:
        raise CallLogRefused(f"uniqueid {args['uniqueid']} already belongs to another call")
    enc = args.get("caller_enc")
    row = CallRow(
        id=args["id"],
        uniqueid=args["uniqueid"],
        linkedid=args.get("linkedid"),
        started_at=datetime.fromisoformat(args["started_at"]),
        caller_hash=args.get("caller_hash"),
        caller_enc=base64.b64decode(enc) if enc else None,
        key_id=args.get("key_id"),
        tenant=args.get("tenant"),
    )
    session.add(row)
    _known(session)[row.id] = row


async def _apply_routed(session: AsyncSession, args: dict[str, Any]) -> None:
    row = await _existing(session, args["id"])
    row.language, row.service = args["language"], args["service"]
    row.routed_at = datetime.fromisoformat(args["routed_at"])
    if args.get("journey") is not None:
        row.journey = args["journey"]


async def _apply_progress(session: AsyncSession, args: dict[str, Any]) -> None:
    """The IVR's progress so far: fields given replace the row's, ``routed_at`` stays unset."""
    row = await _existing(session, args["id"])
    for field in ("language", "service", "journey"):
        if args.get(field) is not None:
            setattr(row, field, args[field])


async def _apply_joined(session: AsyncSession, args: dict[str, Any]) -> None:
    await _existing(session, args["id"])
    with session.no_autoflush:
        exists = await session.scalar(
            select(ParticipantRow.id).where(
                ParticipantRow.call_id == args["id"],
                ParticipantRow.person_id == args["person"],
                ParticipantRow.role == args["role"],
            )
        )
    if exists is None:
        session.add(
            ParticipantRow(
                call_id=args["id"],
                person_id=args["person"],
                role=args["role"],
                joined_at=datetime.fromisoformat(args["at"]),
            )
        )


async def _apply_ended(session: AsyncSession, args: dict[str, Any]) -> None:
    row = await _existing(session, args["id"])
    ended_at = datetime.fromisoformat(args["ended_at"])
    row.ended_at = ended_at
    row.duration_ms = max(0, round((ended_at - row.started_at).total_seconds() * 1000))


async def _lookup(session: AsyncSession, call_id: str) -> CallRow | None:
    known = _known(session)
    row = known.get(call_id)
    if row is None:
        with session.no_autoflush:
            row = await session.get(CallRow, call_id)
        if row is not None:
            known[call_id] = row  # also keeps it referenced (the identity map holds it weakly)
    return row


async def _existing(session: AsyncSession, call_id: str) -> CallRow:
    row = await _lookup(session, call_id)
    if row is None:
        raise CallLogRefused(f"unknown call {call_id}")
    return row


_APPLIERS: dict[str, Applier] = {
    "calls.started": _apply_started,
    "calls.routed": _apply_routed,
    "calls.progress": _apply_progress,
    "calls.joined": _apply_joined,
    "calls.ended": _apply_ended,
}


class CallLog:
    """Direct (each write its own transaction, errors raised) or, given a ``DurableWriter``,
    queued: writes return at once and land in order; readers of one call see its writes."""

    def __init__(
        self,
        storage: Storage,
        protector: NumberProtector | None,
        clock: Clock = utc_now,
        *,
        writer: DurableWriter | None = None,
        settle_s: float = 5.0,
    ) -> None:
        self._storage = storage
        self._protector = protector
        self._clock = clock
        self._writer = writer
        self._settle_s = settle_s
        if writer is not None:
            for kind, applier in _APPLIERS.items():
                writer.register(kind, applier)

    async def _write(self, kind: str, args: dict[str, Any]) -> None:
        if self._writer is not None:
            self._writer.enqueue(kind, args["id"], args)
            return
        try:
            async with self._storage.write() as session:
                await _APPLIERS[kind](session, args)
        except IntegrityError as exc:
            raise CallLogError(f"call {args['id']}: refused by the database: {exc.orig}") from exc

    async def call_started(
        self,
        call_id: str,
        uniqueid: str,
        linkedid: str | None,
        caller_number: str | None,
        started_at: datetime,
        *,
        tenant: str | None = None,
    ) -> None:
        """``tenant``: the district whose number was dialed (None: the city's own line)."""
        _aware("started_at", started_at)
        if not call_id or not uniqueid:
            raise CallLogError("call_id and uniqueid are required")
        args: dict[str, Any] = {
            "id": call_id,
            "uniqueid": uniqueid,
            "linkedid": linkedid,
            "started_at": started_at.isoformat(),
        }
        if tenant is not None:
            if not _TENANT.match(tenant):
                raise CallLogError(f"tenant {tenant!r} is not a district id")
            args["tenant"] = tenant
        if caller_number:
            if self._protector is None:
                raise CallLogError("no master key loaded to protect the caller's number")
            # Only the hash and ciphertext are ever queued or journaled, never the number.
            args["caller_hash"] = self._protector.lookup_hash(caller_number)
            enc = self._protector.encrypt(caller_number, call_id)
            args["caller_enc"] = base64.b64encode(enc).decode("ascii")
            args["key_id"] = self._protector.key_id
        await self._write("calls.started", args)

    async def call_routed(
        self,
        call_id: str,
        language: str | None,
        service: str | None,
        journey_json: str | Mapping[str, Any] | Sequence[Any] | None = None,
    ) -> None:
        args = _routing(call_id, language, service, journey_json)
        await self._write("calls.routed", args | {"routed_at": self._clock().isoformat()})

    async def call_progress(
        self,
        call_id: str,
        language: str | None = None,
        service: str | None = None,
        journey_json: str | Mapping[str, Any] | Sequence[Any] | None = None,
    ) -> None:
        """What the IVR knows so far (the caller is still in the menu): like ``call_routed``
        but leaves ``routed_at`` unset; None leaves a field as it is."""
        await self._write("calls.progress", _routing(call_id, language, service, journey_json))

    async def consultant_joined(
        self, call_id: str, consultant_id: str, role: str = "consultant", at: datetime | None = None
    ) -> None:
        try:
            kind = ParticipantRole(role)
        except ValueError as exc:
            raise CallLogError(
                f"role {role!r} is not one of {[r.value for r in ParticipantRole]}"
            ) from exc
        joined = _aware("at", at) if at is not None else self._clock()
        args = {"id": call_id, "person": consultant_id, "role": kind.value}
        await self._write("calls.joined", args | {"at": joined.isoformat()})

    async def call_ended(self, call_id: str, ended_at: datetime) -> None:
        _aware("ended_at", ended_at)
        await self._write("calls.ended", {"id": call_id, "ended_at": ended_at.isoformat()})

    async def settled(self, call_id: str, within_s: float | None = None) -> bool:
        """Wait (up to ``within_s``, default ``settle_s``) until this call's writes are in."""
        if self._writer is None:
            return True
        wait = self._settle_s if within_s is None else within_s
        return await self._writer.settled(call_id, wait)

    # Reading --------------------------------------------------------------------------
    async def get(self, call_id: str) -> CallRecord | None:
        await self.settled(call_id)  # best effort: a slow database still gets a read
        found = await self._records(select(CallRow).where(CallRow.id == call_id))
        return found[0] if found else None

    async def by_uniqueid(self, uniqueid: str) -> CallRecord | None:
        """Raises CallLogPending if that call's writes are still queued (database behind)."""
        if not await self.settled(uniqueid):
            raise CallLogPending(f"call {uniqueid}: its call-log writes are not in yet")
        found = await self._records(select(CallRow).where(CallRow.uniqueid == uniqueid))
        return found[0] if found else None

    async def last(self, count: int, *, tenant: str | None = None) -> list[CallRecord]:
        """The newest ``count`` calls; with ``tenant`` only that tenant's (``CITY_TENANT``:
        the calls to the city's own line)."""
        query = select(CallRow).order_by(CallRow.started_at.desc(), CallRow.id.desc()).limit(count)
        return await self._records(_of_tenant(query, tenant))

    async def all(
        self, since: datetime | None = None, *, tenant: str | None = None
    ) -> list[CallRecord]:
        query = select(CallRow).order_by(CallRow.started_at)
        if since is not None:
            query = query.where(CallRow.started_at >= since)
        return await self._records(_of_tenant(query, tenant))

    async def services(self, call_ids: Sequence[str]) -> dict[str, str | None]:
        """Service of each known call id (for retention)."""
        out: dict[str, str | None] = {}
        ids = sorted(set(call_ids))
        async with self._storage.session() as session:
            for start in range(0, len(ids), _BATCH):
                rows = await session.execute(
                    select(CallRow.id, CallRow.service).where(
                        CallRow.id.in_(ids[start : start + _BATCH])
                    )
                )
                out.update({call_id: service for call_id, service in rows})
        return out

    async def by_caller(self, number: str) -> list[CallRecord]:
        if self._protector is None:
            raise CallLogError("no master key loaded to look callers up")
        digest = self._protector.lookup_hash(number)
        return await self._records(select(CallRow).where(CallRow.caller_hash == digest))

    async def caller_number(self, call_id: str) -> str | None:
        """The caller's number in clear (for an authorized callback only)."""
        await self.settled(call_id)
        async with self._storage.session() as session:
            row = await session.get(CallRow, call_id)
        if row is None or row.caller_enc is None or row.key_id is None:
            return None
        if self._protector is None:
            raise CallLogError("no master key loaded to reveal the caller's number")
        return self._protector.decrypt(row.caller_enc, call_id, row.key_id)

    async def _records(self, query: Any) -> list[CallRecord]:
        async with self._storage.session() as session:
            rows = list(await session.scalars(query))
            people: dict[str, list[Participant]] = {r.id: [] for r in rows}
            ids = list(people)
            for start in range(0, len(ids), _BATCH):
                found = await session.scalars(
                    select(ParticipantRow)
                    .where(ParticipantRow.call_id.in_(ids[start : start + _BATCH]))
                    .order_by(ParticipantRow.joined_at, ParticipantRow.id)
                )
                for p in found:
                    people[p.call_id].append(
                        Participant(p.person_id, ParticipantRole(p.role), p.joined_at)
                    )
        return [_record(r, people[r.id]) for r in rows]


# The city's own calls (no district) as a tenant filter.
CITY_TENANT = "city"


def _of_tenant(query: Any, tenant: str | None) -> Any:
    if tenant is None:
        return query
    if tenant == CITY_TENANT:
        return query.where(CallRow.tenant.is_(None))
    return query.where(CallRow.tenant == tenant)


def _record(row: CallRow, people: list[Participant]) -> CallRecord:
    return CallRecord(
        id=row.id,
        uniqueid=row.uniqueid,
        linkedid=row.linkedid,
        language=row.language,
        service=row.service,
        journey=json.loads(row.journey) if row.journey else None,
        started_at=row.started_at,
        routed_at=row.routed_at,
        ended_at=row.ended_at,
        duration_ms=row.duration_ms,
        participants=tuple(people),
        tenant=row.tenant,
    )
