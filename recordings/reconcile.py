"""Reconciliation rules for the audit: calls vs catalog vs files (pure, no I/O).

Invariants:
- Every finished call (our call log's ended calls, plus answered CDR calls into the center)
  has its non-empty recording: one file, or the parts of one timeline when the recording
  moved to the spare disk during the call (their durations add up; more than the call is a
  call recorded twice); the duration matches the call's within the
  tolerance (1 % or the slack for the source's timestamp resolution, plus a short
  allowance per key the caller pressed in the IVR: an RFC 2833 key interrupts the audio).
- Every file in the spools belongs to a cataloged recording (the WAV before archival or
  the archive after) or to a call still in progress; anything else is a gap: uncataloged
  (its call is known and over) or orphan (no call knows it).
- Every cataloged recording that is not purged has its file; a purged one has none.
- Hash checks are done by the caller (they need the disk and the key) and passed in.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from recordings.calllog import CallRecord
from recordings.catalog import Recording
from recordings.cdr import CdrCall
from recordings.layout import FoundFile
from recordings.models import RecordingState
from recordings.settings import RecordingsSettings


class GapKind(enum.StrEnum):
    CALL_WITHOUT_RECORDING = "call-without-recording"
    SEVERAL_RECORDINGS = "several-recordings"
    DURATION_MISMATCH = "duration-mismatch"
    FILE_MISSING = "file-missing"
    HASH_MISMATCH = "hash-mismatch"
    UNREADABLE = "unreadable"
    UNCATALOGED_FILE = "uncataloged-file"
    ORPHAN_FILE = "orphan-file"
    ORPHAN_RECORDING = "orphan-recording"
    PLAINTEXT_LEFT = "plaintext-left"
    PURGED_FILE_PRESENT = "purged-file-present"
    CATALOG_TAMPERED = "catalog-tampered"
    ACCESS_LOG_TAMPERED = "access-log-tampered"


@dataclass(frozen=True, slots=True)
class Gap:
    kind: GapKind
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.subject}: {self.detail}"

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind.value, "subject": self.subject, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class FinishedCall:
    """A call known to be over, from our log or from the PBX's CDR."""

    uniqueid: str
    call_id: str | None
    duration_ms: int
    slack_ms: int
    source: str  # "cel" | "call-log" | "cdr"


def keys_pressed(journey: object) -> int:
    """Keys the caller pressed in the IVR, from the journey the call log keeps."""
    entries = journey.get("entries") if isinstance(journey, dict) else None
    if not isinstance(entries, list):
        return 0
    return sum(
        len(str(e.get("value") or ""))
        for e in entries
        if isinstance(e, dict) and e.get("event") in ("digits", "invalid")
    )


def finished_calls(
    log: Iterable[CallRecord], cdr: Mapping[str, CdrCall], cfg: RecordingsSettings
) -> tuple[dict[str, FinishedCall], list[str]]:
    """Finished calls by uniqueid, and uniqueids in progress. A call's length comes from the
    PBX's channel events (CEL, ``precise`` CDR calls) where they have it, else from the call
    log (the engine's view), else from the CDR's own stamps."""
    finished: dict[str, FinishedCall] = {}
    in_progress: list[str] = []
    for call in log:
        if call.ended_at is not None and call.duration_ms is not None:
            slack = round(
                (cfg.duration_slack_s + keys_pressed(call.journey) * cfg.dtmf_key_gap_s) * 1000
            )
            finished[call.uniqueid] = FinishedCall(
                call.uniqueid, call.id, call.duration_ms, slack, "call-log"
            )
        elif call.uniqueid not in cdr:
            in_progress.append(call.uniqueid)
    ids = {c.uniqueid: c.id for c in log}
    journeys = {c.uniqueid: c.journey for c in log}
    for uniqueid, row in cdr.items():
        if row.precise:
            # The PBX's own answer and hang-up events: finer than the engine's view of them.
            keys = keys_pressed(journeys.get(uniqueid))
            slack = round((cfg.duration_slack_s + keys * cfg.dtmf_key_gap_s) * 1000)
            finished[uniqueid] = FinishedCall(
                uniqueid, ids.get(uniqueid), row.duration_ms, slack, "cel"
            )
        elif uniqueid not in finished:
            slack = round(cfg.cdr_duration_slack_s * 1000)
            finished[uniqueid] = FinishedCall(
                uniqueid, ids.get(uniqueid), row.duration_ms, slack, "cdr"
            )
    in_progress = [u for u in in_progress if u not in finished]
    return finished, in_progress


