"""Helpers for the knowledge unit tests."""

from __future__ import annotations

from datetime import UTC, datetime

from knowledge.cases import CaseContent, ReviewState
from knowledge.corpus import GeneratedCase
from knowledge.store import NewVersion
from knowledge.system import KnowledgeBase

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def content(**changes: object) -> CaseContent:
    base: dict[str, object] = {
        "language": "ko",
        "title": "여권 재발급 신청 방법",
        "question": "여권을 재발급받으려면 어떻게 하나요?",
        "answer": "구청 민원여권과에서 신청합니다.",
        "service": "passport",
        "tags": ["여권", "재발급"],
        "department": "서울시 여권과",
    }
    base.update(changes)
    return CaseContent.model_validate(base)


async def load_slice(kb: KnowledgeBase, cases: list[GeneratedCase]) -> None:
    await kb.cases.write_many(
        [NewVersion(c.content, ReviewState.PUBLISHED, c.id) for c in cases], "test"
    )
    kb.search.invalidate()
