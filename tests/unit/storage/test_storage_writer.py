"""The durable writer: order, batches, spill and read-back, replay after a crash, retries with
an alarm raised and cleared, refused writes set aside, and a failing journal."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from storage_support import eventually

from common.alarms import AlarmBus
from common.storage import PoolSettings, Storage
from common.writer import ALARM_SOURCE, DurableWriter
from recordings.calllog import CallLog
from recordings.keys import KeyRing, NumberProtector

START = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    store = await Storage.open(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
    yield store
    await store.close()


@contextlib.asynccontextmanager
async def running(writer: DurableWriter) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(writer.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        writer.close()


async def call_story(log: CallLog, n: int) -> None:
    """Started, routed, a consultant, ended: out of order any of them would be refused."""
    call = f"call-{n}"
    await log.call_started(call, f"u{n}", None, "0101234" + f"{n:04d}", START)
    await log.call_routed(call, "ko", "general", {"nodes": [n]})
    await log.consultant_joined(call, f"c{n % 471 + 1:04d}", at=START + timedelta(seconds=5))
    await log.call_ended(call, START + timedelta(seconds=60 + n))


def queued_log(storage: Storage, writer: DurableWriter) -> CallLog:
    return CallLog(storage, NumberProtector(KeyRing.generate()), writer=writer)


async def test_writes_land_in_order_in_batches(storage: Storage, tmp_path: Path) -> None:
    writer = DurableWriter(storage, tmp_path / "journal", batch_max=100)
    log = queued_log(storage, writer)
    writer.open()
    for n in range(300):
        await call_story(log, n)  # enqueued before the writer even runs: nothing waits
    assert writer.backlog == 1200
    async with running(writer):
        assert await writer.flush(within_s=30)
    stats = writer.stats
    assert (stats.applied, stats.rejected, stats.failures) == (1200, 0, 0)
    assert stats.largest_batch == 100
    assert stats.batches == 12
    direct = CallLog(storage, None)
    calls = {c.id: c for c in await direct.all()}
    assert len(calls) == 300
    assert calls["call-7"].duration_ms == 67_000
    assert calls["call-7"].consultant == "c0008"
    assert calls["call-7"].journey == {"nodes": [7]}


async def test_number_is_never_journaled_in_clear(storage: Storage, tmp_path: Path) -> None:
    writer = DurableWriter(storage, tmp_path / "journal")
    log = queued_log(storage, writer)
    writer.open()
    await log.call_started("call-1", "u1", None, "01098765432", START)
    writer.close()
    text = "".join(p.read_text() for p in (tmp_path / "journal").glob("*.jsonl"))
    assert "call-1" in text
    assert "98765432" not in text


async def test_spilled_writes_are_read_back_in_order(storage: Storage, tmp_path: Path) -> None:
    writer = DurableWriter(storage, tmp_path / "journal", queue_max=7, batch_max=5)
    log = queued_log(storage, writer)
    writer.open()
    for n in range(40):
        await call_story(log, n)
    assert writer.stats.spilled == 160 - 7
    async with running(writer):
        assert await writer.flush(within_s=30)
    assert (writer.stats.applied, writer.stats.rejected) == (160, 0)
    assert len(await CallLog(storage, None).all()) == 40


async def test_unapplied_writes_are_replayed_after_a_crash(
    storage: Storage, tmp_path: Path
) -> None:
    folder = tmp_path / "journal"
    first = DurableWriter(storage, folder)
    log = queued_log(storage, first)
    first.open()
    for n in range(10):
        await call_story(log, n)
    async with running(first):
        assert await first.flush(within_s=10)
    # A second run whose writer never got to the database (killed): only the journal has it.
    crashed = DurableWriter(storage, folder)
    log = queued_log(storage, crashed)
    crashed.open()
    for n in range(10, 15):
        await call_story(log, n)
    crashed.close()
    restarted = DurableWriter(storage, folder)
    queued_log(storage, restarted)
    restarted.open()
    assert restarted.stats.replayed == 20
    async with running(restarted):
        assert await restarted.flush(within_s=10)
    assert restarted.stats.rejected == 0
    assert len(await CallLog(storage, None).all()) == 15
    # Only the last segment is left once everything is acknowledged.
    assert len(list(folder.glob("writes-*.jsonl"))) == 1


async def test_replaying_applied_writes_changes_nothing(storage: Storage, tmp_path: Path) -> None:
    """A crash between commit and ack replays writes already in: they are idempotent."""
    folder = tmp_path / "journal"
    writer = DurableWriter(storage, folder)
    log = queued_log(storage, writer)
    writer.open()
    for n in range(5):
        await call_story(log, n)
    async with running(writer):
        assert await writer.flush(within_s=10)
    for path in folder.glob("writes-*.jsonl"):  # forget the acks
        kept = [line for line in path.read_text().splitlines() if '"ack"' not in line]
        path.write_text("\n".join(kept) + "\n")
    again = DurableWriter(storage, folder)
    queued_log(storage, again)
    again.open()
    assert again.stats.replayed == 20
    async with running(again):
        assert await again.flush(within_s=10)
    assert again.stats.rejected == 0
    calls = await CallLog(storage, None).all()
    assert len(calls) == 5
    assert all(len(c.participants) == 1 for c in calls)


class Flaky:
    """An applier the database refuses (locked) for its first ``failures`` attempts."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.seen: list[int] = []

    async def __call__(self, session: AsyncSession, args: dict[str, Any]) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
        self.seen.append(args["n"])


