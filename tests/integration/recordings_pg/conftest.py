"""PostgreSQL for the recordings integration tests: a fresh database per test session.

The URL comes from ``DASAN_TEST_PG_URL`` (default: the local server over its Unix socket,
which also works inside the test network namespace). A uniquely named database is created
through the ``postgres`` maintenance database and dropped at the end, so parallel runs never
collide; every test starts from empty tables.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from common.storage import Storage
from dasan.config import Settings, StorageSettings
from recordings.settings import RecordingsSettings

DEFAULT_URL = "postgresql+asyncpg://root@/dasan_test?host=/var/run/postgresql"
TABLES = (
    "alarms",
    "transcripts",
    "access_log",
    "catalog_chain",
    "recordings",
    "call_participants",
    "calls",
)


async def _admin(url: URL, statement: str) -> None:
    """Run a statement on the maintenance database (CREATE/DROP DATABASE need autocommit)."""
    engine = create_async_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    base = make_url(os.environ.get("DASAN_TEST_PG_URL", DEFAULT_URL))
    name = f"{base.database or 'dasan_test'}_rec_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(base, f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def pg_storage(pg_url: str) -> AsyncIterator[Storage]:
    storage = await Storage.open(pg_url)
    async with storage.write() as session:
        await session.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    yield storage
    await storage.close()


@pytest.fixture
def pg_settings(tmp_path: Path, pg_url: str, pg_storage: Storage) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        cache_dir=tmp_path / "cache",
        storage=StorageSettings(url=pg_url),
        recordings=RecordingsSettings(
            settle_s=5.0, transcription_enabled=False, rescan_interval_s=3600.0
        ),
    )
