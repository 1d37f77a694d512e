"""Helpers for the recordings unit tests (imported by conftest and tests)."""

from __future__ import annotations

import math
import struct
from datetime import datetime, timedelta
from pathlib import Path

from dasan.config import Settings
from recordings.audio import write_wav
from recordings.layout import relative_wav
from recordings.settings import RecordingsSettings
from recordings.system import Recordings


def make_settings(tmp_path: Path, **recordings: object) -> Settings:
    """Settings rooted in ``tmp_path`` (SQLite there), fast settling, no transcription worker."""
    options: dict[str, object] = {
        "settle_s": 5.0,
        "transcription_enabled": False,
        "rescan_interval_s": 3600.0,
    }
    options.update(recordings)
    return Settings(
        state_dir=tmp_path / "state",
        cache_dir=tmp_path / "cache",
        recordings=RecordingsSettings.model_validate(options),
    )


class ManualClock:
    """An injectable clock that only moves when told to."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class FakeTranscriber:
    """Stands in for vosk: 'recognizes' a fixed Korean sentence when there is audio."""

    name = "fake"
    loads = 0

    def __init__(self) -> None:
        FakeTranscriber.loads += 1
        self.closed = False

    def transcribe(self, pcm: bytes, sample_rate: int) -> str:
        return "여권 재발급 문의 입니다" if pcm else ""

    def close(self) -> None:
        self.closed = True


def sine_pcm(seconds: float, rate: int = 8000, freq: float = 440.0) -> bytes:
    count = round(seconds * rate)
    step = 2 * math.pi * freq / rate
    return struct.pack(f"<{count}h", *(int(8000 * math.sin(step * i)) for i in range(count)))


def spool_wav(
    settings: Settings,
    uniqueid: str,
    seconds: float,
    day: datetime,
    *,
    spare: bool = False,
    finalize: bool = True,
) -> Path:
    """A MixMonitor-like recording at its deterministic place in the spool."""
    root = settings.recordings_spare_dir if spare else settings.recordings_dir
    path = root / relative_wav(uniqueid, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_wav(path, sine_pcm(seconds), finalize=finalize)
    return path


async def recorded_call(
    system: Recordings,
    call_id: str,
    start: datetime,
    seconds: float,
    *,
    language: str = "ko",
    service: str = "general",
    consultant: str | None = "c0001",
    number: str = "010-1234-5678",
) -> Path:
    """A whole call through the public API: started, routed, joined, ended, recording closed."""
    uniqueid = f"{int(start.timestamp())}.{call_id}"
    await system.calls.call_started(call_id, uniqueid, uniqueid, number, start)
    await system.calls.call_routed(call_id, language, service, {"nodes": ["lang", "menu"]})
    if consultant:
        await system.calls.consultant_joined(call_id, consultant)
    path = spool_wav(system.settings, uniqueid, seconds, start)
    await system.calls.call_ended(call_id, start + timedelta(seconds=seconds))
    return path
