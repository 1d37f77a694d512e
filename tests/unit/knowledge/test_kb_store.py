"""The case store: versions, review before publishing, what search sees."""

from __future__ import annotations

from datetime import date

import pytest
from kb_support import content

from knowledge.cases import Action, CaseNotFound, InvalidTransition, ReviewState
from knowledge.system import KnowledgeBase

DAY = date(2026, 12, 1)


async def _ids(kb: KnowledgeBase, query: str, **kw: object) -> list[int]:
    return [h.id for h in await kb.search.search(query, day=DAY, **kw)]  # type: ignore[arg-type]


async def test_draft_is_not_searchable_until_reviewed_and_published(kb: KnowledgeBase) -> None:
    v1 = await kb.cases.create(content(), "editor")
    assert (v1.version, v1.state) == (1, ReviewState.DRAFT)
    assert await _ids(kb, "여권 재발급") == []
    await kb.cases.act(v1.case_id, 1, Action.SUBMIT, "editor")
    assert await _ids(kb, "여권 재발급") == []
    with pytest.raises(InvalidTransition):
        await kb.cases.act(v1.case_id, 1, Action.PUBLISH, "editor")
    published = await kb.cases.act(v1.case_id, 1, Action.PUBLISH, "reviewer", "ok")
    assert published.state is ReviewState.PUBLISHED and published.reviewer == "reviewer"
    kb.search.invalidate()
    assert await _ids(kb, "여권 재발급") == [v1.case_id]


async def test_an_edit_keeps_the_published_text_until_its_own_publication(
    kb: KnowledgeBase,
) -> None:
    v1 = await kb.cases.create(content(), "editor")
    await kb.cases.act(v1.case_id, 1, Action.SUBMIT, "editor")
    await kb.cases.act(v1.case_id, 1, Action.PUBLISH, "reviewer")
    v2 = await kb.cases.edit(v1.case_id, content(title="긴급 여권 발급 안내"), "editor")
    assert (v2.version, v2.state) == (2, ReviewState.DRAFT)
    case = await kb.cases.get(v1.case_id)
    assert case.published is not None and case.published.title == "여권 재발급 신청 방법"
    assert case.latest_state is ReviewState.DRAFT and case.published_version == 1
    await kb.cases.act(v1.case_id, 2, Action.SUBMIT, "editor")
    await kb.cases.act(v1.case_id, 2, Action.RETURN, "reviewer", "어조를 고쳐 주세요")
    history = await kb.cases.history(v1.case_id)
    assert [(v.version, v.state) for v in history] == [
        (1, ReviewState.PUBLISHED),
        (2, ReviewState.DRAFT),
    ]
    assert history[1].comment == "어조를 고쳐 주세요"
    with pytest.raises(InvalidTransition, match="not the latest"):
        await kb.cases.act(v1.case_id, 1, Action.SUBMIT, "editor")


async def test_expired_and_other_language_cases_are_filtered(kb: KnowledgeBase) -> None:
    from knowledge.store import NewVersion

    ids = await kb.cases.write_many(
        [
            NewVersion(content(), ReviewState.PUBLISHED),
            NewVersion(
                content(title="여권 재발급 (2025년 안내)", valid_until=date(2025, 12, 31)),
                ReviewState.PUBLISHED,
            ),
            NewVersion(
                content(
                    language="en", title="Passport renewal", question="How?", tags=["passport"]
                ),
                ReviewState.PUBLISHED,
            ),
        ],
        "import",
    )
    kb.search.invalidate()
    assert await _ids(kb, "여권 재발급") == [ids[0]]
    assert await _ids(kb, "passport renewal", language="en") == [ids[2]]
    assert await _ids(kb, "passport renewal", language="ko") == []


async def test_unknown_case(kb: KnowledgeBase) -> None:
    with pytest.raises(CaseNotFound):
        await kb.cases.get(99)
    with pytest.raises(CaseNotFound):
        await kb.cases.history(99)


async def test_helped_marks_raise_a_case(kb: KnowledgeBase) -> None:
    from knowledge.store import NewVersion

    a, b = await kb.cases.write_many(
        [
            NewVersion(content(), ReviewState.PUBLISHED),
            NewVersion(content(), ReviewState.PUBLISHED),
        ],
        "import",
    )
    kb.search.invalidate()
    assert await _ids(kb, "여권 재발급") == [a, b]  # a tie: by id
    await kb.cases.mark_helped(b)
    assert await _ids(kb, "여권 재발급") == [b, a]
    with pytest.raises(CaseNotFound):
        await kb.cases.mark_helped(999)
