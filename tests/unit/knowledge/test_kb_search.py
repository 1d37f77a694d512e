"""Search on SQLite over a slice of the generated corpus: ranked, typo-tolerant, filtered;
and the ``dasan kb search --json`` contract."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from click.testing import CliRunner
from kb_support import load_slice

from knowledge.analyze import Analyzer
from knowledge.cli import kb_group
from knowledge.corpus import GeneratedCase
from knowledge.settings import KnowledgeSettings
from knowledge.system import KnowledgeBase

DAY = date(2026, 12, 1)


def _slice(corpus: list[GeneratedCase]) -> list[GeneratedCase]:
    topics = {"여권 재발급", "대형폐기물 배출", "수도 계량기 동파", "재산세", "따릉이 이용권"}
    return [c for c in corpus if c.topic in topics and (c.district in (None, "강남구", "마포구"))]


async def test_ranked_hits_for_words_typos_and_run_together_words(
    kb: KnowledgeBase, corpus: list[GeneratedCase]
) -> None:
    cases = _slice(corpus)
    await load_slice(kb, cases)
    topic_of = {c.id: c.topic for c in cases}
    for query, topic in [
        ("여권 재발급 신청 방법", "여권 재발급"),
        ("여권재발급", "여권 재발급"),
        ("여권 제발급", "여권 재발급"),
        ("대형폐기물 스티커", "대형폐기물 배출"),
        ("계량기가 얼었어요", "수도 계량기 동파"),
        ("따릉이", "따릉이 이용권"),
    ]:
        hits = await kb.search.search(query, limit=5, day=DAY)
        assert hits, query
        assert [topic_of[h.id] for h in hits] == [topic] * len(hits), query
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)
        assert 0 < scores[-1] <= scores[0] <= 1.05


async def test_language_filter_and_empty_queries(
    kb: KnowledgeBase, corpus: list[GeneratedCase]
) -> None:
    await load_slice(kb, _slice(corpus))
    en = await kb.search.search("passport renewal", language="en", day=DAY)
    assert en and all(h.language == "en" for h in en)
    assert await kb.search.search("   ?!  ", day=DAY) == []
    assert await kb.search.search("여권", language="ja", day=DAY) == []


def test_cli_search_json(tmp_path: Path, analyzer: Analyzer, corpus: list[GeneratedCase]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"

    async def open_kb(_ctx: object) -> KnowledgeBase:
        return await KnowledgeBase.open(KnowledgeSettings(), url=url, analyzer=analyzer)

    runner = CliRunner()
    group = kb_group(open_kb)
    source = tmp_path / "cases.json"
    rows = [{**c.content.model_dump(mode="json"), "id": c.id} for c in _slice(corpus)]
    source.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    done = runner.invoke(group, ["import", str(source), "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output) == {"imported": len(rows)}
    done = runner.invoke(
        group, ["search", "여권 재발급", "--json", "--limit", "3", "--day", "2026-12-01"]
    )
    assert done.exit_code == 0, done.output
    hits = json.loads(done.output)
    assert len(hits) == 3
    assert set(hits[0]) == {"id", "title", "language", "service", "score"}
    assert all("여권 재발급" in h["title"] for h in hits)
    bad = tmp_path / "bad.csv"
    bad.write_text("title,question,answer,service,department\n,q,a,waste,d\n", encoding="utf-8")
    done = runner.invoke(group, ["import", str(bad)])
    assert done.exit_code == 1
    assert "row 2: title" in done.output


def test_only_cases_the_helpful_bonus_cannot_lift_are_left_out_of_fusion() -> None:
    from knowledge.search import _HELPED_WEIGHT, _contenders

    base = {1: 1.0, 2: 0.9, 3: 0.9, 4: 0.9 - _HELPED_WEIGHT / 2, 5: 0.9 - 2 * _HELPED_WEIGHT}
    # The second best is 0.9: case 4 may still pass it with the bonus, case 5 never can.
    assert _contenders(base, 2) == [1, 2, 3, 4]
    assert _contenders(base, 10) == [1, 2, 3, 4, 5]
    assert _contenders({}, 5) == []


def test_tokens_held_by_more_than_a_quarter_of_the_cases_only_score() -> None:
    from knowledge.search import _idf, _Tokens

    tokens = _Tokens.of("g", ["abc", "eon", "ang"], {"abc": 3, "eon": 60, "ang": 25}, 100)
    assert set(tokens.rare) == {"abc", "ang"} and set(tokens.common) == {"eon"}
    assert tokens.weights == {t: _idf(100, n) for t, n in (("abc", 3), ("eon", 60), ("ang", 25))}
    assert tokens.weights["abc"] > tokens.weights["ang"] > tokens.weights["eon"] > 0