def check_calls(
    finished: Mapping[str, FinishedCall],
    by_uniqueid: Mapping[str, Sequence[Recording]],
    uncataloged: set[str],
    cfg: RecordingsSettings,
) -> list[Gap]:
    gaps: list[Gap] = []
    for uniqueid, call in sorted(finished.items()):
        subject = f"call {call.call_id or '-'} (uniqueid {uniqueid})"
        recordings = [
            r for r in by_uniqueid.get(uniqueid, ()) if r.duration_ms > 0 or r.size_bytes > 44
        ]
        if not recordings:
            if uniqueid not in uncataloged:
                gaps.append(
                    Gap(GapKind.CALL_WITHOUT_RECORDING, subject, f"no recording ({call.source})")
                )
            continue
        if any(r.state is RecordingState.PURGED for r in recordings):
            continue
        tolerance = max(round(call.duration_ms * cfg.duration_tolerance_ratio), call.slack_ms)
        # Parts of one timeline (the recording moved to the spare disk mid-call) add up to
        # the call; copies of it (the call recorded twice) add up to more.
        total = sum(r.duration_ms for r in recordings)
        ids = ", ".join(f"#{r.id}" for r in recordings)
        if len(recordings) > 1 and total > call.duration_ms + tolerance:
            gaps.append(
                Gap(
                    GapKind.SEVERAL_RECORDINGS,
                    subject,
                    f"{len(recordings)} recordings ({ids}) of {total} ms in all, more than the "
                    f"call ({call.source}) {call.duration_ms} ms: the call was recorded twice",
                )
            )
            continue
        if abs(total - call.duration_ms) > tolerance:
            what = (
                f"recording #{recordings[0].id} is"
                if len(recordings) == 1
                else (f"recordings {ids} (parts) are")
            )
            gaps.append(
                Gap(
                    GapKind.DURATION_MISMATCH,
                    subject,
                    f"{what} {total} ms, the call "
                    f"({call.source}) {call.duration_ms} ms (tolerance {tolerance} ms)",
                )
            )
    return gaps


def _file_key(root: str, rel: str) -> tuple[str, str]:
    return root, rel


def check_files(
    files: Iterable[FoundFile],
    recordings: Sequence[Recording],
    finished: Mapping[str, FinishedCall],
    known_calls: set[str],
    *,
    now: float,
    cfg: RecordingsSettings,
) -> tuple[list[Gap], set[str], list[str]]:
    """Gaps about files, uniqueids with uncataloged files, and files still being recorded."""
    owners: dict[tuple[str, str], Recording] = {}
    for rec in recordings:
        owners[_file_key(rec.root, rec.rel_path)] = rec
        if rec.archive_rel_path:
            owners[_file_key(rec.root, rec.archive_rel_path)] = rec
    # A recording cataloged as its WAV whose archive is being written: the archive file may
    # be on disk a moment before the catalog row names it.
    archiving = {
        (rec.root, rec.uniqueid) for rec in recordings if rec.state is RecordingState.CATALOGED
    }
    gaps: list[Gap] = []
    uncataloged: set[str] = set()
    live: list[str] = []
    for found in files:
        subject = f"{found.root.value}:{found.rel_path}"
        owner = owners.get(_file_key(found.root.value, found.rel_path))
        if owner is not None:
            gaps.extend(_owned_file_gaps(found, owner, subject))
        elif not found.is_wav and (found.root.value, found.uniqueid) in archiving:
            live.append(subject)
        elif found.uniqueid in finished:
            uncataloged.add(found.uniqueid)
            gaps.append(
                Gap(
                    GapKind.UNCATALOGED_FILE,
                    subject,
                    "the call is over but the file is not cataloged",
                )
            )
        elif found.uniqueid in known_calls or now - found.mtime < cfg.settle_s:
            live.append(subject)
        else:
            gaps.append(
                Gap(
                    GapKind.ORPHAN_FILE, subject, "no call in the call log or CDR has this uniqueid"
                )
            )
    return gaps, uncataloged, live


def _owned_file_gaps(found: FoundFile, owner: Recording, subject: str) -> list[Gap]:
    if owner.state is RecordingState.PURGED:
        return [Gap(GapKind.PURGED_FILE_PRESENT, subject, f"recording #{owner.id} was purged")]
    is_plain_wav = found.rel_path == owner.rel_path and owner.archive_rel_path not in (
        None,
        owner.rel_path,
    )
    if is_plain_wav and owner.state is RecordingState.ARCHIVED:
        return [
            Gap(
                GapKind.PLAINTEXT_LEFT,
                subject,
                f"recording #{owner.id} is archived; WAV still present",
            )
        ]
    return []


def check_recordings(
    recordings: Sequence[Recording],
    present: set[tuple[str, str]],
    finished: Mapping[str, FinishedCall],
    known_calls: set[str],
) -> list[Gap]:
    """Catalog rows whose file is gone, and rows no call knows."""
    gaps: list[Gap] = []
    for rec in recordings:
        if rec.state is RecordingState.PURGED:
            continue
        subject = f"recording #{rec.id} ({rec.uniqueid})"
        stored = rec.archive_rel_path or rec.rel_path
        if _file_key(rec.root, stored) not in present:
            gaps.append(Gap(GapKind.FILE_MISSING, subject, f"{rec.root}:{stored} is not on disk"))
        if rec.uniqueid not in finished and rec.uniqueid not in known_calls:
            gaps.append(Gap(GapKind.ORPHAN_RECORDING, subject, "no call in the call log or CDR"))
    return gaps


def since_filter(at: datetime, since: datetime | None) -> bool:
    return since is None or at >= since
