"""Telling the citizen about their ticket: the outbox and the channels that carry it.

Invariants:
- ``Outbox.dispatch`` hands each ``queued`` notification to the notifier of its channel and
  stores what that notifier *did* (``callback-requested``, ``sent``, ``failed`` with why); a
  notification is never marked sent unless its notifier says so. With no notifier for the
  channel (SMS before the gateway is wired) the call-back notifier carries it when the ticket
  has a number, and the state says so (``callback-requested``, detail ``sms unavailable``).
- Every outcome is written to the ticket's timeline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select

from care.callbacks import CallbackList
from care.models import NotificationRow
from care.tickets import Tickets
from common.alarms import Clock, utc_now
from common.storage import Storage


@dataclass(frozen=True, slots=True)
class Notification:
    id: int
    ticket_id: str
    kind: str
    channel: str
    language: str
    message: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a notifier did: ``state`` is ``sent``, ``callback-requested`` or ``failed``."""

    state: str
    detail: str = ""
    callback_id: str | None = None


class Notifier(Protocol):
    """One channel to the citizen (SMS, a call-back). ``number`` is in clear: never log it."""

    async def notify(self, note: Notification, number: str) -> Delivery: ...


class CallbackNotifier:
    """A recorded call-back request the engine dials when the service is open: a consultant
    reads the ticket's update to the citizen. Requesting is not telling: the state says
    ``callback-requested`` until the call-back list shows it answered."""

    def __init__(self, callbacks: CallbackList) -> None:
        self._callbacks = callbacks

    async def notify(self, note: Notification, number: str) -> Delivery:
        callback_id = await self._callbacks.add(
            source_key=f"notification:{note.id}",
            number=number,
            language=note.language,
            reason=f"ticket-{note.kind}",
            kind="ticket-update",
            ticket_id=note.ticket_id,
        )
        return Delivery("callback-requested", f"call-back {callback_id}", callback_id)


class Outbox:
    def __init__(
        self,
        storage: Storage,
        tickets: Tickets,
        notifiers: Mapping[str, Notifier],
        clock: Clock = utc_now,
    ) -> None:
        self._storage = storage
        self._tickets = tickets
        self._notifiers = dict(notifiers)
        self._clock = clock
        # One dispatch at a time (the web edge's and the periodic one): each update once.
        self._lock = asyncio.Lock()

    def register(self, channel: str, notifier: Notifier) -> None:
        """Add a channel (the lead wires SMS here once the gateway has landed)."""
        self._notifiers[channel] = notifier

    async def dispatch(self) -> int:
        """Hand every queued notification to its channel; returns how many were handled."""
        async with self._lock:
            return await self._dispatch()

    async def _dispatch(self) -> int:
        async with self._storage.session() as session:
            rows = list(
                await session.scalars(
                    select(NotificationRow)
                    .where(NotificationRow.state == "queued")
                    .order_by(NotificationRow.id)
                )
            )
        for row in rows:
            note = Notification(
                row.id, row.ticket_id, row.kind, row.channel, row.language, row.message
            )
            delivery = await self._deliver(note)
            await self._store(note, delivery)
        return len(rows)

    async def _deliver(self, note: Notification) -> Delivery:
        number = await self._tickets.number(note.ticket_id)
        if not number:
            return Delivery("failed", "the ticket has no number to reach the citizen")
        notifier = self._notifiers.get(note.channel)
        fallback = ""
        if notifier is None:
            notifier = self._notifiers.get("callback")
            fallback = f"{note.channel} unavailable; "
        if notifier is None:
            return Delivery("failed", f"no way to reach the citizen by {note.channel}")
        delivery = await notifier.notify(note, number)
        return Delivery(delivery.state, fallback + delivery.detail, delivery.callback_id)

    async def _store(self, note: Notification, delivery: Delivery) -> None:
        async with self._storage.write() as session:
            row = await session.get(NotificationRow, note.id)
            if row is None:
                return
            row.state, row.detail = delivery.state, delivery.detail
            row.callback_id, row.updated_at = delivery.callback_id, self._clock()
        text = f"{note.kind} update by {note.channel}: {delivery.state} ({delivery.detail})"
        await self._tickets.record(note.ticket_id, "notification", text)

    async def notifications(self, ticket_id: str) -> list[dict[str, object]]:
        async with self._storage.session() as session:
            rows = await session.scalars(
                select(NotificationRow)
                .where(NotificationRow.ticket_id == ticket_id)
                .order_by(NotificationRow.id)
            )
            return [
                {
                    "id": r.id,
                    "kind": r.kind,
                    "channel": r.channel,
                    "language": r.language,
                    "state": r.state,
                    "detail": r.detail,
                    "callback_id": r.callback_id,
                }
                for r in rows
            ]
