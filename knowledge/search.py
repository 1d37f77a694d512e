"""Ranked search over published, currently valid cases.

Two matchers, fused: full-text over the analyzed terms (PostgreSQL: the lexemes of the ``tsv``
tsvector; SQLite: FTS5 over the same terms) and trigram matching over the fuzzy form, which
finds cases through typos and partial words: the query's rarest trigrams (by document
frequency), each looked up through an index (PostgreSQL: ``kb_postings``, one B-tree row per
term or trigram and case, kept by triggers (migration 0007); SQLite: FTS5's trigram
tokenizer) and scored by IDF (PostgreSQL: the sum of the IDF of the query tokens a case holds)
or bm25 (SQLite). Each matcher keeps its best 50 cases as candidates (PostgreSQL: with every
case tied with the 50th, at most 200), and scores the other matcher's candidates too. Each
matcher's scores are divided by its best score for the query, then
``score = 0.7 * text + 0.3 * trigram`` (the trigram share grows up to 0.7 with the share of
query words the index does not know: likely typos) plus a small bonus for cases consultants
marked as helpful; results come best first with ties broken by case id.

The results contract (``SearchHit``: id, title, language, service, score in [0, 1.05]) is the
same on both databases; the raw scores behind it differ (bm25 on SQLite, an IDF-weighted
term match on PostgreSQL, whose ``ts_rank`` knows no document frequencies).

Invariants:
- Queries are built only from analyzed terms and trigrams (letters and digits), always passed
  as bound parameters; an empty analysis returns no hits rather than everything.
- Only published cases valid on the given day (``valid_from <= day <= valid_until``) match.
- PostgreSQL reads no case row to find or score candidates (the postings' index holds the
  filter columns); only the final contenders' rows are read, for their titles.
"""

from __future__ import annotations

import math
import time
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
_MAX_CANDIDATES = 4 * _CANDIDATES
_MAX_TERMS = 24
_MAX_TRIGRAMS = 12
_STATS_TTL_S = 300.0
# PostgreSQL: a token held by more than 1/_COMMON_SHARE of the cases only scores candidates.
_COMMON_SHARE = 4
_WEIGHT_STEPS = 2**20


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


