"""``dasan recordings audit``: prove every call was recorded, completely and untampered.

Compares the calls Asterisk handled (CDR CSV) and our call log with the catalog and the
files in both spools (see ``recordings.reconcile`` for the rules), verifies each stored
file's SHA-256 (decrypting sealed archives with the master key when it is available) and
both hash chains. Needs the database and the files only — no running engine.

Invariants:
- The audit only reads: it never repairs, creates keys, or writes to the database.
- Every problem becomes one ``Gap`` with a subject and a readable detail; ``ok`` is true
  only when there is none.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from channels.audit import conversation_facts
from common.storage import Storage
from recordings.accesslog import AccessLog
from recordings.calllog import CallLog, CallRecord
from recordings.catalog import Catalog, Recording, catalog_problems
from recordings.cdr import CdrCall, citizen_calls, read_cdr
from recordings.cel import read_cel, refine
from recordings.chain import Link
from recordings.crypto import DecryptionError
from recordings.keys import KeyFileError, KeyRing, WrongKeyError, load_key_ring
from recordings.layout import FoundFile, Roots, cdr_files, cel_files, key_file, scan
from recordings.models import RecordingState
from recordings.reconcile import (
    FinishedCall,
    Gap,
    GapKind,
    check_calls,
    check_files,
    check_recordings,
    finished_calls,
    since_filter,
)
from recordings.settings import RecordingsHost
from recordings.stored import StoredFile, StoredMismatch, check_stored, plain_chunks, stored_file


@dataclass
class AuditReport:
    gaps: list[Gap] = field(default_factory=list)
    calls_checked: int = 0
    recordings_checked: int = 0
    files_seen: int = 0
    hashes_verified: int = 0
    in_progress: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.gaps

    def as_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "calls_checked": self.calls_checked,
            "recordings_checked": self.recordings_checked,
            "files_seen": self.files_seen,
            "hashes_verified": self.hashes_verified,
            "in_progress": self.in_progress,
            "notes": self.notes,
            "gaps": [g.as_json() for g in self.gaps],
        }


def _verify_one(roots: Roots, rec: Recording, ring: KeyRing | None) -> Gap | None:
    subject = f"recording #{rec.id} ({rec.uniqueid})"
    stored = stored_file(roots, rec)
    try:
        problem = _content_problem(rec, stored, ring)
    except FileNotFoundError:
        return None  # reported as file-missing
    except StoredMismatch as exc:
        return Gap(GapKind.HASH_MISMATCH, subject, str(exc))
    except (DecryptionError, WrongKeyError, OSError) as exc:
        return Gap(GapKind.UNREADABLE, subject, f"{stored.path}: {exc}")
    return None if problem is None else Gap(problem[0], subject, problem[1])


def _content_problem(
    rec: Recording, stored: StoredFile, ring: KeyRing | None
) -> tuple[GapKind, str] | None:
    check_stored(stored)
    if not stored.encrypted:
        return None
    if ring is None:
        return GapKind.UNREADABLE, "sealed, and no master key to verify its content"
    digest = hashlib.sha256()
    for block in plain_chunks(stored, ring, rec.uniqueid):
        digest.update(block)
    if digest.hexdigest() != rec.archive_sha256:
        return GapKind.HASH_MISMATCH, "decrypted archive differs from the catalog"
    return None


def _load_ring(settings: RecordingsHost, report: AuditReport) -> KeyRing | None:
    try:
        return load_key_ring(key_file(settings))
    except KeyFileError as exc:
        report.notes.append(f"master key not loaded: {exc}")
        return None


@dataclass
class _Facts:
    """Everything the audit compares, read once."""

    calls: list[CallRecord]
    cdr: dict[str, CdrCall]
    everything: list[Recording]
    recordings: list[Recording]
    links: list[Link]
    files: list[FoundFile]  # on disk after the catalog was read (in the window)
    settled: list[FoundFile]  # of those, the ones already there before it was read


async def _gather(
    settings: RecordingsHost, storage: Storage, since: datetime | None, report: AuditReport
) -> _Facts:
    cfg = settings.recordings
    # The disk is read before and after what explains it (catalog, call log, CDR), because the
    # pipeline keeps working meanwhile: a file is judged only if it was there both times (so
    # its catalog row, call and CDR line were written before they were read), and a recording
    # is missing its file only if the second look does not find it either.
    before = await asyncio.to_thread(_scan, settings)
    cdr_parsed = await asyncio.to_thread(read_cdr, *cdr_files(settings))
    if cdr_parsed.skipped:
        report.notes.append(f"{cdr_parsed.skipped} CDR lines could not be used")
    rows = citizen_calls(cdr_parsed.rows, cfg.cdr_numbers, cfg.cdr_contexts, cfg.cdr_userfields)
    if cfg.cdr_csv is None:  # our PBX: its channel events give each call's exact ends
        cel_parsed = await asyncio.to_thread(read_cel, *cel_files(settings))
        if cel_parsed.skipped:
            report.notes.append(f"{cel_parsed.skipped} CEL lines could not be used")
        rows = refine(rows, cel_parsed)
    async with storage.snapshot() as snapshot:  # rows written together are read together
        catalog = Catalog(snapshot)
        everything = await catalog.find()
        calls = await CallLog(snapshot, None).all(since)
        links = await catalog.links()
    after = await asyncio.to_thread(_scan, settings)
    in_window = [f for f in after if since is None or f.mtime >= since.timestamp()]
    seen_before = {_file_id(f) for f in before}
    return _Facts(
        calls=calls,
        # CDR times have whole seconds: compare at that resolution.
        cdr={u: c for u, c in rows.items() if since_filter(c.answer, _whole_second(since))},
        everything=everything,
        recordings=[r for r in everything if since_filter(r.started_at, since)],
        links=links,
        files=in_window,
        settled=[f for f in in_window if _file_id(f) in seen_before],
    )


def _scan(settings: RecordingsHost) -> list[FoundFile]:
    return list(scan(Roots.of(settings)))


def _file_id(found: FoundFile) -> tuple[str, str]:
    return found.root.value, found.rel_path


async def audit_storage(
    settings: RecordingsHost,
    storage: Storage,
    *,
    ring: KeyRing | None = None,
    verify_hashes: bool = True,
    since: datetime | None = None,
    wall: Callable[[], float] = time.time,
) -> AuditReport:
    """Audit with an open storage (the engine's, a test's); see the module docstring."""
    report = AuditReport()
    cfg = settings.recordings
    facts = await _gather(settings, storage, since, report)
    finished, in_progress = finished_calls(facts.calls, facts.cdr, cfg)
    known = {c.uniqueid for c in facts.calls} | set(facts.cdr)
    # Chat and SMS conversations: their sealed transcript is their recording.
    for conv in await conversation_facts(storage, since):
        known.add(conv.id)
        if conv.duration_ms is None:
            in_progress.append(conv.id)
        else:
            finished[conv.id] = FinishedCall(conv.id, conv.id, conv.duration_ms, 1000, "chat/sms")
    report.gaps += [
        Gap(
            GapKind.CATALOG_TAMPERED,
            f"recording #{p.recording_id}" if p.recording_id else "chain",
            f"{p.kind}: {p.detail}",
        )
        for p in catalog_problems(facts.everything, facts.links)
    ]
    # A file is owned by any catalog row, not only by those in the window: an older call's
    # recording archived late (a restarted engine recovering the spool) is no orphan.
    file_gaps, uncataloged, live = check_files(
        facts.settled, facts.everything, finished, known, now=wall(), cfg=cfg
    )
    by_uniqueid: dict[str, list[Recording]] = {}
    for rec in facts.recordings:
        by_uniqueid.setdefault(rec.uniqueid, []).append(rec)
    report.gaps += check_calls(finished, by_uniqueid, uncataloged, cfg) + file_gaps
    present = {(f.root.value, f.rel_path) for f in facts.files}
    report.gaps += check_recordings(facts.recordings, present, finished, known)
    if verify_hashes:
        roots = Roots.of(settings)
        report.hashes_verified, hash_gaps = await _verify_all(
            roots, facts.recordings, ring, present
        )
        report.gaps += hash_gaps
    report.gaps += [
        Gap(GapKind.ACCESS_LOG_TAMPERED, f"access log #{b.seq}", f"{b.kind.value}: {b.detail}")
        for b in await AccessLog(storage).verify()
    ]
    report.calls_checked, report.recordings_checked = len(finished), len(facts.recordings)
    report.files_seen = len(facts.files)
    report.in_progress = sorted(set(in_progress) | set(live))
    return report


async def _verify_all(
    roots: Roots, recordings: list[Recording], ring: KeyRing | None, present: set[tuple[str, str]]
) -> tuple[int, list[Gap]]:
    todo = [
        r
        for r in recordings
        if r.state is not RecordingState.PURGED
        and (r.root, r.archive_rel_path or r.rel_path) in present
    ]

    def run() -> list[Gap | None]:
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            return list(pool.map(lambda r: _verify_one(roots, r, ring), todo))

    results = await asyncio.to_thread(run)
    return len(todo), [g for g in results if g is not None]


async def audit_async(
    settings: RecordingsHost, *, verify_hashes: bool = True, since: datetime | None = None
) -> AuditReport:
    """Open the configured database and key file, audit, close."""
    storage = await Storage.open(settings.storage_url)
    try:
        probe = AuditReport()
        ring = _load_ring(settings, probe)
        report = await audit_storage(
            settings, storage, ring=ring, verify_hashes=verify_hashes, since=since
        )
        report.notes = probe.notes + report.notes
        return report
    finally:
        await storage.close()


def audit(
    settings: RecordingsHost, *, verify_hashes: bool = True, since: datetime | None = None
) -> AuditReport:
    """Blocking audit; safe to call from inside a running event loop (uses a thread)."""

    def run() -> AuditReport:
        return asyncio.run(audit_async(settings, verify_hashes=verify_hashes, since=since))

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


__all__ = ["AuditReport", "Gap", "GapKind", "audit", "audit_async", "audit_storage"]


def _whole_second(at: datetime | None) -> datetime | None:
    return at.replace(microsecond=0) if at is not None else None
