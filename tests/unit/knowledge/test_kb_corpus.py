"""The generated corpus and its labeled queries."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

from knowledge.cases import LANGUAGES
from knowledge.corpus import GeneratedCase, generate_cases, labeled_queries, typo

QUERIES = Path(__file__).resolve().parents[3] / "benchmarks" / "data" / "kb_queries.json"


def _digest(cases: list[GeneratedCase]) -> str:
    text = "\n".join(c.content.model_dump_json() for c in cases)
    return hashlib.sha256(text.encode()).hexdigest()


def test_size_languages_and_ids(corpus: list[GeneratedCase]) -> None:
    assert len(corpus) >= 15_000
    languages = Counter(c.content.language for c in corpus)
    assert set(languages) == set(LANGUAGES)
    assert languages["ko"] >= 15_000
    assert [c.id for c in corpus] == list(range(1, len(corpus) + 1))
    by_id = {c.id: c for c in corpus}
    for case in corpus:
        if case.content.translation_of is not None:
            source = by_id[case.content.translation_of]
            assert source.content.language == "ko" and source.topic == case.topic


def test_deterministic(corpus: list[GeneratedCase]) -> None:
    again = generate_cases(120)
    assert _digest(again[:500]) == _digest(corpus[:500])
    assert _digest(again[-500:]) == _digest(corpus[-500:])
    assert _digest(generate_cases(7)[:500]) != _digest(corpus[:500])


def test_no_personal_data(corpus: list[GeneratedCase]) -> None:
    import re

    phone = re.compile(r"\d{2,3}-\d{3,4}-\d{4}")
    assert not any(phone.search(c.content.answer) for c in corpus)


def test_shipped_queries_are_what_the_generator_writes(corpus: list[GeneratedCase]) -> None:
    shipped = json.loads(QUERIES.read_text(encoding="utf-8"))
    assert len(shipped["queries"]) >= 200
    fresh = [q.as_json() for q in labeled_queries(corpus, count=240, seed=2026)]
    assert shipped["queries"] == fresh
    expired = {c.id for c in corpus if c.expired}
    kinds = Counter(q["kind"] for q in fresh)
    assert {"paraphrase", "typo", "spacing", "partial", "foreign"} <= set(kinds)
    for q in fresh:
        assert q["relevant"] and not set(q["relevant"]) & expired


def test_typo_changes_one_syllable() -> None:
    import random

    word = "음식물쓰레기"
    out = typo(word, random.Random(1))
    assert len(out) == len(word)
    assert sum(a != b for a, b in zip(out, word, strict=True)) == 1
