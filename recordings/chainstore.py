"""Persisting hash-chain links (catalog chain and access log) with safe concurrent appends.

Invariants:
- A link is appended in the same transaction as the change it proves; if either fails,
  neither is stored.
- Two writers racing for the same sequence number cannot fork the chain: appenders are
  serialized (a per-chain advisory transaction lock on PostgreSQL, the write lock taken by
  BEGIN IMMEDIATE on SQLite), and should anything slip through, the primary key on ``seq``
  rejects the loser, whose whole transaction is retried from the new head.
- Links are never updated or deleted through this module (append-only).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from common.storage import Storage
from recordings.chain import Link, next_link
from recordings.models import AccessLogRow, CatalogLinkRow

T = TypeVar("T")
LinkModel = type[CatalogLinkRow] | type[AccessLogRow]
_ATTEMPTS = 8
# Advisory lock ids (PostgreSQL) serializing appends to each chain across processes.
_LOCK_IDS = {"catalog_chain": 120_120_1, "access_log": 120_120_2}


def iso(at: datetime) -> str:
    """The canonical text of a time in chained content (aware UTC, microseconds)."""
    if at.tzinfo is None:
        raise ValueError("naive datetime in chained content")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


async def write_retrying(storage: Storage, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in a write transaction, retrying when a concurrent append won the race."""
    for attempt in range(_ATTEMPTS):
        try:
            async with storage.write() as session:
                return await work(session)
        except (IntegrityError, OperationalError) as exc:
            if attempt == _ATTEMPTS - 1 or not _is_race(exc):
                raise
            await asyncio.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


def _is_race(exc: Exception) -> bool:
    text = str(exc).lower()
    return isinstance(exc, IntegrityError) or "locked" in text or "busy" in text


async def head(session: AsyncSession, model: LinkModel) -> Link | None:
    last = await session.scalar(select(func.max(model.seq)))
    if last is None:
        return None
    row: CatalogLinkRow | AccessLogRow | None = await session.get(model, last)
    return None if row is None else to_link(row)


def to_link(row: CatalogLinkRow | AccessLogRow) -> Link:
    return Link(row.seq, row.at, row.kind, json.loads(row.content), row.prev_hash, row.hash)


async def append(
    session: AsyncSession,
    model: LinkModel,
    at: datetime,
    kind: str,
    content: Mapping[str, Any],
    **columns: Any,
) -> Link:
    """Append one link after the current head (inside the caller's write transaction)."""
    if (await session.connection()).dialect.name == "postgresql":
        lock = _LOCK_IDS[model.__tablename__]
        await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock})
    link = next_link(await head(session, model), iso(at), kind, content)
    body = json.dumps(dict(content), sort_keys=True, ensure_ascii=False)
    session.add(
        model(
            seq=link.seq,
            at=link.at,
            kind=link.kind,
            content=body,
            prev_hash=link.prev_hash,
            hash=link.hash,
            **columns,
        )
    )
    await session.flush()
    return link


async def load(session: AsyncSession, model: LinkModel) -> list[Link]:
    rows: list[CatalogLinkRow | AccessLogRow] = list(
        await session.scalars(select(model).order_by(model.seq))
    )
    return [to_link(r) for r in rows]