async def test_failed_writes_are_retried_with_an_alarm_cleared_on_recovery(
    storage: Storage, tmp_path: Path
) -> None:
    alarms = AlarmBus()
    writer = DurableWriter(storage, tmp_path / "journal", retry_min_s=0.01, retry_max_s=0.05)
    writer.alarms = alarms
    flaky = Flaky(failures=4)
    writer.register("test.flaky", flaky)
    writer.open()
    events: list[str] = []
    alarms.subscribe(lambda e: events.append(type(e).__name__))
    for n in range(3):
        writer.enqueue("test.flaky", f"k{n}", {"n": n})
    async with running(writer):
        assert await writer.flush(within_s=10)
        await eventually(lambda: not alarms.is_active(ALARM_SOURCE, "writes"), "alarm cleared")
    assert flaky.seen == [0, 1, 2]
    assert writer.stats.failures == 4
    assert events == ["AlarmRaised", "AlarmCleared"]


async def test_a_refused_write_is_set_aside_and_the_others_land(
    storage: Storage, tmp_path: Path
) -> None:
    alarms = AlarmBus()
    writer = DurableWriter(storage, tmp_path / "journal")
    writer.alarms = alarms
    log = queued_log(storage, writer)
    writer.open()
    await log.call_started("call-1", "u1", None, None, START)
    await log.call_routed("nope", "ko", "general")  # unknown call: refused for good
    await log.call_ended("call-1", START + timedelta(seconds=3))
    async with running(writer):
        assert await writer.flush(within_s=10)
        await eventually(lambda: alarms.is_active(ALARM_SOURCE, "rejected"), "alarm raised")
    assert (writer.stats.applied, writer.stats.rejected) == (2, 1)
    kept = [
        json.loads(x) for x in (tmp_path / "journal" / "rejected.jsonl").read_text().splitlines()
    ]
    assert [(r["k"], r["c"]) for r in kept] == [("calls.routed", "nope")]
    assert "unknown call" in kept[0]["reason"]
    call = await CallLog(storage, None).get("call-1")
    assert call is not None and call.duration_ms == 3000


