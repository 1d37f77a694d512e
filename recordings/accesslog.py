"""The access log: who listened to, downloaded or searched recordings — append-only, chained.

Invariants:
- Every attempt is logged, granted or denied, with who, role, from where, when, which call
  and the stated reason. Entries are hash-chained (``recordings.chain``) so an edited,
  deleted, inserted or reordered entry is detected by ``verify``.
- The module offers no update; entries older than the retention (never less than two
  years) are pruned only by ``prune``, which leaves a prune link naming the last removed
  entry and its hash, so ``verify`` still proves the remaining chain and any other gap.
- Times are stored as canonical ISO text in UTC, so a month is a text range.
"""

from __future__ import annotations

import enum
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.alarms import Clock, utc_now
from common.principal import Principal
from common.storage import Storage
from recordings import chainstore
from recordings.chain import BreakKind, ChainBreak, verify
from recordings.models import AccessLogRow

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_ACCESS, _PRUNE = "access", "prune"


class AccessAction(enum.StrEnum):
    LISTEN = "listen"
    DOWNLOAD = "download"
    SEARCH = "search"
    REPORT = "report"
    HISTORY = "history"  # a caller's earlier calls and notes (knowledge.history)


class AccessOutcome(enum.StrEnum):
    GRANTED = "granted"
    DENIED = "denied"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class AccessEntry:
    at: str
    user_id: str
    role: str
    origin: str
    action: AccessAction
    outcome: AccessOutcome
    reason: str
    call_id: str | None = None
    recording_id: int | None = None
    detail: str = ""
    seq: int | None = None

    def content(self) -> dict[str, object]:
        return {
            "user_id": self.user_id,
            "role": self.role,
            "origin": self.origin,
            "action": self.action.value,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "call_id": self.call_id,
            "recording_id": self.recording_id,
            "detail": self.detail,
        }

    def as_json(self) -> dict[str, object]:
        return {"seq": self.seq, "at": self.at, **self.content()}


def month_range(month: str) -> tuple[str, str]:
    """[start, end) ISO text bounds of a 'YYYY-MM' month."""
    match = _MONTH.match(month)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"month must look like 2026-11, not {month!r}")
    year, number = int(match.group(1)), int(match.group(2))
    following = f"{year + 1:04d}-01" if number == 12 else f"{year:04d}-{number + 1:02d}"
    return f"{year:04d}-{number:02d}", following


@dataclass
class AccessReport:
    month: str
    entries: list[AccessEntry] = field(default_factory=list)
    chain_breaks: list[ChainBreak] = field(default_factory=list)

    @property
    def by_user(self) -> dict[str, int]:
        return dict(Counter(e.user_id for e in self.entries))

    @property
    def by_action(self) -> dict[str, int]:
        return dict(Counter(e.action.value for e in self.entries))

    @property
    def denied(self) -> int:
        return sum(1 for e in self.entries if e.outcome is not AccessOutcome.GRANTED)

    def as_json(self) -> dict[str, object]:
        return {
            "month": self.month,
            "total": len(self.entries),
            "denied": self.denied,
            "by_user": self.by_user,
            "by_action": self.by_action,
            "chain_intact": not self.chain_breaks,
            "chain_breaks": [
                {"seq": b.seq, "kind": b.kind.value, "detail": b.detail} for b in self.chain_breaks
            ],
            "entries": [e.as_json() for e in self.entries],
        }


def _entry(row: AccessLogRow) -> AccessEntry:
    link = chainstore.to_link(row)
    c = link.content
    recording_id = c.get("recording_id")
    return AccessEntry(
        at=row.at,
        user_id=str(c.get("user_id", "")),
        role=str(c.get("role", "")),
        origin=str(c.get("origin", "")),
        action=AccessAction(str(c.get("action"))),
        outcome=AccessOutcome(str(c.get("outcome"))),
        reason=str(c.get("reason", "")),
        call_id=c.get("call_id") if isinstance(c.get("call_id"), str) else None,
        recording_id=recording_id if isinstance(recording_id, int) else None,
        detail=str(c.get("detail", "")),
        seq=row.seq,
    )


class AccessLog:
    def __init__(self, storage: Storage, clock: Clock = utc_now) -> None:
        self._storage = storage
        self._clock = clock

    async def record(
        self,
        principal: Principal,
        action: AccessAction,
        outcome: AccessOutcome,
        reason: str,
        *,
        call_id: str | None = None,
        recording_id: int | None = None,
        detail: str = "",
    ) -> AccessEntry:
        at: datetime = self._clock()
        entry = AccessEntry(
            chainstore.iso(at),
            principal.user_id,
            principal.role.value,
            principal.origin,
            action,
            outcome,
            reason,
            call_id,
            recording_id,
            detail,
        )

        async def work(session: AsyncSession) -> AccessEntry:
            link = await chainstore.append(
                session,
                AccessLogRow,
                at,
                _ACCESS,
                entry.content(),
                user_id=principal.user_id,
                call_id=call_id,
            )
            return replace(entry, seq=link.seq)

        return await chainstore.write_retrying(self._storage, work)

    async def month(self, month: str) -> list[AccessEntry]:
        start, end = month_range(month)
        async with self._storage.session() as session:
            rows = await session.scalars(
                select(AccessLogRow)
                .where(
                    AccessLogRow.kind == _ACCESS,
                    AccessLogRow.at >= start,
                    AccessLogRow.at < end,
                )
                .order_by(AccessLogRow.seq)
            )
            return [_entry(r) for r in rows]

    async def verify(self) -> list[ChainBreak]:
        """Breaks in the chain; a pruned prefix is accepted only as its prune link states."""
        async with self._storage.session() as session:
            links = await chainstore.load(session, AccessLogRow)
        if not links or links[0].seq == 1:
            return verify(links)
        prunes = [link for link in links if link.kind == _PRUNE]
        anchor = prunes[-1].content if prunes else {}
        if anchor.get("through_seq") != links[0].seq - 1:
            missing = ChainBreak(
                links[0].seq, BreakKind.SEQUENCE_GAP, "entries before it are missing"
            )
            return [missing, *verify(links, start_prev=links[0].prev_hash, start_seq=links[0].seq)]
        return verify(links, start_prev=str(anchor.get("through_hash")), start_seq=links[0].seq)

    async def prune(self, before: datetime) -> int:
        """Delete entries older than ``before`` (never the newest), proven by a prune link."""

        async def work(session: AsyncSession) -> int:
            head = await chainstore.head(session, AccessLogRow)
            last = await session.scalar(
                select(func.max(AccessLogRow.seq)).where(AccessLogRow.at < chainstore.iso(before))
            )
            if head is None or last is None:
                return 0
            last = min(last, head.seq - 1)  # the newest entry always stays
            through = await session.get(AccessLogRow, last)
            if through is None:  # a concurrent prune got there first
                return 0
            removed = await session.execute(delete(AccessLogRow).where(AccessLogRow.seq <= last))
            content = {
                "through_seq": last,
                "through_hash": through.hash,
                "before": chainstore.iso(before),
                "removed": removed.rowcount,  # type: ignore[attr-defined]
            }
            await chainstore.append(
                session, AccessLogRow, self._clock(), _PRUNE, content, user_id="system"
            )
            return int(content["removed"])

        return await chainstore.write_retrying(self._storage, work)

    async def report(self, month: str) -> AccessReport:
        return AccessReport(month, await self.month(month), await self.verify())
