"""The safety tables behind one small async interface (SQLite and PostgreSQL alike).

Invariants:
- ``import_people`` stores every accepted person in one transaction, and only when the file
  had no rejected row; a number enrolled meanwhile (the unique hash) fails the whole import.
- Personal data is sealed before it reaches a row and opened only by ``person``/``people``.
- Timeline entries are appended, never changed; a notification's state changes only through
  ``notification_delivered`` (called by a notifier that delivered it).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from common.storage import Storage
from safety.models import AttemptRow, EscalationRow, NotificationRow, PersonRow, TimelineRow
from safety.people import ImportReport, Person, RejectedRow, parse_csv
from safety.protect import PersonalData


class SafetyStoreError(RuntimeError):
    """A write the database refused (the message says which)."""


def _minutes(value: dt.time) -> int:
    return value.hour * 60 + value.minute


def _time(minutes: int) -> dt.time:
    return dt.time(minutes // 60, minutes % 60)


@dataclass(frozen=True, slots=True)
class Attempt:
    id: str
    person_id: str
    kind: str
    planned_at: dt.datetime
    placed_at: dt.datetime
    ended_at: dt.datetime | None
    outcome: str | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class Escalation:
    id: str
    person_id: str
    reason: str
    opened_at: dt.datetime
    stage: str
    closed_at: dt.datetime | None
    closed_reason: str | None


class SafetyStore:
    def __init__(self, storage: Storage, protector: PersonalData) -> None:
        self._storage = storage
        self._protector = protector

    # People ---------------------------------------------------------------------------------
    async def import_csv(
        self, text: str, now: dt.datetime, *, dry_run: bool = False
    ) -> ImportReport:
        async with self._storage.session() as session:
            hashes = set((await session.scalars(select(PersonRow.number_hash))).all())
        report = parse_csv(text, lambda n: self._protector.number_hash(n) in hashes)
        if not report.ok or dry_run:
            return report
        try:
            async with self._storage.write() as session:
                session.add_all(self._row(p, now) for p in report.accepted)
        except IntegrityError:
            reason = RejectedRow(
                0, ("a number in the file was enrolled meanwhile: nothing stored",)
            )
            return ImportReport(report.accepted, (reason,))
        for person in report.accepted:
            await self.note(person.id, now, "enrolled", {"district": person.district})
        return ImportReport(report.accepted, (), (), stored=True)

    def _row(self, person: Person, now: dt.datetime) -> PersonRow:
        sealed = self._protector.seal(
            person.id,
            {
                "name": person.name,
                "number": person.number,
                "emergency_name": person.emergency_name,
                "emergency_number": person.emergency_number,
                "officer_name": person.officer_name,
                "officer_number": person.officer_number,
            },
        )
        return PersonRow(
            id=person.id,
            number_hash=sealed.number_hash,
            sealed=sealed.blob,
            key_id=sealed.key_id,
            district=person.district,
            language=person.language,
            window_start_min=_minutes(person.window_start),
            window_end_min=_minutes(person.window_end),
            personal_call=person.personal_call,
            calls_per_week=person.calls_per_week,
            active=True,
            enrolled_at=now,
        )

    def _person(self, row: PersonRow) -> Person:
        fields = self._protector.open(row.id, row.sealed, row.key_id)
        return Person(
            id=row.id,
            district=row.district,
            language=row.language,
            window_start=_time(row.window_start_min),
            window_end=_time(row.window_end_min),
            personal_call=row.personal_call,
            calls_per_week=row.calls_per_week,
            **fields,
        )

    async def people(self) -> list[Person]:
        async with self._storage.session() as session:
            rows = (await session.scalars(select(PersonRow).where(PersonRow.active))).all()
            return [self._person(r) for r in rows]

    async def person(self, person_id: str) -> Person | None:
        async with self._storage.session() as session:
            row = await session.get(PersonRow, person_id)
            return None if row is None else self._person(row)

    async def districts(self) -> dict[str, str]:
        """person id -> district, without opening any personal data."""
        async with self._storage.session() as session:
            rows = (await session.execute(select(PersonRow.id, PersonRow.district))).all()
            return {r[0]: r[1] for r in rows}

    # Attempts -------------------------------------------------------------------------------
    async def attempt_placed(
        self, attempt_id: str, person_id: str, kind: str, planned_at: dt.datetime, at: dt.datetime
    ) -> None:
        async with self._storage.write() as session:
            session.add(
                AttemptRow(
                    id=attempt_id,
                    person_id=person_id,
                    kind=kind,
                    planned_at=planned_at,
                    placed_at=at,
                )
            )
        await self.note(person_id, at, "call-placed", {"attempt": attempt_id, "kind": kind})

    async def attempt_ended(
        self, attempt_id: str, outcome: str, at: dt.datetime, detail: str = ""
    ) -> None:
        async with self._storage.write() as session:
            row = await session.get(AttemptRow, attempt_id)
            if row is None:
                raise SafetyStoreError(f"no attempt {attempt_id}")
            row.outcome, row.ended_at, row.detail = outcome, at, detail or None
            person_id = row.person_id
        await self.note(
            person_id,
            at,
            "call-ended",
            {"attempt": attempt_id, "outcome": outcome, "detail": detail},
        )

    async def attempts(self, since: dt.datetime | None = None) -> list[Attempt]:
        query = select(AttemptRow).order_by(AttemptRow.placed_at, AttemptRow.id)
        if since is not None:
            query = query.where(AttemptRow.placed_at >= since)
        async with self._storage.session() as session:
            rows = (await session.scalars(query)).all()
        return [
            Attempt(
                r.id,
                r.person_id,
                r.kind,
                r.planned_at,
                r.placed_at,
                r.ended_at,
                r.outcome,
                r.detail,
            )
            for r in rows
        ]

    # Escalations and notifications ----------------------------------------------------------
    async def escalation_opened(
        self, escalation_id: str, person_id: str, reason: str, at: dt.datetime
    ) -> None:
        async with self._storage.write() as session:
            session.add(
                EscalationRow(
                    id=escalation_id,
                    person_id=person_id,
                    reason=reason,
                    opened_at=at,
                    stage="callback",
                )
            )
        await self.note(
            person_id, at, "escalation-opened", {"escalation": escalation_id, "reason": reason}
        )

    async def escalation_stage(
        self, escalation_id: str, person_id: str, stage: str, at: dt.datetime, reason: str = ""
    ) -> None:
        values: dict[str, Any] = {"stage": stage}
        if stage == "closed":
            values |= {"closed_at": at, "closed_reason": reason}
        async with self._storage.write() as session:
            await session.execute(
                update(EscalationRow).where(EscalationRow.id == escalation_id).values(**values)
            )
        await self.note(
            person_id,
            at,
            f"escalation-{stage}",
            {"escalation": escalation_id, "reason": reason},
        )

    async def escalations(self) -> list[Escalation]:
        async with self._storage.session() as session:
            rows = (
                await session.scalars(select(EscalationRow).order_by(EscalationRow.opened_at))
            ).all()
        return [
            Escalation(
                r.id, r.person_id, r.reason, r.opened_at, r.stage, r.closed_at, r.closed_reason
            )
            for r in rows
        ]

    async def notification_pending(
        self, person_id: str, escalation_id: str, recipients: Sequence[str], at: dt.datetime
    ) -> list[str]:
        """One pending notification per recipient role; their ids."""
        ids = [f"n{uuid.uuid4().hex[:15]}" for _ in recipients]
        async with self._storage.write() as session:
            session.add_all(
                NotificationRow(
                    id=nid,
                    person_id=person_id,
                    escalation_id=escalation_id,
                    recipient=who,
                    state="pending",
                    created_at=at,
                )
                for nid, who in zip(ids, recipients, strict=True)
            )
        await self.note(
            person_id,
            at,
            "notification-pending",
            {"escalation": escalation_id, "tell": list(recipients), "notifications": ids},
        )
        return ids

    async def notification_delivered(
        self, notification_id: str, channel: str, at: dt.datetime
    ) -> None:
        async with self._storage.write() as session:
            row = await session.get(NotificationRow, notification_id)
            if row is None:
                raise SafetyStoreError(f"no notification {notification_id}")
            row.state, row.channel, row.delivered_at = "delivered", channel, at
            person_id = row.person_id
        await self.note(
            person_id,
            at,
            "notification-delivered",
            {"notification": notification_id, "channel": channel},
        )

    async def notifications(self) -> list[dict[str, Any]]:
        async with self._storage.session() as session:
            rows = (await session.scalars(select(NotificationRow))).all()
        return [
            {
                "id": r.id,
                "person_id": r.person_id,
                "escalation_id": r.escalation_id,
                "recipient": r.recipient,
                "state": r.state,
                "channel": r.channel,
            }
            for r in rows
        ]

    # Timeline -------------------------------------------------------------------------------
    async def note(
        self, person_id: str, at: dt.datetime, kind: str, detail: dict[str, Any]
    ) -> None:
        async with self._storage.write() as session:
            session.add(
                TimelineRow(person_id=person_id, at=at, kind=kind, detail=json.dumps(detail))
            )

    async def marks(self) -> list[tuple[str, dt.datetime, str, str]]:
        """Consultants' marks, in order: (person id, time, kind, by)."""
        query = (
            select(TimelineRow)
            .where(TimelineRow.kind.in_(("concern-marked", "case-closed-by")))
            .order_by(TimelineRow.at, TimelineRow.id)
        )
        async with self._storage.session() as session:
            rows = (await session.scalars(query)).all()
        return [(r.person_id, r.at, r.kind, str(json.loads(r.detail).get("by", ""))) for r in rows]

    async def timeline(self, person_id: str) -> list[dict[str, Any]]:
        query = (
            select(TimelineRow)
            .where(TimelineRow.person_id == person_id)
            .order_by(TimelineRow.at, TimelineRow.id)
        )
        async with self._storage.session() as session:
            rows = (await session.scalars(query)).all()
        return [
            {"at": r.at.isoformat(), "kind": r.kind, "detail": json.loads(r.detail)} for r in rows
        ]