async def test_a_failing_journal_keeps_writes_in_memory(
    storage: Storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alarms = AlarmBus()
    writer = DurableWriter(storage, tmp_path / "journal", queue_max=2)
    writer.alarms = alarms
    log = queued_log(storage, writer)
    writer.open()
    real_append = writer._journal.append

    def disk_full(_op: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer._journal, "append", disk_full)
    for n in range(3):
        await call_story(log, n)  # past queue_max, yet nothing can be spilled: kept in memory
    async with running(writer):
        assert await writer.flush(within_s=10)
        await eventually(lambda: alarms.is_active(ALARM_SOURCE, "journal"), "alarm raised")
        monkeypatch.setattr(writer._journal, "append", real_append)
        await call_story(log, 3)
        assert await writer.flush(within_s=10)
        await eventually(lambda: not alarms.is_active(ALARM_SOURCE, "journal"), "alarm cleared")
    assert (writer.stats.applied, writer.stats.rejected) == (16, 0)


@contextlib.contextmanager
def locked(database: Path) -> Iterator[threading.Event]:
    """Another connection holds SQLite's write lock until the event is set."""
    release, held = threading.Event(), threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(database, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        held.set()
        release.wait(30)
        conn.execute("ROLLBACK")
        conn.close()

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(10)
    try:
        yield release
    finally:
        release.set()
        thread.join()


async def test_a_locked_database_delays_writes_but_never_the_caller(tmp_path: Path) -> None:
    database = tmp_path / "locked.sqlite3"
    url = f"sqlite+aiosqlite:///{database}"
    storage = await Storage.open(url, pool=PoolSettings(sqlite_busy_timeout_s=0.2))
    alarms = AlarmBus()
    writer = DurableWriter(storage, tmp_path / "journal", retry_min_s=0.05, retry_max_s=0.2)
    writer.alarms = alarms
    log = queued_log(storage, writer)
    writer.open()
    try:
        async with running(writer):
            with locked(database) as release:
                loop = asyncio.get_running_loop()
                began = loop.time()
                for n in range(20):
                    await call_story(log, n)
                enqueue_s = loop.time() - began
                await eventually(lambda: alarms.is_active(ALARM_SOURCE, "writes"), "alarm raised")
                assert writer.backlog == 80
                release.set()
            assert await writer.flush(within_s=20)
            await eventually(lambda: not alarms.is_active(ALARM_SOURCE, "writes"), "alarm cleared")
        assert enqueue_s < 5.0  # far below one busy timeout per write (sanity, not a benchmark)
        assert len(await CallLog(storage, None).all()) == 20
    finally:
        await storage.close()


async def test_read_your_writes(storage: Storage, tmp_path: Path) -> None:
    writer = DurableWriter(storage, tmp_path / "journal")
    log = queued_log(storage, writer)
    writer.open()
    async with running(writer):
        await log.call_started("call-1", "u1", None, "0212345678", START)
        await log.call_routed("call-1", "en", "foreign_en", {"nodes": ["lang"]})
        record = await log.get("call-1")  # waits for this call's writes, no flush needed
        assert record is not None and record.language == "en"
        assert await log.caller_number("call-1") == "0212345678"
        assert (await log.by_uniqueid("u1")) is not None


async def test_repeated_writes_in_one_batch_are_idempotent(
    storage: Storage, tmp_path: Path
) -> None:
    writer = DurableWriter(storage, tmp_path / "journal")
    log = queued_log(storage, writer)
    writer.open()
    await call_story(log, 1)
    await call_story(log, 1)  # an engine re-announcing the same call: same rows
    await log.call_started("call-2", "u1", None, None, START)  # uniqueid taken: refused
    await call_story(log, 3)
    async with running(writer):
        assert await writer.flush(within_s=10)
    assert (writer.stats.batches, writer.stats.rejected) == (1, 1)
    calls = {c.id: c for c in await CallLog(storage, None).all()}
    assert sorted(calls) == ["call-1", "call-3"]
    assert [p.person_id for p in calls["call-1"].participants] == ["c0002"]
