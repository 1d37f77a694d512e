"""The durable writer on the default storage (SQLite, WAL), issue 10.

1. Call path cost: the time one call-log write takes to *enqueue* (validation, the caller's
   number encrypted, the journal line written), per write, p50/p99/max.
2. Throughput: 5,000 calls' writes (started, routed, consultant, ended: 20,000 writes)
   enqueued as fast as possible with the writer running; writes applied per second, number of
   transactions and batch sizes.
3. A locked database: another process-like connection holds SQLite's write lock for
   ``LOCK_S`` seconds while calls keep coming at 50 calls/s; the enqueue cost during the lock
   and how long the writer takes to catch up once the lock is released.

Output: benchmarks/results/storage_writer.json. Run: ``python -m benchmarks.storage_writer``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import sqlite3
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common.storage import PoolSettings, Storage
from common.writer import DurableWriter
from recordings.calllog import CallLog
from recordings.keys import KeyRing, NumberProtector

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "storage_writer.json"
CALLS = 5_000
LOCK_S = 5.0
LOCKED_RATE = 50.0  # calls per second while the database is locked
START = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def _us(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6, 1)

    return {"count": len(ordered), "p50_us": at(0.5), "p99_us": at(0.99), "max_us": at(1.0)}


async def _story(log: CallLog, n: int, timings: list[float]) -> None:
    call = f"call-{n}"
    steps = (
        log.call_started(call, f"u{n}", None, f"010{n:08d}", START),
        log.call_routed(call, "ko", "general", {"nodes": ["lang", "general"], "keys": "11"}),
        log.consultant_joined(call, f"c{n % 471 + 1:04d}", at=START + timedelta(seconds=20)),
        log.call_ended(call, START + timedelta(seconds=200)),
    )
    for step in steps:
        began = time.perf_counter()
        await step
        timings.append(time.perf_counter() - began)


async def _setup(root: Path, name: str) -> tuple[Storage, DurableWriter, CallLog, Path]:
    database = root / f"{name}.sqlite3"
    storage = await Storage.open(
        f"sqlite+aiosqlite:///{database}", pool=PoolSettings(sqlite_busy_timeout_s=1.0)
    )
    writer = DurableWriter(storage, root / f"{name}-journal", retry_min_s=0.05, retry_max_s=0.5)
    log = CallLog(storage, NumberProtector(KeyRing.generate()), writer=writer)
    writer.open()
    return storage, writer, log, database


async def throughput(root: Path) -> dict[str, Any]:
    storage, writer, log, _ = await _setup(root, "throughput")
    timings: list[float] = []
    task = asyncio.create_task(writer.run())
    began = time.perf_counter()
    for n in range(CALLS):
        await _story(log, n, timings)
        if n % 50 == 0:
            await asyncio.sleep(0)  # let the writer take what is queued, as calls would
    enqueued_s = time.perf_counter() - began
    assert await writer.flush(within_s=600)
    elapsed = time.perf_counter() - began
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    writer.close()
    await storage.close()
    stats = writer.stats
    return {
        "writes": stats.applied,
        "rejected": stats.rejected,
        "enqueue": _us(timings),
        "enqueue_all_s": round(enqueued_s, 2),
        "applied_per_s": round(stats.applied / elapsed),
        "transactions": stats.batches,
        "mean_batch": round(stats.applied / max(1, stats.batches), 1),
        "largest_batch": stats.largest_batch,
    }


def _hold_lock(database: Path, held: threading.Event, release: threading.Event) -> None:
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    held.set()
    release.wait(60)
    conn.execute("ROLLBACK")
    conn.close()


async def locked(root: Path) -> dict[str, Any]:
    storage, writer, log, database = await _setup(root, "locked")
    task = asyncio.create_task(writer.run())
    held, release = threading.Event(), threading.Event()
    thread = threading.Thread(target=_hold_lock, args=(database, held, release))
    thread.start()
    await asyncio.to_thread(held.wait, 10)
    timings: list[float] = []
    began = time.perf_counter()
    n = 0
    while time.perf_counter() - began < LOCK_S:
        await _story(log, n, timings)
        n += 1
        await asyncio.sleep(1 / LOCKED_RATE)
    backlog = writer.backlog
    release.set()
    released = time.perf_counter()
    assert await writer.flush(within_s=120)
    catch_up = time.perf_counter() - released
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    thread.join()
    writer.close()
    await storage.close()
    return {
        "lock_s": LOCK_S,
        "calls_during_lock": n,
        "enqueue_during_lock": _us(timings),
        "backlog_at_release": backlog,
        "failed_attempts": writer.stats.failures,
        "catch_up_s": round(catch_up, 3),
        "rejected": writer.stats.rejected,
    }


async def measure() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dasan-writer-") as tmp:
        root = Path(tmp)
        return {
            "benchmark": "storage_writer",
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "throughput": await throughput(root),
            "locked": await locked(root),
        }


def main() -> None:
    result = asyncio.run(measure())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
