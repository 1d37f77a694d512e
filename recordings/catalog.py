"""The recordings catalog: one row per recording file, every change proven in the chain.

Invariants:
- Every insert or update of a recording row appends a catalog-chain link, in the same
  transaction, whose content is the row's full canonical content after the change; so the
  latest link for a recording always equals its row, and ``catalog_problems`` finds rows
  edited, deleted or inserted behind the catalog's back.
- Rows are never deleted: a purge turns the row into the proof of deletion.
- ``add`` is idempotent per file (root, relative path): cataloging twice returns the first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from common.alarms import Clock, utc_now
from common.storage import Storage
from recordings import chainstore
from recordings.chain import Link, verify
from recordings.models import CatalogLinkRow, RecordingRow, RecordingState


@dataclass(frozen=True, slots=True)
class Recording:
    id: int
    uniqueid: str
    call_id: str | None
    root: str
    rel_path: str
    format: str
    sample_rate: int
    size_bytes: int
    duration_ms: int
    sha256: str
    started_at: datetime
    closed_at: datetime
    state: RecordingState
    archive_format: str | None
    archive_rel_path: str | None
    archive_sha256: str | None
    archive_duration_ms: int | None
    stored_size_bytes: int | None
    stored_sha256: str | None
    encrypted: bool
    key_id: str | None
    purged_at: datetime | None

    @classmethod
    def from_row(cls, row: RecordingRow) -> Recording:
        values = {f.name: getattr(row, f.name) for f in fields(cls)}
        values["state"] = RecordingState(row.state)
        values["encrypted"] = bool(row.encrypted)
        return cls(**values)

    def content(self) -> dict[str, Any]:
        """Canonical content, as chained (times as ISO text, the state as its value)."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if isinstance(value, datetime):
                out[key] = chainstore.iso(value)
            else:
                out[key] = value.value if isinstance(value, RecordingState) else value
        return out

    @property
    def stored_rel_path(self) -> str:
        """The file that holds the audio now (the archive once archived)."""
        return self.archive_rel_path if self.archive_rel_path else self.rel_path


@dataclass(frozen=True, slots=True)
class NewRecording:
    uniqueid: str
    call_id: str | None
    root: str
    rel_path: str
    format: str
    sample_rate: int
    size_bytes: int
    duration_ms: int
    sha256: str
    started_at: datetime


@dataclass(frozen=True, slots=True)
class ArchiveFacts:
    archive_format: str
    archive_rel_path: str
    archive_sha256: str
    archive_duration_ms: int
    stored_size_bytes: int
    stored_sha256: str
    encrypted: bool
    key_id: str | None


class UnknownRecording(LookupError):
    """No recording with that id in the catalog."""


