"""Consultant claims as PostgreSQL session advisory locks (``acd.claims``'s adapter).

Invariants:
- A claim is ``pg_try_advisory_lock(key)`` on one connection this engine keeps for its life;
  the key is a 64-bit hash of the consultant id under a Dasan-only prefix. PostgreSQL grants
  such a lock to one session at a time, so two engines never hold the same consultant.
- When an engine dies, PostgreSQL ends its session and drops its locks: a crashed node never
  keeps consultants claimed. (When only its PBX dies, the engine's calls end and release.)
- Session locks nest within a session; this adapter takes each consultant's lock once per
  claim (it remembers what it holds) and unlocks once per release, so the count per
  consultant is 1 while claimed and 0 after.
- A consultant found claimed elsewhere is watched (``watch``): as soon as the lock can be
  taken it is given back at once and ``on_free`` listeners are told.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger("dasan.cluster.claims")
_PREFIX = b"dasan-consultant:"


def claim_key(consultant_id: str) -> int:
    """The advisory-lock key of a consultant (signed 64-bit, as PostgreSQL takes it)."""
    digest = hashlib.sha256(_PREFIX + consultant_id.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryClaims:
    def __init__(self, engine: AsyncEngine, watch_every_s: float = 0.5) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None
        self._lock = asyncio.Lock()  # one statement at a time on the one connection
        self._held: dict[str, str] = {}  # consultant -> call id
        self._busy_elsewhere: set[str] = set()
        self._listeners: list[Callable[[str], None]] = []
        self._every = watch_every_s
        self._unlocks: set[asyncio.Task[bool]] = set()

    @property
    def held(self) -> dict[str, str]:
        return dict(self._held)

    def on_free(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)

    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            conn = await self._engine.connect()
            # Autocommit: a lock statement never leaves a transaction open.
            self._conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    async def _scalar(self, sql: str, key: int) -> bool:
        async with self._lock:
            conn = await self._connection()
            return bool((await conn.execute(text(sql), {"k": key})).scalar())

    async def claim(self, consultant_id: str, call_id: str) -> bool:
        holder = self._held.get(consultant_id)
        if holder is not None:
            return holder == call_id
        if await self._scalar("SELECT pg_try_advisory_lock(:k)", claim_key(consultant_id)):
            self._held[consultant_id] = call_id
            self._busy_elsewhere.discard(consultant_id)
            return True
        self._busy_elsewhere.add(consultant_id)
        return False

    async def release(self, consultant_id: str) -> None:
        unlock = self.release_soon(consultant_id)
        if unlock is not None:
            # Shielded: a call ending by cancellation still gives its consultant back.
            await asyncio.shield(unlock)

    def release_soon(self, consultant_id: str) -> asyncio.Task[bool] | None:
        """Forget the claim now and unlock in the background (for synchronous listeners).

        A claim taken again before the unlock ran nests in the same session (lock count 2,
        then 1), so it is never lost."""
        if self._held.pop(consultant_id, None) is None:
            return None
        task = asyncio.get_running_loop().create_task(
            self._scalar("SELECT pg_advisory_unlock(:k)", claim_key(consultant_id))
        )
        self._unlocks.add(task)
        task.add_done_callback(self._unlocks.discard)
        return task

    async def watch(self) -> None:
        """Tell listeners when consultants found busy elsewhere are free (runs until cancelled)."""
        while True:
            for consultant_id in sorted(self._busy_elsewhere):
                if consultant_id in self._held:
                    continue
                key = claim_key(consultant_id)
                if await self._scalar("SELECT pg_try_advisory_lock(:k)", key):
                    await self._scalar("SELECT pg_advisory_unlock(:k)", key)
                    self._busy_elsewhere.discard(consultant_id)
                    for listener in self._listeners:
                        listener(consultant_id)
            await asyncio.sleep(self._every)

    async def close(self) -> None:
        """Drop the connection, and with it every lock this engine holds (invalidated, not
        returned to the pool: a pooled connection would keep its session's locks)."""
        if self._conn is not None:
            await self._conn.invalidate()
            await self._conn.close()
            self._conn = None
        self._held.clear()
