"""Alarms: a small model, an in-process bus any component raises into, and persistence.

Invariants:
- An alarm is identified by (source, key); raising one that is already active updates its
  severity and message instead of creating a duplicate; clearing an inactive one is a no-op.
- Every raise and clear is persisted (when a store is given) *before* listeners hear of it;
  if persisting fails the alarm still reaches the listeners and the failure is logged, so
  an alarm is never lost silently (the disk being full is exactly when it matters).
- Listeners are plain callables run in the order they subscribed; one failing listener is
  logged and does not stop the others.
- Times come from the injected clock (aware UTC datetimes).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import Integer, String, Text, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from common.storage import Base, Storage, UtcDateTime

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    MAJOR = "major"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Alarm:
    source: str
    key: str
    severity: Severity
    message: str
    raised_at: datetime
    cleared_at: datetime | None = None
    id: int | None = None

    @property
    def active(self) -> bool:
        return self.cleared_at is None


@dataclass(frozen=True, slots=True)
class AlarmRaised:
    alarm: Alarm


@dataclass(frozen=True, slots=True)
class AlarmCleared:
    alarm: Alarm


AlarmEvent = AlarmRaised | AlarmCleared
Listener = Callable[[AlarmEvent], None]


class AlarmRow(Base):
    __tablename__ = "alarms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime())
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)


def _from_row(row: AlarmRow) -> Alarm:
    return Alarm(
        source=row.source,
        key=row.key,
        severity=Severity(row.severity),
        message=row.message,
        raised_at=row.raised_at,
        cleared_at=row.cleared_at,
        id=row.id,
    )


class AlarmStore:
    """Persists alarms in the ``alarms`` table."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def save(self, alarm: Alarm) -> Alarm:
        async with self._storage.write() as session:
            row = await session.get(AlarmRow, alarm.id) if alarm.id is not None else None
            if row is None:
                row = AlarmRow(source=alarm.source, key=alarm.key, raised_at=alarm.raised_at)
                session.add(row)
            row.severity = alarm.severity.value
            row.message = alarm.message
            row.cleared_at = alarm.cleared_at
            await session.flush()
            return replace(alarm, id=row.id)

    async def active(self) -> list[Alarm]:
        async with self._storage.session() as session:
            rows = await session.scalars(
                select(AlarmRow).where(AlarmRow.cleared_at.is_(None)).order_by(AlarmRow.id)
            )
            return [_from_row(r) for r in rows]

    async def history(self, limit: int = 100) -> list[Alarm]:
        async with self._storage.session() as session:
            rows = await session.scalars(select(AlarmRow).order_by(AlarmRow.id.desc()).limit(limit))
            return [_from_row(r) for r in rows]


class AlarmBus:
    """Raise and clear alarms; listeners (the wallboard, logs) hear every change."""

    def __init__(self, store: AlarmStore | None = None, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock
        self._active: dict[tuple[str, str], Alarm] = {}
        self._listeners: list[Listener] = []

    async def restore(self) -> None:
        """Reload the alarms still active from the store (after a restart)."""
        if self._store is not None:
            for alarm in await self._store.active():
                self._active[(alarm.source, alarm.key)] = alarm

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Add a listener; returns a function that removes it."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def active(self) -> list[Alarm]:
        return sorted(self._active.values(), key=lambda a: a.raised_at)

    def is_active(self, source: str, key: str) -> bool:
        return (source, key) in self._active

    async def raise_alarm(self, source: str, key: str, severity: Severity, message: str) -> Alarm:
        current = self._active.get((source, key))
        if current is not None and (current.severity, current.message) == (severity, message):
            return current
        if current is None:
            alarm = Alarm(source, key, severity, message, raised_at=self._clock())
        else:
            alarm = replace(current, severity=severity, message=message)
        alarm = await self._persist(alarm)
        self._active[(source, key)] = alarm
        log.warning("alarm %s/%s [%s]: %s", source, key, severity.value, message)
        self._notify(AlarmRaised(alarm))
        return alarm

    async def clear(self, source: str, key: str) -> Alarm | None:
        current = self._active.pop((source, key), None)
        if current is None:
            return None
        alarm = await self._persist(replace(current, cleared_at=self._clock()))
        log.info("alarm %s/%s cleared", source, key)
        self._notify(AlarmCleared(alarm))
        return alarm

    async def _persist(self, alarm: Alarm) -> Alarm:
        if self._store is None:
            return alarm
        try:
            return await self._store.save(alarm)
        except (SQLAlchemyError, OSError):
            log.exception(
                "could not persist alarm %s/%s; delivering it anyway", alarm.source, alarm.key
            )
            return alarm

    def _notify(self, event: AlarmEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("alarm listener %r failed", listener)
