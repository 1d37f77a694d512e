"""Composition of the knowledge area: the analyzer, the case store and the searcher over one
storage. The engine and the CLI open it the same way.

Invariant: the tokenizer model is loaded once per ``KnowledgeBase`` (in a thread, so opening
never blocks an event loop for its ~1.5 s).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from common.storage import Storage
from knowledge.analyze import Analyzer
from knowledge.cases import ReviewState
from knowledge.corpus import generate_cases
from knowledge.search import Searcher
from knowledge.settings import KnowledgeSettings
from knowledge.store import CaseStore, Clock, NewVersion, utc_now


@dataclass
class KnowledgeBase:
    settings: KnowledgeSettings
    storage: Storage
    analyzer: Analyzer
    cases: CaseStore
    search: Searcher
    owns_storage: bool

    @classmethod
    async def open(
        cls,
        settings: KnowledgeSettings,
        *,
        storage: Storage | None = None,
        url: str | None = None,
        analyzer: Analyzer | None = None,
        clock: Clock = utc_now,
    ) -> KnowledgeBase:
        if storage is None and url is None:
            raise ValueError("give a storage or a database URL")
        tokenizer = analyzer if analyzer is not None else await asyncio.to_thread(Analyzer)
        store = storage or await Storage.open(url or "")
        return cls(
            settings=settings,
            storage=store,
            analyzer=tokenizer,
            cases=CaseStore(store, tokenizer, clock),
            search=Searcher(store, tokenizer),
            owns_storage=storage is None,
        )

    async def load_generated(self, seed: int = 120, *, author: str = "generator") -> int:
        """Replace the knowledge base by the generated corpus (tests, demo, benchmarks)."""
        generated = generate_cases(seed)
        await self.cases.delete_all()
        items = [NewVersion(g.content, ReviewState.PUBLISHED, g.id) for g in generated]
        await self.cases.write_many(items, author)
        self.search.invalidate()
        return len(items)

    async def close(self) -> None:
        if self.owns_storage:
            await self.storage.close()
