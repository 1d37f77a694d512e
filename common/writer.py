"""The one database writer: the call path enqueues writes, one task applies them in batches.

Invariants:
- ``enqueue`` never awaits and never raises a database error: it numbers the write, appends it
  to the journal (see :mod:`common.writejournal`; in the kernel before ``enqueue`` returns, so
  an engine killed right after loses nothing) and queues it. Writes are applied in enqueue
  order by one task, so writes of one call land in the order they were made.
- Each batch (everything queued, at most ``batch_max``) is one transaction. If the database
  refuses a write for what it is (``Rejected``, integrity, bad data), the batch is redone with
  a savepoint per write: that one is set aside in ``rejected.jsonl`` with an alarm and the
  others commit.
- Any other failure (locked, down, pool timeout, permission) keeps the whole batch: retried
  with backoff, an alarm raised on the first failure and cleared by the next commit.
- At most ``queue_max`` writes wait in memory; beyond that they live only in the journal
  (spilled) and are read back in order once memory drains. If the journal cannot be written
  (disk full) the write stays in memory past the bound, in order, with an alarm: kept anyway.
- On start the writes an earlier run did not acknowledge are replayed first, in order.
- Readers that need a call's own writes ask ``settled(key)`` (read-your-writes) or
  ``flush()``; both wait with a deadline, never forever.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from common.alarms import AlarmBus, Severity
from common.storage import Storage
from common.writejournal import Op, WriteJournal

log = logging.getLogger("common.storage.writer")

# An applier may cache rows in ``session.info`` for the rest of its transaction; the writer
# clears it whenever a write in the transaction is rolled back.
Applier = Callable[[AsyncSession, dict[str, Any]], Awaitable[None]]
ALARM_SOURCE = "storage"
# Refused for what they are: retrying the same write can never succeed.
_REFUSED = (IntegrityError, DataError)
# The database or the way to it failing: the same write may succeed later.
_TRANSIENT = (SQLAlchemyError, OSError, TimeoutError, ConnectionError)


class _Refusal(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Rejected(Exception):
    """An applier's verdict: the database state makes this write impossible (unknown call)."""


@dataclass
class WriterStats:
    enqueued: int = 0
    applied: int = 0
    batches: int = 0
    largest_batch: int = 0
    failures: int = 0
    rejected: int = 0
    spilled: int = 0
    replayed: int = 0


