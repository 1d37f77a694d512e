"""Retention: recordings are kept for their service's period, then deleted with proof.

Invariants:
- A recording expires ``days`` after it started, where ``days`` is its call's service's
  period or the default (3 years); unknown services and calls use the default.
- A purge first records the proof (a catalog-chain link with the policy applied and the
  files with their hashes), then deletes the files and the transcript. A crash in between
  leaves a purged row whose file still exists; the next purge deletes it. So a file never
  disappears without proof, and a proof never stays without the deletion being retried.
- ``dry_run`` changes nothing and reports exactly what a real run would delete.
- Access-log entries are pruned only past their own retention (never under two years).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete

from common.storage import Storage
from recordings.accesslog import AccessLog
from recordings.calllog import CallLog
from recordings.catalog import Catalog, Recording
from recordings.chainstore import iso
from recordings.layout import Roots
from recordings.models import RecordingState, TranscriptRow
from recordings.settings import RecordingsSettings


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    default_days: int
    per_service: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, cfg: RecordingsSettings) -> RetentionPolicy:
        return cls(cfg.retention_default_days, dict(cfg.retention_days))

    def days_for(self, service: str | None) -> int:
        if service is not None and service in self.per_service:
            return self.per_service[service]
        return self.default_days

    def expires_at(self, service: str | None, started_at: datetime) -> datetime:
        return started_at + timedelta(days=self.days_for(service))

    @property
    def shortest_days(self) -> int:
        return min([self.default_days, *self.per_service.values()])


@dataclass(frozen=True, slots=True)
class PurgeItem:
    recording_id: int
    call_id: str | None
    uniqueid: str
    service: str | None
    started_at: datetime
    expired_at: datetime
    retention_days: int
    files: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "recording_id": self.recording_id,
            "call_id": self.call_id,
            "uniqueid": self.uniqueid,
            "service": self.service,
            "started_at": iso(self.started_at),
            "expired_at": iso(self.expired_at),
            "retention_days": self.retention_days,
            "files": list(self.files),
        }


@dataclass
class PurgeResult:
    dry_run: bool
    purged: list[PurgeItem] = field(default_factory=list)
    leftovers_removed: list[str] = field(default_factory=list)
    access_entries_pruned: int = 0


def _files(recording: Recording) -> list[tuple[str, str | None]]:
    """(relative path, expected sha256) of every file that may hold the recording."""
    files: list[tuple[str, str | None]] = [(recording.rel_path, recording.sha256)]
    if recording.archive_rel_path and recording.archive_rel_path != recording.rel_path:
        files.append((recording.archive_rel_path, recording.stored_sha256))
    return files


def _delete_existing(roots: Roots, recording: Recording) -> list[str]:
    removed = []
    for rel, _sha in _files(recording):
        path: Path = roots.absolute(recording.root, rel)
        if path.exists():
            path.unlink()
            removed.append(rel)
    return removed


class Retention:
    def __init__(
        self,
        storage: Storage,
        catalog: Catalog,
        calls: CallLog,
        roots: Roots,
        policy: RetentionPolicy,
        *,
        access_log: AccessLog | None = None,
        access_log_days: int = 2 * 365 + 1,
    ) -> None:
        self._storage, self._catalog, self._calls = storage, catalog, calls
        self._roots, self._policy = roots, policy
        self._access_log, self._access_log_days = access_log, max(access_log_days, 2 * 365)

    async def expired(self, now: datetime) -> list[PurgeItem]:
        horizon = now - timedelta(days=self._policy.shortest_days)
        candidates = await self._catalog.find(
            states=[RecordingState.CATALOGED, RecordingState.ARCHIVED], started_before=horizon
        )
        services = await self._calls.services([r.call_id for r in candidates if r.call_id])
        items = []
        for rec in candidates:
            service = services.get(rec.call_id) if rec.call_id else None
            expires = self._policy.expires_at(service, rec.started_at)
            if expires <= now:
                items.append(
                    PurgeItem(
                        rec.id,
                        rec.call_id,
                        rec.uniqueid,
                        service,
                        rec.started_at,
                        expires,
                        self._policy.days_for(service),
                        tuple(rel for rel, _ in _files(rec)),
                    )
                )
        return items

    async def purge(self, now: datetime, *, dry_run: bool = False) -> PurgeResult:
        result = PurgeResult(dry_run=dry_run)
        result.purged = await self.expired(now)
        if dry_run:
            return result
        for item in result.purged:
            recording = await self._catalog.get(item.recording_id)
            proof = {
                "reason": "retention",
                "retention_days": item.retention_days,
                "service": item.service,
                "expired_at": iso(item.expired_at),
                "deleted": [{"path": rel, "sha256": sha} for rel, sha in _files(recording)],
            }
            purged = await self._catalog.purged(item.recording_id, proof)
            await asyncio.to_thread(_delete_existing, self._roots, purged)
            await self._drop_transcript(item.recording_id)
        for leftover in await self._catalog.find(states=[RecordingState.PURGED]):
            removed = await asyncio.to_thread(_delete_existing, self._roots, leftover)
            result.leftovers_removed.extend(removed)
        if self._access_log is not None:
            horizon = now - timedelta(days=self._access_log_days)
            result.access_entries_pruned = await self._access_log.prune(horizon)
        return result

    async def _drop_transcript(self, recording_id: int) -> None:
        async with self._storage.write() as session:
            await session.execute(
                delete(TranscriptRow).where(TranscriptRow.recording_id == recording_id)
            )
