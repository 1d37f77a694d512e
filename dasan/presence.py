"""Presence from registration: a REGISTER-only consultant is offerable only while registered.

Invariants:
- Only in REGISTER-only mode (``consultants.static_contact`` empty); the demo's static
  contacts are always reachable and this component does nothing.
- Before the roster logs in, every consultant is unreachable (``ConsultantReachable(False)``),
  so nobody is offered a call before the PBX said they registered.
- ``ContactStatus`` events (Created, Updated, Reachable, NonQualified, Unknown: registered;
  Removed, Unreachable: gone; an expired registration is Removed) change the ACD at once.
  After every (re)login to AMI, or dropped events, ``PJSIPShowContacts`` resynchronizes.
- With ``consultants.location_table`` (a cluster whose phones register at Kamailio) the
  registrar's location table in PostgreSQL is the source instead of AMI: read every
  ``LOCATION_POLL_S``, a consultant is registered while a row of theirs has not expired
  (Kamailio writes ``expires`` in its local time, the engine's on the same host; a zero time
  means a permanent contact). A failed read changes nothing and is retried on the next tick.
- ``Registrations`` is the pure part: contacts per consultant in, reachability changes out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.events import ConsultantReachable
from cti.ami import names
from cti.ami.messages import AmiError, AmiEvent, AmiEventsDropped, AmiReconnected

if TYPE_CHECKING:
    from dasan.app import Engine

log = logging.getLogger("dasan.presence")
GONE = frozenset({"Removed", "Unreachable"})
LOCATION_POLL_S = 1.0
# Kamailio's usrloc writes a permanent contact's expiry as the epoch.
PERMANENT_BEFORE = datetime(1971, 1, 1)


def live_locations(
    rows: Iterable[tuple[str, str, datetime]], now: datetime
) -> list[tuple[str, str, str]]:
    """``(consultant, contact, status)`` for Registrations.snapshot from location rows
    ``(username, contact, expires)``; ``now`` is naive local time, like Kamailio's."""
    return [
        (user, contact, "Reachable" if expires < PERMANENT_BEFORE or expires > now else "Removed")
        for user, contact, expires in rows
    ]


class Registrations:
    """Reachable contacts of each consultant; methods return reachability that changed."""

    def __init__(self, consultants: Iterable[str]) -> None:
        self._contacts: dict[str, set[str]] = {cid: set() for cid in consultants}

    def reachable(self, consultant_id: str) -> bool:
        return bool(self._contacts.get(consultant_id))

    def contact(self, consultant_id: str, uri: str, status: str) -> list[tuple[str, bool]]:
        contacts = self._contacts.get(consultant_id)
        if contacts is None or not uri:
            return []
        before = bool(contacts)
        if status in GONE:
            contacts.discard(uri)
        else:
            contacts.add(uri)
        return [(consultant_id, bool(contacts))] if bool(contacts) != before else []

    def snapshot(self, contacts: Iterable[tuple[str, str, str]]) -> list[tuple[str, bool]]:
        """Replace everything with ``(consultant, uri, status)`` from PJSIPShowContacts."""
        before = {cid: bool(uris) for cid, uris in self._contacts.items()}
        for uris in self._contacts.values():
            uris.clear()
        for cid, uri, status in contacts:
            if cid in self._contacts and uri and status not in GONE:
                self._contacts[cid].add(uri)
        return [
            (cid, bool(uris)) for cid, uris in self._contacts.items() if bool(uris) != before[cid]
        ]


class Presence:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        directory = engine.settings.consultants
        self._location_table = directory.location_table
        self.enabled = not directory.static_contact or bool(self._location_table)
        self._registrations = Registrations(engine.acd.state.agents)
        self._database: AsyncEngine | None = None

    def use_database(self, database: AsyncEngine) -> None:
        """Where the location table is read (the engine's storage, opened after __init__)."""
        self._database = database

    def start(self) -> None:
        """Before the roster logs in: nobody is reachable until the PBX says so."""
        if not self.enabled:
            return
        for consultant_id in self._engine.acd.state.agents:
            self._engine.acd.feed(ConsultantReachable(consultant_id, reachable=False))
        source = f"table {self._location_table}" if self._location_table else "the PBX"
        log.info("presence: consultants are offered calls while registered (%s)", source)

    async def run(self) -> None:
        if not self.enabled:
            return
        if self._location_table:
            await self._poll_locations()
            return
        subscription = self._engine.live.events.subscribe(name="presence")
        try:
            await self._resync()
            async for item in subscription:
                if isinstance(item, AmiEvent) and item.name == names.CONTACT_STATUS:
                    self._apply(
                        self._registrations.contact(
                            item.get(names.AOR) or item.get(names.ENDPOINT_NAME),
                            item.get(names.URI),
                            item.get(names.CONTACT_STATUS_HEADER),
                        )
                    )
                elif isinstance(item, AmiReconnected | AmiEventsDropped):
                    await self._resync()
        finally:
            subscription.close()

    async def _resync(self) -> None:
        """PJSIPShowContacts until AMI answers (it may not be logged in yet)."""
        delay = 0.2
        while True:
            try:
                items = await self._engine.ami.action_list("PJSIPShowContacts")
                break
            except AmiError as exc:
                log.debug("presence: contacts not listed yet (%s)", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        contacts = [
            (
                e.get(names.ENDPOINT) or e.get("ObjectName").split(";", 1)[0],
                e.get("Uri"),
                e.get(names.STATUS),
            )
            for e in items
        ]
        self._apply(self._registrations.snapshot(contacts))

    async def _poll_locations(self) -> None:
        """The registrar's location table, every LOCATION_POLL_S, until cancelled."""
        assert self._database is not None, "use_database before run"
        # The table name is an identifier checked by the settings' pattern.
        query = text(f"SELECT username, contact, expires FROM {self._location_table}")  # noqa: S608
        failing = False
        while True:
            try:
                async with self._database.connect() as connection:
                    rows = [tuple(row) for row in (await connection.execute(query)).all()]
            except (SQLAlchemyError, OSError) as exc:
                if not failing:
                    log.warning("presence: %s not readable (%s)", self._location_table, exc)
                failing = True
            else:
                if failing:
                    log.info("presence: %s readable again", self._location_table)
                failing = False
                snapshot = live_locations(rows, datetime.now())
                self._apply(self._registrations.snapshot(snapshot))
            await asyncio.sleep(LOCATION_POLL_S)

    def _apply(self, changes: list[tuple[str, bool]]) -> None:
        for consultant_id, reachable in changes:
            log.info(
                "presence: %s %s", consultant_id, "registered" if reachable else "unregistered"
            )
            self._engine.acd.feed(ConsultantReachable(consultant_id, reachable=reachable))
