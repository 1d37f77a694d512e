"""PostgreSQL for the knowledge integration tests: a fresh database per test session.

The URL comes from ``DASAN_TEST_PG_URL`` (default: the local server over its Unix socket,
which also works inside the test network namespace); the database is dropped at the end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from knowledge.analyze import Analyzer
from knowledge.settings import KnowledgeSettings
from knowledge.system import KnowledgeBase
from tests.integration.support import PG_SOCKET, create_database, drop_database


@pytest.fixture(scope="session")
def kb_pg_url() -> Iterator[str]:
    """A database of its own for the knowledge base's PostgreSQL tests."""
    name = create_database("dasan_test_kb")
    try:
        yield f"postgresql+asyncpg://root@/{name}?host={PG_SOCKET}"
    finally:
        drop_database(name)


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
