"""Run inside a private mount namespace (``unshare --mount``): a real, small tmpfs is the
recordings folder; the disk fills up mid-operation. Prints one JSON object with what happened.

Usage: python diskfull_scenario.py STATE_DIR DATABASE_URL
"""

from __future__ import annotations

import asyncio
import errno
import json
import math
import os
import struct
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dasan.config import Settings, StorageSettings
from recordings.audio import write_wav
from recordings.layout import relative_wav
from recordings.models import RecordingState
from recordings.settings import RecordingsSettings
from recordings.system import Recordings

TMPFS_BYTES = 1 << 20


class NoSpeech:
    name = "none"

    def transcribe(self, pcm: bytes, sample_rate: int) -> str:
        return ""


def fill(folder: Path) -> Path:
    """Write zeros until the file system is full (unbuffered, so nothing fails at close)."""
    filler = folder / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)
    return filler


async def wait_for(condition: Any, timeout: float) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


def make_settings(state: Path, url: str) -> Settings:
    return Settings(
        state_dir=state,
        cache_dir=state / "cache",
        storage=StorageSettings(url=url),
        recordings=RecordingsSettings(
            low_disk_free_bytes=256 << 10,
            low_disk_free_ratio=0.0,
            disk_check_interval_s=0.2,
            transcription_enabled=False,
            rescan_interval_s=3600,
        ),
    )


async def scenario(settings: Settings) -> dict[str, Any]:
    spool = settings.recordings_dir
    system = await Recordings.open(settings, load_transcriber=NoSpeech)
    out: dict[str, Any] = {}
    monitor = asyncio.create_task(system.disk.run())
    try:
        start = datetime.now(UTC) - timedelta(seconds=5)
        uniqueid = f"{int(start.timestamp())}.1"
        await system.calls.call_started("call-1", uniqueid, uniqueid, None, start)
        wav = spool / relative_wav(uniqueid, start)
        wav.parent.mkdir(parents=True)
        pcm = struct.pack("<16000h", *(int(5000 * math.sin(0.3 * i)) for i in range(16000)))
        write_wav(wav, pcm)
        await system.calls.call_ended("call-1", start + timedelta(seconds=2))
        await asyncio.sleep(0.5)
        out["alarms_before"] = len(system.alarms.active())
        filler = fill(spool)
        out["alarm_after_s"] = await wait_for(lambda: bool(system.alarms.active()), 10)
        await wait_for(lambda: len(system.alarms.active()) >= 2, 10)  # low space and write failure
        out["alarm_keys"] = sorted(a.key.split(":")[0] for a in system.alarms.active())
        try:
            await system.pipeline.process(wav)
            out["archive_error"] = None
        except OSError as exc:
            out["archive_error"] = exc.strerror
        out["wav_kept"] = wav.exists()
        out["states_while_full"] = [r.state.value for r in await system.catalog.find()]
        filler.unlink()
        out["cleared_after_s"] = await wait_for(lambda: not system.alarms.active(), 10)
        report = await system.pipeline.recover()
        out["recovered"] = len(report.archived)
        out["states_after"] = [r.state.value for r in await system.catalog.find()]
        out["archived"] = out["states_after"] == [RecordingState.ARCHIVED.value]
    finally:
        monitor.cancel()
        await asyncio.gather(monitor, return_exceptions=True)
        await system.close()
    return out


def main() -> None:
    settings = make_settings(Path(sys.argv[1]), sys.argv[2])
    spool = settings.recordings_dir
    spool.mkdir(parents=True, exist_ok=True)
    mount = ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(spool)]
    subprocess.run(mount, check=True)
    try:
        print(json.dumps(asyncio.run(scenario(settings))))
    finally:
        subprocess.run(["umount", str(spool)], check=False)


if __name__ == "__main__":
    main()
