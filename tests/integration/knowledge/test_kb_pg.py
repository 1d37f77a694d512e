"""Knowledge-base search through a real PostgreSQL (tsvector + pg_trgm, and the postings the
search reads, kept by triggers) with the same results contract as SQLite, review and import
atomicity there, and ``dasan kb search --json`` end to end on the PostgreSQL database."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from knowledge.analyze import Analyzer, trigrams
from knowledge.cases import Action, CaseContent, ReviewState
from knowledge.corpus import GeneratedCase, generate_cases
from knowledge.exchange import ImportRejected, import_text
from knowledge.settings import KnowledgeSettings
from knowledge.store import NewVersion
from knowledge.system import KnowledgeBase

DAY = date(2026, 12, 1)
TOPICS = {
    "여권 재발급",
    "대형폐기물 배출",
    "수도 계량기 동파",
    "재산세",
    "따릉이 이용권",
    "전입신고",
}
QUERIES = [
    ("여권 재발급 신청 방법", "여권 재발급"),
    ("여권재발급", "여권 재발급"),
    ("여권 제발급", "여권 재발급"),
    ("대형폐기물 스티커", "대형폐기물 배출"),
    ("계량기가 얼었어요", "수도 계량기 동파"),
    ("따릉이", "따릉이 이용권"),
    ("전입신구 처리 기간", "전입신고"),
]


@pytest.fixture(scope="module")
def cases() -> list[GeneratedCase]:
    return [c for c in generate_cases(120) if c.topic in TOPICS]


async def _load(kb: KnowledgeBase, cases: list[GeneratedCase]) -> None:
    await kb.cases.write_many(
        [NewVersion(c.content, ReviewState.PUBLISHED, c.id) for c in cases], "it"
    )
    kb.search.invalidate()


async def test_postgres_has_the_text_and_trigram_indexes(pg_kb: KnowledgeBase) -> None:
    async with pg_kb.storage.session() as session:
        names = set(
            (
                await session.scalars(
                    text("SELECT indexname FROM pg_indexes WHERE tablename = 'kb_cases'")
                )
            ).all()
        )
        extension = await session.scalar(
            text("SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'")
        )
    assert {"ix_kb_cases_tsv", "ix_kb_cases_fuzzy"} <= names
    assert extension == "pg_trgm"


async def test_ranked_search_matches_sqlite_contract(
    pg_kb: KnowledgeBase, cases: list[GeneratedCase], tmp_path: Path, analyzer: Analyzer
) -> None:
    await _load(pg_kb, cases)
    lite = await KnowledgeBase.open(
        KnowledgeSettings(), url=f"sqlite+aiosqlite:///{tmp_path / 'kb.sqlite3'}", analyzer=analyzer
    )
    try:
        await _load(lite, cases)
        topic_of = {c.id: c.topic for c in cases}
        for query, topic in QUERIES:
            pg = await pg_kb.search.search(query, limit=5, day=DAY)
            sq = await lite.search.search(query, limit=5, day=DAY)
            assert [topic_of[h.id] for h in pg] == [topic] * 5, query
            assert [topic_of[h.id] for h in sq] == [topic] * 5, query
            for hits in (pg, sq):
                assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
                assert set(hits[0].as_json()) == {"id", "title", "language", "service", "score"}
    finally:
        await lite.close()


async def test_filters_and_review_on_postgres(
    pg_kb: KnowledgeBase, cases: list[GeneratedCase]
) -> None:
    await _load(pg_kb, cases)
    en = await pg_kb.search.search("passport renewal", language="en", day=DAY)
    assert en and all(h.language == "en" for h in en)
    expired = [c for c in cases if c.expired]
    assert expired
    hits = await pg_kb.search.search(expired[0].content.title, limit=50, day=DAY)
    assert expired[0].id not in {h.id for h in hits}
    draft = await pg_kb.cases.create(
        CaseContent(
            title="청년 몽골어 통역 봉사 신청",
            question="몽골어 통역 봉사는 어떻게 신청하나요?",
            answer="외국인다문화담당관에서 받습니다.",
            service="foreigner",
            department="서울시 외국인다문화담당관",
        ),
        "editor",
    )
    pg_kb.search.invalidate()
    unpublished = await pg_kb.search.search("몽골어 통역 봉사", limit=50, day=DAY)
    assert draft.case_id not in {h.id for h in unpublished}
    await pg_kb.cases.act(draft.case_id, 1, Action.SUBMIT, "editor")
    await pg_kb.cases.act(draft.case_id, 1, Action.PUBLISH, "reviewer")
    pg_kb.search.invalidate()
    hits = await pg_kb.search.search("몽골어 통역 봉사", day=DAY)
    assert hits[0].id == draft.case_id
    assert draft.case_id > max(c.id for c in cases)  # the sequence follows imported ids


async def test_bad_import_leaves_postgres_untouched(pg_kb: KnowledgeBase) -> None:
    good = {
        "title": "t",
        "question": "q",
        "answer": "a",
        "service": "waste",
        "department": "d",
    }
    await import_text(pg_kb.cases, json.dumps([{**good, "id": 1}]), "json", "it")
    with pytest.raises(ImportRejected):
        await import_text(
            pg_kb.cases,
            json.dumps([{**good, "id": 2}, {**good, "id": 1, "language": "en"}]),
            "json",
            "it",
        )
    assert await pg_kb.cases.count() == 1


async def test_cli_search_json_on_postgres(
    pg_kb: KnowledgeBase, cases: list[GeneratedCase], kb_pg_url: str, tmp_path: Path
) -> None:
    await _load(pg_kb, cases)
    env = {**os.environ, "DASAN_STORAGE__URL": kb_pg_url, "DASAN_STATE_DIR": str(tmp_path)}
    done = await asyncio.to_thread(
        subprocess.run,
        [
            str(Path(sys.executable).parent / "dasan"),
            "kb",
            "search",
            "여권 재발급",
            "--json",
            "--limit",
            "3",
            "--day",
            "2026-12-01",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    hits = json.loads(done.stdout)
    assert len(hits) == 3 and all("여권 재발급" in h["title"] for h in hits)


async def test_a_lone_case_is_found_with_fractional_weights(pg_kb: KnowledgeBase) -> None:
    """With one case every IDF weight is below 1: they must not be cut to whole numbers."""
    draft = await pg_kb.cases.create(
        CaseContent(
            title="여권 재발급 신청 방법",
            question="여권을 재발급받으려면 무엇을 준비하나요?",
            answer="구청 민원여권과에 신분증과 사진 1매를 가져오세요.",
            service="passport",
            tags=("여권", "서류"),
            department="서울시 여권과",
        ),
        "editor",
    )
    await pg_kb.cases.act(draft.case_id, 1, Action.SUBMIT, "editor")
    await pg_kb.cases.act(draft.case_id, 1, Action.PUBLISH, "reviewer")
    pg_kb.search.invalidate()
    hits = await pg_kb.search.search("여권 발급 증명서 서류", language="ko", day=DAY)
    assert [h.id for h in hits] == [draft.case_id] and hits[0].score > 0


async def _postings(kb: KnowledgeBase) -> dict[tuple[str, int], set[str]]:
    async with kb.storage.session() as session:
        rows = (await session.execute(text("SELECT kind, token, case_id FROM kb_postings"))).all()
    out: dict[tuple[str, int], set[str]] = {}
    for row in rows:
        out.setdefault((row.kind, row.case_id), set()).add(row.token)
    return out


async def _expected(kb: KnowledgeBase) -> dict[tuple[str, int], set[str]]:
    """What the postings must hold: the analyzed terms and the trigrams of the fuzzy form of
    every published case (computed here in Python, the triggers compute them in SQL)."""
    async with kb.storage.session() as session:
        rows = (
            await session.execute(
                text("SELECT id, terms, fuzzy FROM kb_cases WHERE published_version IS NOT NULL")
            )
        ).all()
    out: dict[tuple[str, int], set[str]] = {}
    for row in rows:
        out[("t", row.id)] = set(row.terms.split())
        out[("g", row.id)] = set(trigrams(row.fuzzy))
    return {k: v for k, v in out.items() if v}


async def test_postings_follow_imports_publication_edits_and_deletion(
    pg_kb: KnowledgeBase, cases: list[GeneratedCase]
) -> None:
    await _load(pg_kb, cases[:40])
    assert await _postings(pg_kb) == await _expected(pg_kb) != {}
    first = next(c for c in cases[:40] if not c.expired)
    content = first.content.model_copy(update={"title": "몽골어 통역 봉사 안내"})
    await pg_kb.cases.edit(first.id, content, "editor")
    version = (await pg_kb.cases.latest(first.id)).version
    # A draft changes nothing that is searched.
    assert await _postings(pg_kb) == await _expected(pg_kb)
    await pg_kb.cases.act(first.id, version, Action.SUBMIT, "editor")
    await pg_kb.cases.act(first.id, version, Action.PUBLISH, "reviewer")
    await pg_kb.cases.mark_helped(cases[1].id)  # an update that changes nothing indexed
    postings = await _postings(pg_kb)
    assert postings == await _expected(pg_kb)
    assert {"ton", "ong", "ngy", "gye", "yeo", "eog"} <= postings[("g", first.id)]  # 통역
    pg_kb.search.invalidate()
    hits = await pg_kb.search.search("몽골어 통역 봉사", day=DAY)
    assert hits[0].id == first.id
    await pg_kb.cases.delete_all()
    assert await _postings(pg_kb) == {}
