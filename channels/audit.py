"""What the recordings audit needs to know about conversations (read-only, no keys).

Invariants:
- Every conversation is a known "call" to the audit (its transcript is no orphan); an ended
  one must have exactly one transcript of its duration, like a finished call its recording.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from channels.models import ConversationRow
from common.storage import Storage


@dataclass(frozen=True, slots=True)
class ConversationFacts:
    id: str
    duration_ms: int | None  # None while the conversation is open


async def conversation_facts(
    storage: Storage, since: datetime | None = None
) -> list[ConversationFacts]:
    """Chat and SMS conversations started at or after ``since`` (all when None), like the
    calls and recordings an audit window holds."""
    query = select(ConversationRow.id, ConversationRow.started_at, ConversationRow.ended_at)
    if since is not None:
        query = query.where(ConversationRow.started_at >= since)
    async with storage.session() as session:
        rows = await session.execute(query)
        out = []
        for cid, started, ended in rows:
            duration = (
                None if ended is None else max(0, round((ended - started).total_seconds() * 1000))
            )
            out.append(ConversationFacts(cid, duration))
        return out
