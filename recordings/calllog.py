"""The call log: what the engine tells us about each call into 120.

The engine (AMI + IVR, wired by the composition root) calls ``call_started`` when the
citizen's channel is answered, ``call_routed`` when the IVR hands the call over,
``consultant_joined`` for every consultant, interpreter or supervisor bridged in, and
``call_ended`` at hangup.

Invariants:
- A caller's number is stored only as a keyed lookup hash plus ciphertext (``NumberProtector``).
- ``call_started`` is idempotent for the same (call id, uniqueid) so an engine that restarts
  and re-announces a call does not fail; a different uniqueid for a known id is an error.
- Bad input (unknown call, malformed language code, journey that is not JSON) raises
  ``CallLogError`` and stores nothing; times must be aware datetimes.
- ``started_at`` is the answer time (MixMonitor starts right after), so ``duration_ms``
  is what the recording's length is compared with.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dasan.alarms import Clock, utc_now
from dasan.storage import Storage
from recordings.keys import NumberProtector
from recordings.models import CallRow, ParticipantRole, ParticipantRow

_LANGUAGE = re.compile(r"^[a-z]{2}$")
_BATCH = 1000


class CallLogError(ValueError):
    """The engine reported something the call log cannot accept; nothing was stored."""


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


class CallLog:
    def __init__(
        self, storage: Storage, protector: NumberProtector | None, clock: Clock = utc_now
    ) -> None:
        self._storage = storage
        self._protector = protector
        self._clock = clock

    async def call_started(
        self,
        call_id: str,
        uniqueid: str,
        linkedid: str | None,
        caller_number: str | None,
        started_at: datetime,
    ) -> None:
        _aware("started_at", started_at)
        if not call_id or not uniqueid:
            raise CallLogError("call_id and uniqueid are required")
        row = CallRow(id=call_id, uniqueid=uniqueid, linkedid=linkedid, started_at=started_at)
        if caller_number:
            if self._protector is None:
                raise CallLogError("no master key loaded to protect the caller's number")
            row.caller_hash = self._protector.lookup_hash(caller_number)
            row.caller_enc = self._protector.encrypt(caller_number, call_id)
            row.key_id = self._protector.key_id
        try:
            async with self._storage.write() as session:
                existing = await session.get(CallRow, call_id)
                if existing is not None:
                    if existing.uniqueid != uniqueid:
                        raise CallLogError(
                            f"call {call_id} already has uniqueid {existing.uniqueid}"
                        )
                    return
                session.add(row)
        except IntegrityError as exc:
            raise CallLogError(f"uniqueid {uniqueid} already belongs to another call") from exc

    async def call_routed(
        self,
        call_id: str,
        language: str | None,
        service: str | None,
        journey_json: str | Mapping[str, Any] | Sequence[Any] | None = None,
    ) -> None:
        if language is not None and not _LANGUAGE.match(language):
            raise CallLogError(f"language {language!r} is not an ISO 639-1 code")
        journey = _journey_text(journey_json)
        async with self._storage.write() as session:
            row = await self._row(session, call_id)
            row.language, row.service, row.routed_at = language, service, self._clock()
            if journey is not None:
                row.journey = journey

    async def call_progress(
        self,
        call_id: str,
        language: str | None = None,
        service: str | None = None,
        journey_json: str | Mapping[str, Any] | Sequence[Any] | None = None,
    ) -> None:
        """What the IVR knows so far (the caller is still in the menu): like ``call_routed``
        but leaves ``routed_at`` unset; None leaves a field as it is."""
        if language is not None and not _LANGUAGE.match(language):
            raise CallLogError(f"language {language!r} is not an ISO 639-1 code")
        journey = _journey_text(journey_json)
        async with self._storage.write() as session:
            row = await self._row(session, call_id)
            if language is not None:
                row.language = language
            if service is not None:
                row.service = service
            if journey is not None:
                row.journey = journey

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
        async with self._storage.write() as session:
            await self._row(session, call_id)
            exists = await session.scalar(
                select(ParticipantRow.id).where(
                    ParticipantRow.call_id == call_id,
                    ParticipantRow.person_id == consultant_id,
                    ParticipantRow.role == kind.value,
                )
            )
            if exists is None:
                session.add(
                    ParticipantRow(
                        call_id=call_id, person_id=consultant_id, role=kind.value, joined_at=joined
                    )
                )

    async def call_ended(self, call_id: str, ended_at: datetime) -> None:
        _aware("ended_at", ended_at)
        async with self._storage.write() as session:
            row = await self._row(session, call_id)
            row.ended_at = ended_at
            row.duration_ms = max(0, round((ended_at - row.started_at).total_seconds() * 1000))

    async def _row(self, session: AsyncSession, call_id: str) -> CallRow:
        row = await session.get(CallRow, call_id)
        if row is None:
            raise CallLogError(f"unknown call {call_id}")
        return row

    # Reading --------------------------------------------------------------------------
    async def get(self, call_id: str) -> CallRecord | None:
        found = await self._records(select(CallRow).where(CallRow.id == call_id))
        return found[0] if found else None

    async def by_uniqueid(self, uniqueid: str) -> CallRecord | None:
        found = await self._records(select(CallRow).where(CallRow.uniqueid == uniqueid))
        return found[0] if found else None

    async def last(self, count: int) -> list[CallRecord]:
        query = select(CallRow).order_by(CallRow.started_at.desc(), CallRow.id.desc()).limit(count)
        return await self._records(query)

    async def all(self, since: datetime | None = None) -> list[CallRecord]:
        query = select(CallRow).order_by(CallRow.started_at)
        if since is not None:
            query = query.where(CallRow.started_at >= since)
        return await self._records(query)

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
    )