class Catalog:
    def __init__(self, storage: Storage, clock: Clock = utc_now) -> None:
        self._storage = storage
        self._clock = clock

    async def add(self, new: NewRecording) -> Recording:
        async def work(session: AsyncSession) -> Recording:
            existing = await session.scalar(
                select(RecordingRow).where(
                    RecordingRow.root == new.root, RecordingRow.rel_path == new.rel_path
                )
            )
            if existing is not None:
                return Recording.from_row(existing)
            row = RecordingRow(
                **asdict(new),
                closed_at=self._clock(),
                state=RecordingState.CATALOGED.value,
                encrypted=False,
            )
            session.add(row)
            await session.flush()
            return await self._prove(session, row, "cataloged")

        return await chainstore.write_retrying(self._storage, work)

    async def archived(self, recording_id: int, facts: ArchiveFacts) -> Recording:
        async def work(session: AsyncSession) -> Recording:
            row = await self._row(session, recording_id)
            for key, value in asdict(facts).items():
                setattr(row, key, value)
            row.state = RecordingState.ARCHIVED.value
            return await self._prove(session, row, "archived")

        return await chainstore.write_retrying(self._storage, work)

    async def purged(self, recording_id: int, proof: Mapping[str, Any]) -> Recording:
        """Mark a recording purged; ``proof`` (policy, files deleted) joins the chain link."""

        async def work(session: AsyncSession) -> Recording:
            row = await self._row(session, recording_id)
            row.state = RecordingState.PURGED.value
            row.purged_at = self._clock()
            return await self._prove(session, row, "purged", proof)

        return await chainstore.write_retrying(self._storage, work)

    async def _row(self, session: AsyncSession, recording_id: int) -> RecordingRow:
        row = await session.get(RecordingRow, recording_id)
        if row is None:
            raise UnknownRecording(f"no recording #{recording_id}")
        return row

    async def _prove(
        self,
        session: AsyncSession,
        row: RecordingRow,
        kind: str,
        extra: Mapping[str, Any] | None = None,
    ) -> Recording:
        await session.flush()
        recording = Recording.from_row(row)
        content = {"recording": recording.content(), **(extra or {})}
        await chainstore.append(
            session, CatalogLinkRow, self._clock(), kind, content, recording_id=recording.id
        )
        return recording

    # Reading --------------------------------------------------------------------------
    async def get(self, recording_id: int) -> Recording:
        async with self._storage.session() as session:
            return Recording.from_row(await self._row(session, recording_id))

    async def find(
        self,
        *,
        uniqueid: str | None = None,
        call_id: str | None = None,
        states: Sequence[RecordingState] | None = None,
        started_before: datetime | None = None,
        limit: int | None = None,
    ) -> list[Recording]:
        query = select(RecordingRow).order_by(RecordingRow.id)
        if uniqueid is not None:
            query = query.where(RecordingRow.uniqueid == uniqueid)
        if call_id is not None:
            query = query.where(RecordingRow.call_id == call_id)
        if states is not None:
            query = query.where(RecordingRow.state.in_([s.value for s in states]))
        if started_before is not None:
            query = query.where(RecordingRow.started_at < started_before)
        if limit is not None:
            query = query.limit(limit)
        async with self._storage.session() as session:
            return [Recording.from_row(r) for r in await session.scalars(query)]

    async def for_calls(self, call_ids: Sequence[str], uniqueids: Sequence[str]) -> list[Recording]:
        """Recordings linked to any of these calls (by call id or by the channel uniqueid)."""
        found: dict[int, Recording] = {}
        async with self._storage.session() as session:
            for column, values in (
                (RecordingRow.call_id, call_ids),
                (RecordingRow.uniqueid, uniqueids),
            ):
                wanted = sorted(set(values))
                for start in range(0, len(wanted), 1000):
                    rows = await session.scalars(
                        select(RecordingRow).where(column.in_(wanted[start : start + 1000]))
                    )
                    found.update({r.id: Recording.from_row(r) for r in rows})
        return sorted(found.values(), key=lambda r: r.id)

    async def links(self) -> list[Link]:
        async with self._storage.session() as session:
            return await chainstore.load(session, CatalogLinkRow)


@dataclass(frozen=True, slots=True)
class CatalogProblem:
    kind: str  # chain-<break> | row-edited | row-deleted | row-unproven
    recording_id: int | None
    detail: str


def catalog_problems(
    recordings: Sequence[Recording], links: Sequence[Link]
) -> list[CatalogProblem]:
    """Breaks in the chain and rows that disagree with what the chain proves."""
    problems = [
        CatalogProblem(f"chain-{b.kind.value}", None, f"catalog chain link #{b.seq}: {b.detail}")
        for b in verify(links)
    ]
    latest: dict[int, Mapping[str, Any]] = {}
    for link in links:
        recording = link.content.get("recording")
        if isinstance(recording, Mapping) and isinstance(recording.get("id"), int):
            latest[recording["id"]] = recording
    rows = {r.id: r for r in recordings}
    for recording_id, proven in latest.items():
        row = rows.get(recording_id)
        if row is None:
            problems.append(
                CatalogProblem(
                    "row-deleted",
                    recording_id,
                    f"recording #{recording_id} "
                    f"({proven.get('rel_path')}) is in the chain but not in the catalog",
                )
            )
        elif row.content() != dict(proven):
            changed = sorted(k for k, v in row.content().items() if proven.get(k) != v)
            problems.append(
                CatalogProblem(
                    "row-edited",
                    recording_id,
                    f"recording #{recording_id} differs from its proof: {', '.join(changed)}",
                )
            )
    for recording_id in rows.keys() - latest.keys():
        problems.append(
            CatalogProblem(
                "row-unproven",
                recording_id,
                f"recording #{recording_id} is not in the catalog chain",
            )
        )
    return problems
