"""Disk monitor for the recordings folders, and the file probe the recording guard uses.

Invariants:
- Every ``interval`` seconds each folder is checked twice: free space (statvfs) against
  both thresholds, and a real write (a small file written, fsynced and removed), because a
  full or read-only disk shows first as a failed write. Either problem raises an alarm at
  the next check (seconds); the alarm clears by itself once the folder is healthy again.
- A failing check never stops the monitor; ``statvfs`` and the clock are injected so tests
  can fake a full disk.
- Anyone who sees a write fail (the pipeline, the guard adapter) may call
  ``write_failed`` to alarm at once instead of waiting for the next check.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from common.alarms import AlarmBus, Severity
from recordings.guard import FileObserved, RecordingFailed, Target

SOURCE = "recordings.disk"
_PROBE_NAME = ".dasan-write-probe"
_PROBE_BYTES = 4096

StatVfs = Callable[[str], Any]


class DiskVerdict(enum.StrEnum):
    OK = "ok"
    LOW = "low"
    UNWRITABLE = "unwritable"


@dataclass(frozen=True, slots=True)
class DiskReading:
    path: Path
    free_bytes: int
    total_bytes: int
    write_error: str | None

    @property
    def free_ratio(self) -> float:
        return self.free_bytes / self.total_bytes if self.total_bytes else 0.0


def assess(reading: DiskReading, min_free_bytes: int, min_free_ratio: float) -> DiskVerdict:
    if reading.write_error is not None:
        return DiskVerdict.UNWRITABLE
    if reading.free_bytes < min_free_bytes or reading.free_ratio < min_free_ratio:
        return DiskVerdict.LOW
    return DiskVerdict.OK


def probe_write(folder: Path) -> str | None:
    """Write, fsync and remove a small file; the error text, or None when it worked."""
    probe = folder / _PROBE_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with probe.open("wb") as handle:
            handle.write(b"\0" * _PROBE_BYTES)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        return f"{exc.strerror or exc}"
    finally:
        # The write error (if any) is what we report; a leftover probe file is harmless.
        with contextlib.suppress(OSError):
            probe.unlink(missing_ok=True)
    return None


def read_disk(folder: Path, statvfs: StatVfs = os.statvfs) -> DiskReading:
    write_error = probe_write(folder)
    target = folder
    while not target.exists() and target != target.parent:
        target = target.parent
    try:
        st = statvfs(str(target))
        free, total = st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize
    except OSError as exc:
        return DiskReading(folder, 0, 0, write_error or f"statvfs failed: {exc}")
    return DiskReading(folder, free, total, write_error)


class DiskMonitor:
    def __init__(
        self,
        folders: Sequence[Path],
        alarms: AlarmBus,
        *,
        min_free_bytes: int,
        min_free_ratio: float,
        interval_s: float,
        statvfs: StatVfs = os.statvfs,
    ) -> None:
        self._folders = list(folders)
        self._alarms = alarms
        self._min_bytes, self._min_ratio = min_free_bytes, min_free_ratio
        self._interval = interval_s
        self._statvfs = statvfs

    async def run(self) -> None:
        while True:
            await self.check_once()
            await asyncio.sleep(self._interval)

    async def check_once(self) -> list[DiskReading]:
        readings = []
        for folder in self._folders:
            reading = await asyncio.to_thread(read_disk, folder, self._statvfs)
            await self._apply(reading)
            readings.append(reading)
        return readings

    async def _apply(self, reading: DiskReading) -> None:
        verdict = assess(reading, self._min_bytes, self._min_ratio)
        low_key, write_key = f"low:{reading.path}", f"write:{reading.path}"
        if verdict is DiskVerdict.UNWRITABLE:
            await self.write_failed(reading.path, reading.write_error or "write failed")
        else:
            await self._alarms.clear(SOURCE, write_key)
        if verdict is DiskVerdict.LOW or (
            verdict is DiskVerdict.UNWRITABLE and reading.free_bytes < self._min_bytes
        ):
            await self._alarms.raise_alarm(
                SOURCE,
                low_key,
                Severity.MAJOR,
                f"recordings folder {reading.path}: only {reading.free_bytes // (1 << 20)} MiB "
                f"({reading.free_ratio:.1%}) free",
            )
        elif verdict is DiskVerdict.OK:
            await self._alarms.clear(SOURCE, low_key)

    async def write_failed(self, folder: Path, error: str) -> None:
        await self._alarms.raise_alarm(
            SOURCE,
            f"write:{folder}",
            Severity.CRITICAL,
            f"cannot write recordings to {folder}: {error}",
        )


def observe_recording_file(
    path: Path, target: Target, at: datetime
) -> FileObserved | RecordingFailed:
    """What the guard needs to know about a recording file right now (blocking stat)."""
    try:
        return FileObserved(target, path.stat().st_size, at)
    except FileNotFoundError:
        return (
            FileObserved(target, 0, at)
            if path.parent.is_dir()
            else RecordingFailed(target, f"recording folder {path.parent} does not exist", at)
        )
    except OSError as exc:
        return RecordingFailed(target, f"cannot stat {path}: {exc}", at)