def _contenders(base: dict[int, float], limit: int) -> list[int]:
    """The cases that can still be among the best ``limit`` once the helpful bonus (at most
    ``_HELPED_WEIGHT``) is added: a case further below the ``limit``-th score than the bonus
    can never overtake it, so its row is not read (many cases may tie at a candidate cut)."""
    if len(base) <= limit:
        return sorted(base)
    floor = sorted(base.values(), reverse=True)[limit - 1] - _HELPED_WEIGHT - 1e-9
    return sorted(i for i, score in base.items() if score >= floor)


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
            terms = _Tokens.of("t", known, stats.terms, stats.docs)
            tris = _Tokens.of("g", grams, stats.grams, stats.docs)
            return (
                lambda p: self._pg_match(conn, terms, p),
                lambda p: self._pg_match(conn, tris, p),
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
            terms, grams = await _pg_counts(conn)
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
        base = {
            i: (1 - trigram_weight) * t.get(i, 0.0) + trigram_weight * f.get(i, 0.0)
            for i in set(t) | set(f)
        }
        ids = _contenders(base, limit)
        if not ids:
            return []
        query = text(
            "SELECT id, title, language, service, helped FROM kb_cases WHERE id IN :ids"
        ).bindparams(bindparam("ids", expanding=True))
        rows = (await conn.execute(query, {"ids": sorted(ids)})).all()
        hits = []
        for row in rows:
            score = base[row.id] + _HELPED_WEIGHT * min(1.0, math.log1p(row.helped) / 5)
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

    # PostgreSQL: postings (kb_postings, migration 0007) ---------------------------------
    async def _pg_match(
        self, conn: Any, tokens: _Tokens, params: dict[str, Any]
    ) -> dict[int, float]:
        """Given candidates (``_ids``), every token scores them. Otherwise candidates are
        found by the rare tokens and scored by all: a token held by more than a quarter of the
        cases would make the query read much of the index for a small share of the score, so it
        only adds its weight to the candidates the others found (by primary-key lookups, in the
        same statement). With no rare token, all tokens find candidates."""
        if not tokens.weights:
            return {}
        if params.get("_ids") is not None:
            return await self._pg_sum(conn, tokens.kind, tokens.weights, params)
        find, score = (tokens.rare, tokens.common) if tokens.rare else (tokens.weights, {})
        bind = _postings_bind(params, tokens.kind, find)
        bind.update(extra_tokens=list(score), extra_weights=list(score.values()))
        # Only constants are formatted in; values are bound.
        found = f"{_POSTINGS_SUM} WHERE {_postings_where(params)} GROUP BY p.case_id"
        # The best _CANDIDATES and every case tied with the last of them (no arbitrary cut
        # among equals), at most _MAX_CANDIDATES (then the lowest ids).
        best = f"{found} ORDER BY s DESC FETCH FIRST {_CANDIDATES} ROWS WITH TIES"
        sql = f"SELECT id, s + {_EXTRA} AS s FROM ({best}) AS best {_BEST_FIRST}"  # noqa: S608
        rows = (await conn.execute(text(sql), bind)).all()
        return {int(r.id): float(r.s) for r in rows}

    async def _pg_sum(
        self, conn: Any, kind: str, weights: dict[str, float], params: dict[str, Any]
    ) -> dict[int, float]:
        """Each given case's sum of the weights of the query tokens it holds (``kind`` 't':
        index terms, 'g': trigrams of the fuzzy form), read from the postings' B-tree alone:
        the validity and language filters are columns of the index, no case row is read."""
        ids = ", ".join(str(int(i)) for i in params["_ids"]) or "NULL"
        where = f"{_postings_where(params)} AND p.case_id IN ({ids})"
        # Only constants and integer ids are formatted in; values are bound.
        sql = f"{_POSTINGS_SUM} WHERE {where} GROUP BY p.case_id"
        rows = (await conn.execute(text(sql), _postings_bind(params, kind, weights))).all()
        return {int(r.id): float(r.s) for r in rows}


def _postings_bind(params: dict[str, Any], kind: str, weights: dict[str, float]) -> dict[str, Any]:
    bind = {k: v for k, v in params.items() if not k.startswith("_")}
    bind.update(kind=kind, tokens=list(weights), weights=list(weights.values()))
    return bind


def _postings_where(params: dict[str, Any]) -> str:
    return _POSTINGS_VALID + (" AND p.language = :lang" if params.get("lang") else "")


@dataclass(frozen=True, slots=True)
class _Tokens:
    """A matcher's query tokens with their IDF weights, split by document frequency."""

    kind: str
    weights: dict[str, float]
    rare: dict[str, float]
    common: dict[str, float]

    @classmethod
    def of(cls, kind: str, tokens: list[str], counts: dict[str, int], docs: int) -> _Tokens:
        """``tokens`` are all known to the index (``counts[token] >= 1``)."""
        weights = {t: _idf(docs, counts[t]) for t in tokens}
        rare = {t: w for t, w in weights.items() if counts[t] * _COMMON_SHARE <= docs}
        common = {t: w for t, w in weights.items() if t not in rare}
        return cls(kind, weights, rare, common)


_POSTINGS_SUM = (
    "SELECT p.case_id AS id, SUM(q.w) AS s"
    " FROM unnest(CAST(:tokens AS TEXT[]), CAST(:weights AS DOUBLE PRECISION[])) AS q(token, w)"
    " JOIN kb_postings p ON p.kind = :kind AND p.token = q.token"
)
_BEST_FIRST = f"ORDER BY s DESC, id LIMIT {_MAX_CANDIDATES}"
# The weights of the common tokens a candidate holds (primary-key lookups per candidate).
_EXTRA = (
    "COALESCE((SELECT SUM(x.w)"
    " FROM unnest(CAST(:extra_tokens AS TEXT[]), CAST(:extra_weights AS DOUBLE PRECISION[]))"
    " AS x(token, w) JOIN kb_postings e ON e.kind = :kind AND e.token = x.token"
    " AND e.case_id = best.id), 0.0)"
)
_POSTINGS_VALID = (
    "(p.valid_from IS NULL OR p.valid_from <= :day)"
    " AND (p.valid_until IS NULL OR p.valid_until >= :day)"
)


def _idf(docs: int, df: int) -> float:
    """The IDF weight, rounded to a multiple of 2**-20: sums of a few dozen such weights are
    exact in double precision whatever order the database adds them in, so cases holding the
    same tokens tie exactly (the candidate cut keeps ties) on every database."""
    idf = math.log(1 + (docs - df + 0.5) / (df + 0.5))
    return round(idf * _WEIGHT_STEPS) / _WEIGHT_STEPS


async def _pg_counts(conn: Any) -> tuple[dict[str, int], dict[str, int]]:
    """How many published cases hold each index term and each trigram (from the postings;
    the same as ``ts_stat`` over the tsvectors and a count over the fuzzy forms)."""
    sql = "SELECT kind, token, count(*) AS n FROM kb_postings GROUP BY kind, token"
    terms: dict[str, int] = {}
    grams: dict[str, int] = {}
    for row in (await conn.execute(text(sql))).all():
        (terms if row.kind == "t" else grams)[str(row.token)] = int(row.n)
    return terms, grams