class DurableWriter:
    def __init__(
        self,
        storage: Storage,
        folder: Path,
        *,
        batch_max: int = 500,
        queue_max: int = 10_000,
        retry_min_s: float = 0.2,
        retry_max_s: float = 30.0,
        segment_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        self._storage = storage
        self._journal = WriteJournal(folder, segment_bytes)
        self._rejected_file = folder / "rejected.jsonl"
        self._appliers: dict[str, Applier] = {}
        self._batch_max, self._queue_max = batch_max, queue_max
        self._retry = (retry_min_s, retry_max_s)
        self.alarms: AlarmBus | None = None
        self.stats = WriterStats()
        self._memory: collections.deque[Op] = collections.deque()
        # Writes numbered >= _spill_start (and below the tail) are only in the journal.
        self._spill_start: int | None = None
        self._tail: collections.deque[Op] = collections.deque()
        self._pending: collections.Counter[str] = collections.Counter()
        self._next_seq = 1
        self._applied_seq = 0
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._opened = False
        # Alarm changes go through one queue, in order, so a slow alarm store never holds up
        # writes and a clear never overtakes its raise.
        self._alarm_queue: asyncio.Queue[tuple[str, Severity | None, str]] = asyncio.Queue()
        self._raised: dict[str, str] = {}

    # Setup ---------------------------------------------------------------------------------
    def register(self, kind: str, applier: Applier) -> None:
        self._appliers[kind] = applier

    def open(self) -> None:
        """Read the journal: what an earlier run left is replayed before anything new."""
        pending, self._next_seq = self._journal.open()
        self._applied_seq = pending[0].seq - 1 if pending else self._next_seq - 1
        for op in pending:
            self._pending[op.key] += 1
        if pending:
            self._spill_start = pending[0].seq
            self.stats.replayed = len(pending)
        self._opened = True

    @property
    def backlog(self) -> int:
        return self._next_seq - 1 - self._applied_seq

    # The call path -------------------------------------------------------------------------
    def enqueue(self, kind: str, key: str, args: dict[str, Any]) -> int:
        """Queue one write (``args`` JSON-able); returns its sequence number. Never blocks."""
        if not self._opened:
            raise RuntimeError("DurableWriter.open() was not called")
        if kind not in self._appliers:
            raise KeyError(f"no applier registered for {kind!r}")
        op = Op(self._next_seq, kind, key, args)
        self._next_seq += 1
        self._pending[key] += 1
        self.stats.enqueued += 1
        journaled = self._journal_append(op)
        if self._tail or (self._spill_start is not None and not journaled):
            self._tail.append(op)  # behind the spilled writes, in order
        elif self._spill_start is None and (len(self._memory) < self._queue_max or not journaled):
            self._memory.append(op)
        else:
            if self._spill_start is None:
                self._spill_start = op.seq
            self.stats.spilled += 1
        self._wake.set()
        return op.seq

    def _journal_append(self, op: Op) -> bool:
        try:
            self._journal.append(op)
        except OSError as exc:
            self._raise("journal", Severity.CRITICAL, f"write journal failing: {exc}")
            return False
        if "journal" in self._raised:
            self._clear("journal")
        return True

    # Readers -------------------------------------------------------------------------------
    async def flush(self, within_s: float | None = None) -> bool:
        """Wait until every write enqueued so far is applied; False at the deadline."""
        target = self._next_seq - 1
        return await self._until(lambda: self._applied_seq >= target, within_s)

    async def settled(self, key: str, within_s: float | None = None) -> bool:
        """Wait until no write of ``key`` (a call) is waiting; False at the deadline."""
        return await self._until(lambda: self._pending[key] <= 0, within_s)

    async def _until(self, done: Callable[[], bool], within_s: float | None) -> bool:
        try:
            async with asyncio.timeout(within_s):
                while not done():
                    await self._progress.wait()
        except TimeoutError:
            return done()
        return True

    # The writer task -----------------------------------------------------------------------
    async def run(self) -> None:
        """Apply writes until cancelled (what is left stays in the journal for next time)."""
        if not self._opened:
            self.open()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._alarm_loop())
            group.create_task(self._apply_loop())

    async def _apply_loop(self) -> None:
        while True:
            if not self._memory and self._spill_start is not None:
                await self._read_back()
                continue
            if not self._memory:
                self._wake.clear()
                await self._wake.wait()
                continue
            count = min(len(self._memory), self._batch_max)
            batch = [self._memory[i] for i in range(count)]
            await self._commit(batch)
            for _ in range(count):
                self._memory.popleft()
            self._done(batch)

    async def _read_back(self) -> None:
        start = self._spill_start
        assert start is not None
        end = self._tail[0].seq if self._tail else self._next_seq
        try:
            ops = await asyncio.to_thread(self._journal.read_range, start, end, self._queue_max)
        except OSError as exc:
            self._raise("journal", Severity.CRITICAL, f"write journal unreadable: {exc}")
            await asyncio.sleep(self._retry[1])
            return
        self._memory.extend(ops)
        after = ops[-1].seq + 1 if ops else end
        if after >= end:
            self._memory.extend(self._tail)
            self._tail.clear()
            self._spill_start = None
        else:
            self._spill_start = after

    async def _commit(self, batch: list[Op]) -> None:
        """Commit ``batch`` in one transaction, retrying until it lands (or is refused)."""
        pause = self._retry[0]
        while True:
            try:
                refused = await self._transaction(batch)
            except _TRANSIENT as exc:  # the batch is kept; the alarm makes the failure visible
                self.stats.failures += 1
                log.warning(
                    "database write of %d failed (%s); retrying in %.1f s", len(batch), exc, pause
                )
                self._raise("writes", Severity.MAJOR, _failing_message(exc))
                await asyncio.sleep(pause)
                pause = min(pause * 2, self._retry[1])
                continue
            break
        if refused:
            await self._set_aside(refused)
        self._ack(batch[-1].seq)
        self.stats.batches += 1
        self.stats.applied += len(batch) - len(refused)
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
        self._clear("writes")

    async def _transaction(self, batch: list[Op]) -> list[tuple[Op, str]]:
        """The batch in one transaction; the writes refused for good, with why.

        Fast path: no savepoints. Only if a write is refused is the batch redone with one
        savepoint per write, so the refused ones are set aside and the others still commit.
        """
        try:
            async with self._storage.write() as session:
                for op in batch:
                    await self._apply(session, op, flush=False)
            return []
        except (_Refusal, *_REFUSED):
            pass
        refused: list[tuple[Op, str]] = []
        async with self._storage.write() as session:
            for op in batch:
                try:
                    async with session.begin_nested():
                        await self._apply(session, op, flush=True)
                except _Refusal as exc:
                    refused.append((op, exc.reason))
                    session.info.clear()  # appliers' caches may hold rows rolled back
        return refused

    async def _apply(self, session: AsyncSession, op: Op, *, flush: bool) -> None:
        """Apply one write; raises _Refusal if the database refuses it for good (``flush``:
        now, so a constraint error is this write's and not a later one's)."""
        applier = self._appliers.get(op.kind)
        if applier is None:
            raise _Refusal(f"no applier for {op.kind!r}")
        try:
            await applier(session, op.args)
            if flush:
                await session.flush()
        except Rejected as exc:
            raise _Refusal(str(exc)) from exc
        except _REFUSED as exc:
            raise _Refusal(f"{type(exc).__name__}: {exc.orig}") from exc
        except _TRANSIENT:
            raise
        except Exception as exc:  # a write its applier cannot read (bad args): never retryable
            log.exception("applier %s failed on write %d", op.kind, op.seq)
            raise _Refusal(f"{type(exc).__name__}: {exc}") from exc

    def _done(self, batch: list[Op]) -> None:
        for op in batch:
            self._pending[op.key] -= 1
            if self._pending[op.key] <= 0:
                del self._pending[op.key]
        self._applied_seq = batch[-1].seq
        self._progress.set()
        self._progress = asyncio.Event()

    def _ack(self, seq: int) -> None:
        try:
            self._journal.ack(seq)
        except OSError as exc:  # a replay later re-applies idempotent writes: no harm
            self._raise("journal", Severity.CRITICAL, f"write journal failing: {exc}")

    async def _set_aside(self, refused: list[tuple[Op, str]]) -> None:
        self.stats.rejected += len(refused)
        lines = [
            json.dumps({"s": op.seq, "k": op.kind, "c": op.key, "a": op.args, "reason": why})
            for op, why in refused
        ]
        for op, why in refused:
            log.error(
                "write %d (%s for %s) refused by the database: %s", op.seq, op.kind, op.key, why
            )

        def append() -> None:
            with self._rejected_file.open("a", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")

        try:
            await asyncio.to_thread(append)
        except OSError as exc:
            log.error("could not keep refused writes in %s: %s", self._rejected_file, exc)
        self._raise(
            "rejected",
            Severity.MAJOR,
            f"{self.stats.rejected} database write(s) refused; kept in {self._rejected_file}",
        )

    # Alarms --------------------------------------------------------------------------------
    def _raise(self, key: str, severity: Severity, message: str) -> None:
        if self._raised.get(key) == message:
            return
        if key not in self._raised:
            log.error("%s", message)
        self._raised[key] = message
        self._alarm_queue.put_nowait((key, severity, message))

    def _clear(self, key: str) -> None:
        if self._raised.pop(key, None) is not None:
            log.info("database writes landing again (%s)", key)
            self._alarm_queue.put_nowait((key, None, ""))

    async def _alarm_loop(self) -> None:
        while True:
            key, severity, message = await self._alarm_queue.get()
            if self.alarms is None:
                continue
            if severity is None:
                await self.alarms.clear(ALARM_SOURCE, key)
            else:
                await self.alarms.raise_alarm(ALARM_SOURCE, key, severity, message)

    def close(self) -> None:
        self._journal.close()


def _failing_message(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).splitlines()[0][:160]
    return f"database writes failing ({type(exc).__name__}: {text}); kept and retried"
