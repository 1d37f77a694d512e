"""PostgreSQL for the knowledge integration tests: a fresh database per test session.

The URL comes from ``DASAN_TEST_PG_URL`` (default: the local server over its Unix socket,
which also works inside the test network namespace); the database is dropped at the end.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from knowledge.analyze import Analyzer
from knowledge.settings import KnowledgeSettings
from knowledge.system import KnowledgeBase

DEFAULT_URL = "postgresql+asyncpg://root@/dasan_test?host=/var/run/postgresql"


async def _admin(url: URL, statement: str) -> None:
    engine = create_async_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def kb_pg_url() -> Iterator[str]:
    base = make_url(os.environ.get("DASAN_TEST_PG_URL", DEFAULT_URL))
    name = f"{base.database or 'dasan_test'}_kb_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(base, f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def analyzer() -> Analyzer:
    return Analyzer()


@pytest.fixture
async def pg_kb(kb_pg_url: str, analyzer: Analyzer) -> AsyncIterator[KnowledgeBase]:
    kb = await KnowledgeBase.open(KnowledgeSettings(), url=kb_pg_url, analyzer=analyzer)
    await kb.cases.delete_all()
    kb.search.invalidate()
    yield kb
    await kb.close()
