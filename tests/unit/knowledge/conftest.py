"""Fixtures for the knowledge unit tests: one analyzer per session (its model loads in ~1.5 s),
a fresh SQLite knowledge base per test, and a small slice of the generated corpus."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kb_support import NOW

from knowledge.analyze import Analyzer
from knowledge.corpus import GeneratedCase, generate_cases
from knowledge.settings import KnowledgeSettings
from knowledge.system import KnowledgeBase


@pytest.fixture(scope="session")
def analyzer() -> Analyzer:
    return Analyzer()


@pytest.fixture(scope="session")
def corpus() -> list[GeneratedCase]:
    return generate_cases(120)


@pytest.fixture
async def kb(tmp_path: Path, analyzer: Analyzer) -> AsyncIterator[KnowledgeBase]:
    base = await KnowledgeBase.open(
        KnowledgeSettings(),
        url=f"sqlite+aiosqlite:///{tmp_path / 'kb.sqlite3'}",
        analyzer=analyzer,
        clock=lambda: NOW,
    )
    yield base
    await base.close()
