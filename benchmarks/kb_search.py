"""Knowledge-base search (issue 16): latency on the generated corpus and precision@5 on the
labeled queries, on SQLite (the demo default) and PostgreSQL (when reachable).

1. The generated corpus (``knowledge.corpus``, seed 120: 16,995 cases, 15,570 of them in
   Korean) is imported into a fresh database; the import time is reported.
2. Quality: each query of ``benchmarks/data/kb_queries.json`` (written by the corpus
   generator with other words, typos, words run together or cut short; never used by the
   tests) is searched once with its language filter, limit 5, on ``REFERENCE_DAY``.
   precision@5 = relevant cases among the top 5 / min(5, number of relevant cases), averaged;
   also the strict form (/ 5), the share of queries with a relevant case in the top 5, MRR.
3. Latency: every query three more times, in order; p50/p99/max of the wall time of
   ``Searcher.search`` (analysis, both matchers, fusion) with one client.

Output: benchmarks/results/kb_search.json. Run: ``python -m benchmarks.kb_search``;
``--write-queries`` regenerates the query file from the generator (then commit it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from knowledge.corpus import REFERENCE_DAY, generate_cases, labeled_queries
from knowledge.settings import KnowledgeSettings
from knowledge.system import KnowledgeBase

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "kb_search.json"
QUERIES = REPO / "benchmarks" / "data" / "kb_queries.json"
PG_URL = os.environ.get(
    "DASAN_BENCH_PG_URL", "postgresql+asyncpg://root@/dasan_bench?host=/var/run/postgresql"
)
TARGET_P99_MS = 50.0
ROUNDS = 3


def write_queries() -> None:
    queries = labeled_queries(generate_cases(120), count=240, seed=2026)
    QUERIES.parent.mkdir(parents=True, exist_ok=True)
    QUERIES.write_text(
        json.dumps(
            {
                "corpus_seed": 120,
                "day": REFERENCE_DAY.isoformat(),
                "queries": [q.as_json() for q in queries],
            },
            ensure_ascii=False,
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {"count": len(ordered), "p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": at(1.0)}


async def _measure(kb: KnowledgeBase, queries: list[dict[str, Any]]) -> dict[str, Any]:
    started = time.monotonic()
    loaded = await kb.load_generated(120)
    load_s = round(time.monotonic() - started, 1)
    await kb.search.search("워밍업", day=REFERENCE_DAY)
    per_kind: dict[str, list[float]] = {}
    strict, found, reciprocal = [], [], []
    for q in queries:
        hits = await kb.search.search(
            q["query"], language=q["language"], limit=5, day=REFERENCE_DAY
        )
        relevant = set(q["relevant"])
        got = [h.id for h in hits]
        good = sum(1 for i in got if i in relevant)
        per_kind.setdefault(q["kind"], []).append(good / min(5, len(relevant)))
        strict.append(good / 5)
        found.append(1.0 if good else 0.0)
        rank = next((n for n, i in enumerate(got, 1) if i in relevant), None)
        reciprocal.append(1 / rank if rank else 0.0)
    latencies = []
    for _ in range(ROUNDS):
        for q in queries:
            t0 = time.perf_counter()
            await kb.search.search(q["query"], language=q["language"], limit=5, day=REFERENCE_DAY)
            latencies.append(time.perf_counter() - t0)
    every = [v for values in per_kind.values() for v in values]
    latency = _ms(latencies)
    return {
        "cases": loaded,
        "import_s": load_s,
        "latency": latency,
        "p99_under_target": latency["p99_ms"] < TARGET_P99_MS,
        "precision_at_5": round(sum(every) / len(every), 3),
        "precision_at_5_strict": round(sum(strict) / len(strict), 3),
        "hit_at_5": round(sum(found) / len(found), 3),
        "mrr": round(sum(reciprocal) / len(reciprocal), 3),
        "precision_at_5_by_kind": {
            k: {"queries": len(v), "precision": round(sum(v) / len(v), 3)}
            for k, v in sorted(per_kind.items())
        },
    }


async def _sqlite(queries: list[dict[str, Any]]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        kb = await KnowledgeBase.open(
            KnowledgeSettings(), url=f"sqlite+aiosqlite:///{Path(tmp) / 'kb.sqlite3'}"
        )
        try:
            return await _measure(kb, queries)
        finally:
            await kb.close()


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(
        make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def _postgres(queries: list[dict[str, Any]]) -> dict[str, Any]:
    base = make_url(PG_URL)
    name = f"{base.database or 'dasan_bench'}_{uuid.uuid4().hex[:8]}"
    try:
        await _admin(PG_URL, f'CREATE DATABASE "{name}"')
    except Exception as exc:
        return {"skipped": f"PostgreSQL not reachable: {type(exc).__name__}: {exc}"}
    try:
        url = base.set(database=name).render_as_string(hide_password=False)
        kb = await KnowledgeBase.open(KnowledgeSettings(), url=url)
        try:
            return await _measure(kb, queries)
        finally:
            await kb.close()
    finally:
        await _admin(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def run() -> dict[str, Any]:
    data = json.loads(QUERIES.read_text(encoding="utf-8"))
    queries = data["queries"]
    return {
        "benchmark": "kb_search",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
        "queries": len(queries),
        "target_p99_ms": TARGET_P99_MS,
        "sqlite": await _sqlite(queries),
        "postgresql": await _postgres(queries),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-queries", action="store_true")
    args, _ = parser.parse_known_args()
    if args.write_queries:
        write_queries()
        print(f"wrote {QUERIES}")
        return
    result = asyncio.run(run())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
