"""Ranked search over published, currently valid cases.

Two matchers, fused: full-text over the analyzed terms (PostgreSQL: the ``tsv`` tsvector;
SQLite: FTS5 over the same terms) and trigram matching over the fuzzy form, which finds cases
through typos and partial words: the query's rarest trigrams (by document frequency), each
looked up through an index (PostgreSQL: pg_trgm's GIN index, a three-character LIKE being one
trigram lookup; SQLite: FTS5's trigram tokenizer) and scored by IDF (PostgreSQL) or bm25
(SQLite). Each matcher's scores are divided by its best score for the query, then
``score = 0.7 * text + 0.3 * trigram`` (the trigram share grows up to 0.7 with the share of
query words the index does not know: likely typos) plus a small bonus for cases consultants marked as
helpful; results come best first with ties broken by case id.

The results contract (``SearchHit``: id, title, language, service, score in [0, 1.05]) is the
same on both databases; the raw scores behind it differ (bm25 on SQLite, an IDF-weighted
term match on PostgreSQL, whose ``ts_rank`` knows no document frequencies).

Invariants:
- Queries are built only from analyzed terms and trigrams (letters and digits), always passed
  as bound parameters; an empty analysis returns no hits rather than everything.
- Only published cases valid on the given day (``valid_from <= day <= valid_until``) match.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import bindparam, text

from common.storage import Storage
from knowledge.analyze import Analyzer, fuzzy_form, trigrams

_TEXT_WEIGHT = 0.7
_TRIGRAM_WEIGHT = 0.3
_HELPED_WEIGHT = 0.05
_CANDIDATES = 50
_MAX_TERMS = 24
_MAX_TRIGRAMS = 12
_STATS_TTL_S = 300.0


@dataclass(frozen=True, slots=True)
class SearchHit:
    id: int
    title: str
    language: str
    service: str
    score: float

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "language": self.language,
            "service": self.service,
            "score": round(self.score, 4),
        }


_VALID = (
    " AND c.published_version IS NOT NULL"
    " AND (c.valid_from IS NULL OR c.valid_from <= :day)"
    " AND (c.valid_until IS NULL OR c.valid_until >= :day)"
)


def _filter(params: dict[str, Any]) -> str:
    """The validity filter, the language, and (second pass) the candidate ids as integers."""
    out = _VALID + (" AND c.language = :lang" if params.get("lang") else "")
    ids = params.get("_ids")
    if ids is not None:
        out += f" AND c.id IN ({', '.join(str(int(i)) for i in ids) or 'NULL'})"
    return out


def _limit(params: dict[str, Any]) -> str:
    return "" if params.get("_ids") is not None else f" LIMIT {_CANDIDATES}"


def _quoted(words: list[str]) -> str:
    return " OR ".join('"' + w.replace('"', "") + '"' for w in words)


def _normalized(scores: dict[int, float]) -> dict[int, float]:
    best = max(scores.values(), default=0.0)
    if best <= 0:
        return {}
    return {k: v / best for k, v in scores.items()}


Matcher = Callable[[dict[str, Any]], Awaitable[dict[int, float]]]


@dataclass(frozen=True, slots=True)
class _Stats:
    """Document frequencies of index terms and (SQLite) trigrams, read at most every
    ``_STATS_TTL_S`` seconds (they steer which query pieces are worth matching)."""

    docs: int
    terms: dict[str, int]
    grams: dict[str, int]
    read_at: float


async def _vocabulary(conn: Any, table: str) -> dict[str, int]:
    # The table name is one of two constants of this module, never input.
    rows = (await conn.execute(text(f"SELECT term, doc FROM {table}"))).all()  # noqa: S608
    return {str(r.term): int(r.doc) for r in rows}


class Searcher:
    def __init__(self, storage: Storage, analyzer: Analyzer) -> None:
        self._storage = storage
        self._analyzer = analyzer
        self._stats: _Stats | None = None

    def invalidate(self) -> None:
        """Forget the term statistics (after an import or publication)."""
        self._stats = None

    async def search(
        self, query: str, *, language: str | None = None, limit: int = 10, day: date | None = None
    ) -> list[SearchHit]:
        terms = list(dict.fromkeys(self._analyzer.terms(query)))[:_MAX_TERMS]
        fuzzy = fuzzy_form(query)
        if not terms and not fuzzy:
            return []
        params: dict[str, Any] = {"day": day or date.today()}
        if language:
            params["lang"] = language
        async with self._storage.session() as session:
            conn = await session.connection()
            stats = await self._read_stats(conn)
            known = [t for t in terms if stats.terms.get(t)]
            grams = [g for g in trigrams(fuzzy) if stats.grams.get(g)]
            grams = sorted(grams, key=lambda g: stats.grams[g])[:_MAX_TRIGRAMS]
            match_text, match_grams = self._matchers(conn, known, grams, stats)
            textual = await match_text(params)
            fuzzy_hits = await match_grams(params)
            # Second pass: each matcher's score for the other's candidates, so a case found by
            # one is never ranked as if the other had not matched it at all.
            only_fuzzy = sorted(set(fuzzy_hits) - set(textual))
            only_text = sorted(set(textual) - set(fuzzy_hits))
            if only_fuzzy:
                textual.update(await match_text({**params, "_ids": only_fuzzy}))
            if only_text:
                fuzzy_hits.update(await match_grams({**params, "_ids": only_text}))
            # Words the index does not know are likely misspelt: trust trigrams more.
            unknown = 1 - len(known) / len(terms) if terms else 1.0
            trigram_weight = _TRIGRAM_WEIGHT + (_TEXT_WEIGHT - _TRIGRAM_WEIGHT) * unknown
            return await self._fuse(conn, textual, fuzzy_hits, limit, trigram_weight)

    def _matchers(
        self, conn: Any, known: list[str], grams: list[str], stats: _Stats
    ) -> tuple[Matcher, Matcher]:
        if self._storage.dialect == "postgresql":
            return (
                lambda p: self._pg_text(conn, known, stats, p),
                lambda p: self._pg_trigram(conn, grams, stats, p),
            )
        return (
            lambda p: self._sqlite_match(conn, "kb_fts", _quoted(known), p),
            lambda p: self._sqlite_match(conn, "kb_tri", _quoted(grams), p),
        )

    async def _read_stats(self, conn: Any) -> _Stats:
        now = time.monotonic()
        if self._stats is not None and now - self._stats.read_at < _STATS_TTL_S:
            return self._stats
        docs = int(
            await conn.scalar(text("SELECT count(*) FROM kb_cases WHERE terms IS NOT NULL")) or 0
        )
        if self._storage.dialect == "postgresql":
            sql = "SELECT word AS term, ndoc AS n FROM ts_stat('SELECT tsv FROM kb_cases')"
            terms = {str(r.term): int(r.n) for r in (await conn.execute(text(sql))).all()}
            grams = await _pg_trigram_counts(conn)
        else:
            terms = await _vocabulary(conn, "kb_fts_vocab")
            grams = await _vocabulary(conn, "kb_tri_vocab")
        self._stats = _Stats(docs, terms, grams, now)
        return self._stats

    async def _fuse(
        self,
        conn: Any,
        textual: dict[int, float],
        fuzzy: dict[int, float],
        limit: int,
        trigram_weight: float,
    ) -> list[SearchHit]:
        t, f = _normalized(textual), _normalized(fuzzy)
        ids = set(t) | set(f)
        if not ids:
            return []
        query = text(
            "SELECT id, title, language, service, helped FROM kb_cases WHERE id IN :ids"
        ).bindparams(bindparam("ids", expanding=True))
        rows = (await conn.execute(query, {"ids": sorted(ids)})).all()
        hits = []
        for row in rows:
            score = (1 - trigram_weight) * t.get(row.id, 0.0) + trigram_weight * f.get(row.id, 0.0)
            score += _HELPED_WEIGHT * min(1.0, math.log1p(row.helped) / 5)
            hits.append(SearchHit(row.id, row.title, row.language, row.service, score))
        hits.sort(key=lambda h: (-h.score, h.id))
        return hits[:limit]

    # SQLite: FTS5 -----------------------------------------------------------------------
    async def _sqlite_match(
        self, conn: Any, table: str, match: str, params: dict[str, Any]
    ) -> dict[int, float]:
        if not match:
            return {}
        # Only constants are formatted in (table names, filters); values are bound.
        sql = (
            f"SELECT f.rowid AS id, -bm25({table}) AS s FROM {table} f "  # noqa: S608
            f"JOIN kb_cases c ON c.id = f.rowid WHERE {table} MATCH :q{_filter(params)} "
            f"ORDER BY s DESC{_limit(params)}"
        )
        bind = {k: v for k, v in params.items() if not k.startswith("_")}
        rows = (await conn.execute(text(sql), {**bind, "q": match})).all()
        return {int(r.id): float(r.s) for r in rows}

    # PostgreSQL: tsvector + pg_trgm ------------------------------------------------------
    async def _pg_text(
        self, conn: Any, known: list[str], stats: _Stats, params: dict[str, Any]
    ) -> dict[int, float]:
        if not known:
            return {}
        scored = []
        bind = {k: v for k, v in params.items() if not k.startswith("_")}
        for i, term in enumerate(known):
            df = stats.terms[term]
            bind[f"t{i}"] = term
            bind[f"w{i}"] = math.log(1 + (stats.docs - df + 0.5) / (df + 0.5))
            scored.append(
                f"(CASE WHEN c.tsv @@ to_tsquery('simple', :t{i}) THEN CAST(:w{i} AS DOUBLE PRECISION) ELSE 0.0 END)"
            )
        bind["q"] = " | ".join(known)
        sql = (  # only placeholders and constants are formatted in; values are bound
            f"SELECT c.id, ({' + '.join(scored)}) AS s FROM kb_cases c WHERE "  # noqa: S608
            f"c.tsv @@ to_tsquery('simple', :q){_filter(params)} ORDER BY s DESC{_limit(params)}"
        )
        rows = (await conn.execute(text(sql), bind)).all()
        return {int(r.id): float(r.s) for r in rows}

    async def _pg_trigram(
        self, conn: Any, grams: list[str], stats: _Stats, params: dict[str, Any]
    ) -> dict[int, float]:
        """The query's rarest trigrams, each found through pg_trgm's GIN index (a LIKE on
        three characters is one trigram lookup), scored by their IDF like the text match."""
        if not grams:
            return {}
        scored: list[str] = []
        matches: list[str] = []
        bind = {k: v for k, v in params.items() if not k.startswith("_")}
        for i, gram in enumerate(grams):
            df = stats.grams[gram]
            bind[f"g{i}"] = f"%{gram}%"
            bind[f"v{i}"] = math.log(1 + (stats.docs - df + 0.5) / (df + 0.5))
            matches.append(f"c.fuzzy LIKE :g{i}")
            scored.append(
                f"(CASE WHEN c.fuzzy LIKE :g{i} THEN CAST(:v{i} AS DOUBLE PRECISION) ELSE 0.0 END)"
            )
        # Only placeholders and constants are formatted in; values are bound.
        sql = (
            f"SELECT c.id, ({' + '.join(scored)}) AS s FROM kb_cases c "  # noqa: S608
            f"WHERE ({' OR '.join(matches)}){_filter(params)} ORDER BY s DESC{_limit(params)}"
        )
        rows = (await conn.execute(text(sql), bind)).all()
        return {int(r.id): float(r.s) for r in rows}


async def _pg_trigram_counts(conn: Any) -> dict[str, int]:
    """How many published cases hold each trigram of the fuzzy form (as SQLite's vocabulary
    view of its trigram index tells)."""
    rows = (await conn.execute(text("SELECT fuzzy FROM kb_cases WHERE fuzzy IS NOT NULL"))).all()
    counts: Counter[str] = Counter()
    for row in rows:
        counts.update(set(trigrams(str(row.fuzzy))))
    return dict(counts)
