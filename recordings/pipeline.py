"""After close: hash -> catalog -> convert -> verify -> encrypt -> remove the plaintext.

The engine calls ``recording_closed(uniqueid, path)`` when a call's MixMonitor file is
closed; ``run()`` consumes those and, at start and then periodically, scans the spools for
recordings nobody announced (the engine was down, or an archive failed and must be retried).

Invariants:
- A WAV is removed only after its verified archive is on disk and the catalog (with its
  chain link) says so; any failure leaves the WAV in place and raises an alarm, and the next
  scan retries. Nothing is lost silently.
- The SHA-256 is taken from the closed file: Asterisk finalizes the WAV header only at
  close, so a finalized header means closed; a file that has not changed for ``settle_s``
  (its age taken on the file system's clock, ``fs_now``: never this process's, which may be
  stepped) is finished as it is (the PBX was killed); anything else is left for a later scan.
- CPU and disk work runs in threads, at most ``workers`` at a time; the loop never blocks.
- A file is processed by one task at a time, and archived by one process at a time (an
  flock on ``<name>.wav.lock``: the engine and a ``dasan recordings recover`` never race).
- A recording announced by its primary path that exists only on the spare disk (the
  recorder started the call there: the primary disk was full) is processed from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common.alarms import AlarmBus, Clock, Severity, utc_now
from recordings.archive import (
    ArchiveError,
    ClosedWav,
    finish_removal,
    fs_now,
    inspect_closed,
    produce_archive,
    remove_file,
    try_lock,
    unlock,
)
from recordings.audio import AudioError, inspect_wav
from recordings.calllog import CallLog, CallLogPending
from recordings.catalog import ArchiveFacts, Catalog, NewRecording, Recording
from recordings.cdr import CdrCall, citizen_calls, read_cdr
from recordings.keys import KeyRing
from recordings.layout import (
    FoundFile,
    LayoutError,
    Roots,
    cdr_files,
    host_path,
    scan,
    split_name,
    stale_parts,
)
from recordings.models import RecordingState, Root
from recordings.settings import RecordingsHost

log = logging.getLogger(__name__)
SOURCE = "recordings"
_STABLE_POLL_S = 0.1
_CLOSE_WAIT_S = 3.0


@dataclass
class RecoveryReport:
    archived: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def fallback_language(queues: tuple[str, ...]) -> str | None:
    """The caller's language: that of the first fallback queue (``fallback-en``) the call
    joined (a foreign caller may overflow to the Korean desk after it)."""
    for name in queues:
        code = name.removeprefix("fallback-")
        if code != name and len(code) == 2 and code.isalpha() and code.islower():
            return code
    return None


class RecordingPipeline:
    def __init__(
        self,
        settings: RecordingsHost,
        catalog: Catalog,
        calls: CallLog,
        ring: KeyRing | None,
        alarms: AlarmBus,
        *,
        clock: Clock = utc_now,
        fs_clock: Callable[[Path], float] = fs_now,
    ) -> None:
        self._settings = settings
        self._cfg = settings.recordings
        if self._cfg.encrypt and ring is None:
            raise ValueError("encryption at rest is on but no master key was given")
        self._roots = Roots.of(settings)
        self._catalog, self._calls, self._ring, self._alarms = catalog, calls, ring, alarms
        # File ages are taken on the file system's clock (see ``fs_now``), not this process's.
        self._clock, self._fs_clock = clock, fs_clock
        self._queue: asyncio.Queue[Path] = asyncio.Queue()
        # Whether a call this engine is serving right now has that uniqueid: its file is
        # still being written however long it has been quiet (both parties silent).
        self._serving: Callable[[str], bool] = lambda _uniqueid: False
        self._gate = asyncio.Semaphore(self._cfg.workers)
        # Archiving (ffmpeg) runs at a lower CPU priority than calls: its threads, and so the
        # ffmpeg processes they start, yield to Asterisk and the call path at busy hours.
        self._archivers = ThreadPoolExecutor(
            max_workers=self._cfg.workers,
            thread_name_prefix="archive",
            initializer=background_priority,
        )
        self._busy: dict[Path, asyncio.Event] = {}
        self._cdr: Mapping[str, CdrCall] | None = None

    # Engine-facing API ---------------------------------------------------------------
    def watch_calls(self, serving: Callable[[str], bool]) -> None:
        """Tell the pipeline which calls are still going on (the call path's sessions): a
        quiet file of such a call is never taken as finished."""
        self._serving = serving

    async def recording_closed(self, uniqueid: str, path: str | Path) -> None:
        """Queue a closed recording (a PBX-side or host path) for processing."""
        host = host_path(self._settings, path)
        if split_name(host.name) is None or not host.name.startswith(uniqueid):
            log.warning("recording_closed for %s names %s; queued anyway", uniqueid, host)
        self._queue.put_nowait(host)

    def _written(self, path: Path) -> Path | None:
        """The file the recorder wrote for ``path`` (blocking stat): the path itself, or,
        when a primary file does not exist but its spare twin does, the twin (the recorder
        started the call on the spare disk: the primary took not even the WAV header);
        None when neither exists."""
        if path.exists():
            return path
        with contextlib.suppress(LayoutError):
            root, rel = self._roots.locate(path)
            twin = self._roots.absolute(Root.SPARE, rel)
            if root is Root.PRIMARY and twin.exists():
                return twin
        return None

    async def drain(self) -> None:
        """Wait until everything queued so far has been processed (or failed)."""
        await self._queue.join()

    async def run(self) -> None:
        """Recover what a dead predecessor left, process announced recordings and rescan
        periodically, until cancelled. New calls' recordings never wait for the recovery:
        after a long outage the spool may hold hundreds of files."""
        async with asyncio.TaskGroup() as group:
            for _ in range(self._cfg.workers):
                group.create_task(self._consume())
            group.create_task(self._rescan_forever())

    async def _consume(self) -> None:
        while True:
            path = await self._queue.get()
            try:
                await self.process(path)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep consuming; the file stays and the next scan retries
                log.exception("processing %s failed", path)
                await self._alarm(path, f"recording {path.name} could not be processed: {exc}")
            finally:
                self._queue.task_done()

    async def _rescan_forever(self) -> None:
        while True:
            try:
                await self.recover()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # e.g. the catalog's database: alarm, retry next pass
                log.exception("recovery pass failed")
                await self._alarms.raise_alarm(
                    SOURCE, "recovery", Severity.MAJOR, f"recovery of the spools failed: {exc}"
                )
            await asyncio.sleep(self._cfg.rescan_interval_s)

    # Processing ----------------------------------------------------------------------
    async def process(self, path: Path) -> Recording | None:
        """Catalog and archive one WAV; None while it is still being written.

        Raises FileNotFoundError when the file is missing and was never cataloged (the PBX
        did not record: the consumer turns that into an alarm).
        """
        while (busy := self._busy.get(path)) is not None:
            # Another task (the recovery pass, or a second announcement) has it: its outcome
            # is this one's too, so a drain() never returns before the file is done.
            await busy.wait()
        self._busy[path] = asyncio.Event()
        try:
            written = await asyncio.to_thread(self._written, path)
            if written is None:
                return await self._already_done(path)
            closed = await self._await_closed(written)
            if closed is None:
                return None
            try:
                recording = await self._catalog_file(written, closed)
            except CallLogPending as exc:  # its call's row is not written yet: link it later
                log.info("%s: %s; left for the next scan", written.name, exc)
                return None
            if recording.sha256 != closed.sha256:
                raise ArchiveError(f"{written} changed after it was cataloged")
            return await self._archive(recording)
        finally:
            self._busy.pop(path).set()

    async def _already_done(self, path: Path) -> Recording:
        """A file announced twice (the recovery scan got there first) is not an error."""
        root, rel = self._roots.locate(path)
        parsed = split_name(path.name)
        for recording in await self._catalog.find(uniqueid=parsed[0] if parsed else path.stem):
            if (recording.root, recording.rel_path) == (root.value, rel):
                return recording
        raise FileNotFoundError(f"recording {path} does not exist and was never cataloged")

    async def _await_closed(self, path: Path) -> ClosedWav | None:
        """The closed file's facts, or None while the PBX may still be writing it.

        Asterisk rewrites the WAV header only when it closes the file, so a header that
        agrees with a non-empty file whose size holds still means "closed"; a file that has
        not changed for ``settle_s`` is taken as it is (the PBX died or never finalized it).
        """
        deadline = time.monotonic() + _CLOSE_WAIT_S
        last_size = -1
        parsed = split_name(path.name)
        uniqueid = parsed[0] if parsed else path.stem
        while True:
            stat = await asyncio.to_thread(path.stat)
            quiet = await self._age_s(path.parent, stat.st_mtime) >= self._cfg.settle_s
            # A call still being served may be quiet for long (neither party sends audio and
            # the bridge writes nothing): its file is not finished until the call is.
            quiet = quiet and not self._serving(uniqueid)
            if stat.st_size == last_size or quiet:
                closed = await asyncio.to_thread(inspect_closed, path)
                finalized = closed.info.header_consistent and closed.info.data_bytes > 0
                if finalized or quiet:
                    return closed
            if time.monotonic() >= deadline:
                return None
            last_size = stat.st_size
            await asyncio.sleep(_STABLE_POLL_S)

    async def _catalog_file(self, path: Path, closed: ClosedWav) -> Recording:
        root, rel = self._roots.locate(path)
        parsed = split_name(path.name)
        uniqueid = parsed[0] if parsed else path.stem
        call = await self._calls.by_uniqueid(uniqueid)
        call_id = call.id if call else None
        if call is not None:
            started = call.started_at
        else:
            # A call the engine never saw (it was down: the fallback queue served it): the
            # PBX's CDR says when it was answered, which is when MixMonitor started.
            cdr = (await self._cdr_calls()).get(uniqueid)
            if cdr is not None:
                started = cdr.answer
                call_id = await self._log_fallback_call(cdr)
            else:
                mtime = datetime.fromtimestamp(closed.mtime, UTC)
                started = mtime - timedelta(milliseconds=closed.info.duration_ms)
        return await self._catalog.add(
            NewRecording(
                uniqueid=uniqueid,
                call_id=call_id,
                root=root.value,
                rel_path=rel,
                format="wav",
                sample_rate=closed.info.sample_rate,
                size_bytes=closed.size,
                duration_ms=closed.info.duration_ms,
                sha256=closed.sha256,
                started_at=started,
            )
        )

    async def _log_fallback_call(self, cdr: CdrCall) -> str:
        """The call-log row of a call only the fallback queues served, from its CDR: the
        engine's call id is the channel's uniqueid too, so an engine that did see the call
        (its writes replayed later) finds the same row (``call_started`` is idempotent)."""
        calls, call_id = self._calls, cdr.uniqueid
        caller = cdr.src if cdr.src.isdigit() else None
        await calls.call_started(call_id, cdr.uniqueid, None, caller, cdr.answer)
        journey = {"path": "fallback", "source": "cdr", "queues": list(cdr.queues), "entries": []}
        await calls.call_progress(call_id, fallback_language(cdr.queues), None, journey)
        if cdr.consultant is not None:
            await calls.consultant_joined(call_id, cdr.consultant, at=cdr.consultant_at)
        await calls.call_ended(call_id, cdr.end)
        log.info("call %s: served by the fallback (%s), logged from the CDR", call_id, cdr.queues)
        return call_id

    async def _archive(self, recording: Recording) -> Recording:
        """Archive under a per-file lock, so two processes never archive one file twice."""
        wav = self._roots.absolute(recording.root, recording.rel_path)
        lock = await asyncio.to_thread(try_lock, wav)
        if lock is None:
            return recording  # another process is archiving it right now
        done = False
        try:
            current = await self._catalog.get(recording.id)  # it may have finished meanwhile
            if current.state is RecordingState.CATALOGED:
                current = await self._produce(current, wav)
            elif current.archive_rel_path not in (None, current.rel_path):
                # A crash between cataloging the archive and removing the WAV: finish the job.
                archive = self._roots.absolute(current.root, current.archive_rel_path or "")
                await asyncio.to_thread(finish_removal, wav, archive)
            done = current.state is not RecordingState.CATALOGED
            return current
        finally:
            # The lock file goes once the catalog says archived (a later locker re-checks).
            await asyncio.to_thread(unlock, lock, wav if done else None)

    async def _produce(self, recording: Recording, wav: Path) -> Recording:
        async with self._gate:
            produced = await asyncio.get_running_loop().run_in_executor(
                self._archivers,
                functools.partial(
                    produce_archive,
                    wav,
                    fmt=self._cfg.archive_format,
                    bitrate=self._cfg.opus_bitrate,
                    ring=self._ring if self._cfg.encrypt else None,
                    context=recording.uniqueid,
                    slack_ms=round(self._cfg.archive_duration_slack_s * 1000),
                    complexity=self._cfg.opus_complexity,
                ),
            )
        _root, rel = self._roots.locate(produced.path)
        archived = await self._catalog.archived(
            recording.id,
            ArchiveFacts(
                archive_format=produced.format,
                archive_rel_path=rel,
                archive_sha256=produced.archive_sha256,
                archive_duration_ms=produced.archive_duration_ms,
                stored_size_bytes=produced.stored_size,
                stored_sha256=produced.stored_sha256,
                encrypted=produced.key_id is not None,
                key_id=produced.key_id,
            ),
        )
        if produced.path != wav:
            await asyncio.to_thread(remove_file, wav)
        await self._alarms.clear(SOURCE, f"archive:{wav.name}")
        return archived

    async def _alarm(self, path: Path, message: str) -> None:
        await self._alarms.raise_alarm(SOURCE, f"archive:{path.name}", Severity.MAJOR, message)

    # Recovery ------------------------------------------------------------------------
    async def recover(self) -> RecoveryReport:
        """Finish every WAV left in the spools that is closed (see module invariants)."""
        report = RecoveryReport()
        self._cdr = None  # read again (at most once) in this pass
        await asyncio.to_thread(self._remove_stale_parts)
        found = await asyncio.to_thread(lambda: [f for f in scan(self._roots) if f.is_wav])
        # Files are recovered side by side (ffmpeg still runs at most `workers` at a time).
        lanes = asyncio.Semaphore(self._cfg.workers * 2)
        async with asyncio.TaskGroup() as group:
            for item in found:
                group.create_task(self._recover_into(item, report, lanes))
        if found:
            log.info(
                "recovery: %d archived, %d pending, %d failed",
                len(report.archived),
                len(report.pending),
                len(report.failed),
            )
        return report

    async def _recover_into(
        self, item: FoundFile, report: RecoveryReport, lanes: asyncio.Semaphore
    ) -> None:
        path = self._roots.absolute(item.root, item.rel_path)
        async with lanes:
            try:
                done = await self._recover_one(item, path)
            except (ArchiveError, AudioError, OSError) as exc:
                report.failed.append(item.rel_path)
                log.warning("recovery of %s failed: %s", path, exc)
                await self._alarm(path, f"recording {path.name} could not be recovered: {exc}")
                return
        (report.archived if done else report.pending).append(item.rel_path)

    async def _cdr_calls(self) -> Mapping[str, CdrCall]:
        """The PBX's answered citizen calls, read once per recovery pass (when needed)."""
        if self._cdr is None:
            cfg = self._cfg
            parsed = await asyncio.to_thread(read_cdr, *cdr_files(self._settings))
            self._cdr = citizen_calls(
                parsed.rows, cfg.cdr_numbers, cfg.cdr_contexts, cfg.cdr_userfields
            )
        return self._cdr

    async def _recover_one(self, item: FoundFile, path: Path) -> bool:
        existing = [
            r
            for r in await self._catalog.find(uniqueid=item.uniqueid)
            if r.root == item.root.value and r.rel_path == item.rel_path
        ]
        if existing:
            await self._archive(existing[0])
            return True
        # Cheap check first: a call still being recorded is skipped without waiting.
        info = await asyncio.to_thread(inspect_wav, path)
        finalized = info.header_consistent and info.data_bytes > 0
        if not finalized and await self._age_s(path.parent, item.mtime) < self._cfg.settle_s:
            return False
        return await self.process(path) is not None

    async def _age_s(self, directory: Path, mtime: float) -> float:
        return await asyncio.to_thread(self._fs_clock, directory) - mtime

    def _remove_stale_parts(self) -> None:
        for part in stale_parts(self._roots):
            with contextlib.suppress(FileNotFoundError):
                if self._fs_clock(part.parent) - part.stat().st_mtime >= self._cfg.settle_s:
                    part.unlink()


ARCHIVE_NICENESS = 10


def background_priority() -> None:
    """Lower this thread's CPU priority (Linux: per thread; inherited by its children)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), ARCHIVE_NICENESS)
    except (OSError, AttributeError):
        return  # not permitted or not Linux: archive at normal priority
