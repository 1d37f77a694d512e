"""Composition of the recordings area: one object the engine (and the CLI) opens and runs.

Invariants:
- Built explicitly from the settings; nothing is registered at import time.
- The master key is loaded from the key file (created 0600 for the demo when
  ``create_key`` is on); without encryption at rest it is still needed for callers' numbers.
- ``run()`` keeps the pipeline (with its startup recovery scan), the disk monitor and the
  transcription worker going under one TaskGroup until cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from common.alarms import AlarmBus, AlarmStore, Clock, Severity, utc_now
from common.storage import Storage
from common.writer import DurableWriter
from recordings.access import RecordingAccess
from recordings.accesslog import AccessLog
from recordings.calllog import CallLog
from recordings.catalog import Catalog
from recordings.disk import DiskMonitor
from recordings.keys import KeyRing, NumberProtector, load_or_create_key_ring
from recordings.layout import Roots, key_file
from recordings.pipeline import SOURCE, RecordingPipeline
from recordings.retention import Retention, RetentionPolicy
from recordings.settings import RecordingsHost
from recordings.transcription import Transcriber, Transcripts, load_vosk_transcriber

log = logging.getLogger(__name__)


def _describe(exc: BaseException) -> str:
    """The leaf errors' messages (TaskGroups wrap them in exception groups)."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"


_RESTART_MIN_S = 1.0
_RESTART_MAX_S = 60.0


@dataclass
class Recordings:
    settings: RecordingsHost
    storage: Storage
    ring: KeyRing
    alarms: AlarmBus
    calls: CallLog
    catalog: Catalog
    pipeline: RecordingPipeline
    access_log: AccessLog
    access: RecordingAccess
    transcripts: Transcripts
    retention: Retention
    disk: DiskMonitor
    owns_storage: bool

    @classmethod
    async def open(
        cls,
        settings: RecordingsHost,
        *,
        storage: Storage | None = None,
        alarms: AlarmBus | None = None,
        clock: Clock = utc_now,
        load_transcriber: Callable[[], Transcriber] = load_vosk_transcriber,
        writer: DurableWriter | None = None,
    ) -> Recordings:
        """Load (or create) the key, open (or share) the storage and alarms, assemble.

        With ``writer`` (the engine) the call log's writes are queued through it."""
        cfg = settings.recordings
        ring = await asyncio.to_thread(
            load_or_create_key_ring, key_file(settings), create=cfg.create_key
        )
        store = storage or await Storage.open(settings.storage_url)
        bus = alarms
        if bus is None:
            bus = AlarmBus(AlarmStore(store), clock)
            await bus.restore()
        parts = _Parts(
            settings,
            store,
            ring,
            bus,
            clock=clock,
            load_transcriber=load_transcriber,
            writer=writer,
        )
        return cls(
            settings=settings,
            storage=store,
            ring=ring,
            alarms=bus,
            calls=parts.calls,
            catalog=parts.catalog,
            pipeline=RecordingPipeline(
                settings, parts.catalog, parts.calls, ring, bus, clock=clock
            ),
            access_log=parts.access_log,
            access=parts.access(),
            transcripts=parts.transcripts,
            retention=parts.retention(),
            disk=parts.disk_monitor(),
            owns_storage=storage is None,
        )

    async def run(self) -> None:
        """Pipeline (recovery first), disk monitor and transcription until cancelled.

        Each runs supervised: a crash is logged, raised as an alarm and the loop restarts
        after a pause, so one failing part (say, a missing speech model) never stops the
        others.
        """
        async with asyncio.TaskGroup() as group:
            group.create_task(self._supervise("disk-monitor", self.disk.run))
            group.create_task(self._supervise("pipeline", self.pipeline.run))
            if self.settings.recordings.transcription_enabled:
                poll = self.settings.recordings.transcription_poll_s
                group.create_task(
                    self._supervise("transcription", lambda: self.transcripts.run(poll))
                )

    async def _supervise(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        pause = _RESTART_MIN_S
        while True:
            started = time.monotonic()
            try:
                await loop()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # restart below; the alarm makes it visible
                log.exception("recordings %s crashed; restarting in %.0f s", name, pause)
                await self.alarms.raise_alarm(
                    SOURCE,
                    f"task:{name}",
                    Severity.MAJOR,
                    f"recordings {name} crashed: {_describe(exc)}",
                )
            if time.monotonic() - started > _RESTART_MAX_S:
                pause = _RESTART_MIN_S
            await asyncio.sleep(pause)
            pause = min(pause * 2, _RESTART_MAX_S)

    async def close(self) -> None:
        if self.owns_storage:
            await self.storage.close()


class _Parts:
    """Builds the services that share the storage, key, clock and alarms."""

    def __init__(
        self,
        settings: RecordingsHost,
        store: Storage,
        ring: KeyRing,
        bus: AlarmBus,
        *,
        clock: Clock,
        load_transcriber: Callable[[], Transcriber],
        writer: DurableWriter | None,
    ) -> None:
        self.cfg, self.roots = settings.recordings, Roots.of(settings)
        self.store, self.ring, self.bus = store, ring, bus
        self.calls = CallLog(store, NumberProtector(ring), clock, writer=writer)
        self.catalog = Catalog(store, clock)
        self.access_log = AccessLog(store, clock)
        self.transcripts = Transcripts(
            store, self.roots, ring, self.cfg, load_transcriber=load_transcriber, clock=clock
        )

    def access(self) -> RecordingAccess:
        return RecordingAccess(
            log=self.access_log,
            catalog=self.catalog,
            calls=self.calls,
            roots=self.roots,
            ring=self.ring,
            cfg=self.cfg,
            transcripts=self.transcripts,
        )

    def retention(self) -> Retention:
        return Retention(
            self.store,
            self.catalog,
            self.calls,
            self.roots,
            RetentionPolicy.of(self.cfg),
            access_log=self.access_log,
            access_log_days=self.cfg.access_log_retention_days,
        )

    def disk_monitor(self) -> DiskMonitor:
        return DiskMonitor(
            [self.roots.primary, self.roots.spare],
            self.bus,
            min_free_bytes=self.cfg.low_disk_free_bytes,
            min_free_ratio=self.cfg.low_disk_free_ratio,
            interval_s=self.cfg.disk_check_interval_s,
        )
