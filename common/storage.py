"""Database access: one async engine and session factory per process, migrated at open.

Invariants:
- ``Storage.open(url)`` upgrades the schema to Alembic head before anything else touches it;
  concurrent openers are serialized (a PostgreSQL advisory lock; SQLite's write lock).
- Only ``sqlite+aiosqlite://`` and ``postgresql+asyncpg://`` URLs are accepted.
- ``Storage.write()`` is the one way to change rows: a transaction that commits on success
  and rolls back on any error. On SQLite it takes the write lock up front (BEGIN IMMEDIATE)
  so two writers wait for each other instead of failing half-way; readers never block.
  Writers of one process take turns in the order they asked (``_WriteTurns``) before SQLite's
  lock: SQLite's own busy wait is not fair, and on a saturated host a writer that commits
  and begins again at once (the engine's batching writer) kept others out past their busy timeout, each holding a
  pooled connection while it waited.
- Every table of every area is declared on ``Base`` so one migration history covers them.
- On PostgreSQL every connect and statement has a timeout (10 s, 60 s); the pool's size,
  overflow and checkout timeout are settings (``storage.pool_*``). The engine's call path never
  waits on this pool: its writes go through one ``common.writer.DurableWriter``.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, DateTime, Dialect, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# Where the migration scripts live (package resource form understood by Alembic).
MIGRATIONS = "recordings:migrations"
_ADVISORY_LOCK_ID = 120_120_5
_WRITE_OPTION = "dasan_write"
_PG_CONNECT_S = 10.0
_PG_COMMAND_S = 60.0


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """Connection tuning. PostgreSQL's pool: the engine's writer holds one connection, readers
    share the rest. SQLite: how long a write waits for another process's lock before failing
    (the engine's writer then retries; readers never wait in WAL mode)."""

    pool_size: int = 10
    max_overflow: int = 10
    pool_timeout_s: float = 30.0
    sqlite_busy_timeout_s: float = 30.0


class StorageError(RuntimeError):
    """The database URL is unusable or the schema could not be brought up to date."""


class Base(DeclarativeBase):
    """Declarative base shared by every Dasan table."""


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_path(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database)


def _install_sqlite_hooks(engine: AsyncEngine, busy_timeout_s: float) -> None:
    """WAL, a busy timeout, foreign keys, and BEGIN IMMEDIATE for write transactions."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us emit BEGIN ourselves (the driver's implicit BEGIN is always DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # The busy timeout first: switching to WAL takes a lock that concurrent openers share.
        cursor.execute(f"PRAGMA busy_timeout={round(busy_timeout_s * 1000)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = bool(conn.get_execution_options().get(_WRITE_OPTION))
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _ADVISORY_LOCK_ID})
    command.upgrade(_alembic_config(connection), "head")


def _current(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


_TURN_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


class _WriteTurns:
    """First come, first served among one event loop's writers to one SQLite file.

    Keyed by loop and database, so every ``Storage`` of a process on that file shares the
    turns, and an ``asyncio.Lock`` is never used from a loop it was not made in.
    """

    def __init__(self, database: str, wait_s: float) -> None:
        self._database = database
        self._wait_s = wait_s

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        lock = _TURN_LOCKS.setdefault(loop, {}).setdefault(self._database, asyncio.Lock())
        try:
            async with asyncio.timeout(self._wait_s):
                await lock.acquire()
        except TimeoutError:
            raise TimeoutError(
                f"database {self._database} busy: no turn to write within {self._wait_s:g} s"
            ) from None
        try:
            yield
        finally:
            lock.release()


class Storage:
    """An async engine plus session factory; create with ``await Storage.open(url)``."""

    def __init__(self, engine: AsyncEngine, *, busy_timeout_s: float = 30.0) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._turns = (
            _WriteTurns(str(engine.url.database or ":memory:"), busy_timeout_s)
            if engine.dialect.name == "sqlite"
            else None
        )

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        migrate: bool = True,
        echo: bool = False,
        pool: PoolSettings | None = None,
    ) -> Storage:
        if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise StorageError(f"unsupported database URL {url!r}")
        if url.startswith("sqlite"):
            path = _sqlite_path(url)
            if path is not None:
                await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        # asyncpg: bounded connect and statement times, so a stuck server never hangs us.
        options: dict[str, Any] = {}
        sizes = pool or PoolSettings()
        if url.startswith("postgresql"):
            options = {
                "connect_args": {"timeout": _PG_CONNECT_S, "command_timeout": _PG_COMMAND_S},
                "pool_size": sizes.pool_size,
                "max_overflow": sizes.max_overflow,
                "pool_timeout": sizes.pool_timeout_s,
            }
        engine = create_async_engine(url, echo=echo, pool_pre_ping=True, **options)
        if engine.dialect.name == "sqlite":
            _install_sqlite_hooks(engine, sizes.sqlite_busy_timeout_s)
        storage = cls(engine, busy_timeout_s=sizes.sqlite_busy_timeout_s)
        if migrate:
            try:
                await storage.migrate()
            except BaseException:
                await engine.dispose()
                raise
        return storage

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def migrate(self) -> None:
        """Upgrade the schema to head (idempotent)."""
        async with self.engine.connect() as plain:
            conn = await plain.execution_options(**{_WRITE_OPTION: True})
            async with conn.begin():
                await conn.run_sync(_upgrade)

    async def revision(self) -> str | None:
        async with self.engine.connect() as conn:
            return await conn.run_sync(_current)

    def session(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A session for reading (use ``write()`` to change rows)."""
        return self._sessions()

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Storage]:
        """A read-only view in which every read sees the database as of one moment (one
        transaction: REPEATABLE READ on PostgreSQL; on SQLite a read transaction keeps the
        snapshot of its first read). For readers that compare tables written together."""
        async with self._sessions() as session:
            if self.dialect == "postgresql":
                await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            else:
                await session.connection()
            yield _Snapshot(self.engine, session)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session inside one write transaction: commit on success, roll back on error."""
        turn = self._turns.turn() if self._turns else contextlib.nullcontext()
        async with turn, self._sessions() as session:
            await session.connection(execution_options={_WRITE_OPTION: True})
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def close(self) -> None:
        await self.engine.dispose()

    async def __aenter__(self) -> Storage:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class _Snapshot(Storage):
    """What ``Storage.snapshot()`` yields: reads share its one session; writes are refused."""

    def __init__(self, engine: AsyncEngine, session: AsyncSession) -> None:
        super().__init__(engine)
        self._shared = session

    def session(self) -> AbstractAsyncContextManager[AsyncSession]:
        return self._borrowed()

    @asynccontextmanager
    async def _borrowed(self) -> AsyncIterator[AsyncSession]:
        yield self._shared

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        raise StorageError("a snapshot is read-only")
        yield self._shared  # pragma: no cover - makes this a generator

    async def close(self) -> None:
        """The snapshot's session ends with its ``async with``; the engine is its storage's."""
