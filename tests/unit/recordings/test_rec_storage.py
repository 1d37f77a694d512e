"""Storage opens and migrates idempotently; the models match the migration scripts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, select

import care.models  # noqa: F401  (registers the care tables on Base)
import channels.models  # noqa: F401  (registers the text channels' tables on Base)
import cti.userdb  # noqa: F401  (the web users and their API tokens)
import knowledge.models  # noqa: F401  (registers the knowledge tables on Base)
import recordings.models  # noqa: F401  (registers the recordings tables on Base)
import safety.models  # noqa: F401  (and the safety tables)
from common.alarms import AlarmRow
from common.storage import MIGRATIONS, Base, PoolSettings, Storage, StorageError


def _head() -> str:

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


# SQLite-only FTS5 tables of the knowledge base (and their shadow tables): created by its
# migration, not modelled (SQLAlchemy has no virtual tables).
_UNMODELLED = ("kb_fts", "kb_tri")


async def test_open_twice_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db' / 'x.sqlite3'}"
    first = await Storage.open(url)
    assert await first.revision() == _head()
    await first.close()
    second = await Storage.open(url)
    assert await second.revision() == _head()
    await second.close()


async def test_concurrent_openers_agree(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}"
    opened = await asyncio.gather(*(Storage.open(url) for _ in range(3)))
    assert [await s.revision() for s in opened] == [_head()] * 3
    for store in opened:
        await store.close()


async def test_unknown_driver_is_refused() -> None:
    with pytest.raises(StorageError):
        await Storage.open("mysql://nope")


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": False,
            "include_name": lambda name, kind, _parent: (
                not (kind == "table" and str(name).startswith(_UNMODELLED))
            ),
        },
    )
    return list(compare_metadata(context, Base.metadata))


async def test_models_match_migrations(storage: Storage) -> None:
    assert AlarmRow.__tablename__ in Base.metadata.tables
    async with storage.engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    assert diff == []


async def test_write_rolls_back_on_error(storage: Storage) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(RuntimeError):
        async with storage.write() as session:
            session.add(AlarmRow(source="s", key="k", severity="info", message="m", raised_at=at))
            await session.flush()
            raise RuntimeError("boom")
    async with storage.session() as session:
        assert list(await session.scalars(select(AlarmRow))) == []


async def test_utc_times_round_trip(storage: Storage) -> None:
    at = datetime(2026, 11, 28, 9, 30, 1, 123456, tzinfo=UTC)
    async with storage.write() as session:
        session.add(AlarmRow(source="s", key="k", severity="info", message="m", raised_at=at))
    async with storage.session() as session:
        row = await session.scalar(select(AlarmRow))
    assert row is not None
    assert row.raised_at == at
    assert row.raised_at.tzinfo is not None


async def test_naive_datetimes_are_refused(storage: Storage) -> None:
    with pytest.raises(Exception, match="naive"):
        async with storage.write() as session:
            session.add(
                AlarmRow(
                    source="s",
                    key="k",
                    severity="info",
                    message="m",
                    raised_at=datetime(2026, 1, 1),
                )
            )
            await session.flush()


def _alarm(key: str) -> AlarmRow:
    at = datetime(2026, 12, 4, tzinfo=UTC)
    return AlarmRow(source="turns", key=key, severity="info", message="m", raised_at=at)


@contextlib.asynccontextmanager
async def _write_held(storage: Storage, key: str) -> AsyncIterator[None]:
    """A write transaction (adding alarm ``key``) held open until the block ends."""
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with storage.write() as session:
            session.add(_alarm(key))
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await holding.wait()
    try:
        yield
    finally:
        release.set()
        await holder


async def _queue_writers(storage: Storage, keys: list[str]) -> list[asyncio.Task[None]]:
    """One writer task per key, each started only once the one before it asked to write."""

    async def write(key: str, asked: asyncio.Event) -> None:
        asked.set()
        async with storage.write() as session:
            session.add(_alarm(key))

    tasks = []
    for key in keys:
        asked = asyncio.Event()
        tasks.append(asyncio.create_task(write(key, asked)))
        await asked.wait()
    return tasks


async def _keys(storage: Storage) -> list[str]:
    async with storage.session() as session:
        return list(await session.scalars(select(AlarmRow.key).order_by(AlarmRow.id)))


async def test_sqlite_writers_take_turns_in_the_order_they_asked(tmp_path: Path) -> None:
    """SQLite's own busy wait is not fair: under load a writer that commits and begins again
    at once kept the others out past their timeout. The engine's writers queue instead."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'turns.sqlite3'}"
    async with await Storage.open(url) as storage:
        async with _write_held(storage, "first"):
            waiting = await _queue_writers(storage, ["second", "third", "fourth"])
        await asyncio.gather(*waiting)
        assert await _keys(storage) == ["first", "second", "third", "fourth"]


async def test_writers_waiting_their_turn_leave_the_connections_to_readers(
    tmp_path: Path,
) -> None:
    """At the seed peak, 15 writers (alarms, care, the call log's writer) each held one of
    the pool's 15 connections while SQLite made them wait, and a caller's number lookup got
    none for 30 s ("QueuePool limit ... reached"). Writers now wait without a connection."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'turns.sqlite3'}"
    async with await Storage.open(url) as storage:
        async with _write_held(storage, "held"):
            waiting = await _queue_writers(storage, [f"w{n}" for n in range(20)])
            async with asyncio.timeout(5):  # the pool would make it wait 30 s
                assert await _keys(storage) == []  # a reader, while all of them wait
        await asyncio.gather(*waiting)
        assert len(await _keys(storage)) == 21


async def test_a_sqlite_writer_that_gets_no_turn_in_time_fails_and_holds_nothing(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'turns.sqlite3'}"
    pool = PoolSettings(sqlite_busy_timeout_s=0.2)
    async with await Storage.open(url, pool=pool) as storage:
        async with _write_held(storage, "held"):
            with pytest.raises(TimeoutError, match="no turn to write"):
                async with storage.write() as session:
                    session.add(_alarm("late"))
        async with storage.write() as session:  # the turn is free again
            session.add(_alarm("after"))
        assert await _keys(storage) == ["held", "after"]
