"""Recordings after close: archive cost, compression, catalog and audit speed (issue 5).

Synthesizes call recordings like MixMonitor's (8 kHz 16-bit mono WAV; a mix of tones and
noise, since pure silence or a sine compress unrealistically well), then measures on this
machine with the real code (SQLite catalog in a temp dir):
- archive: hash -> catalog -> Opus/FLAC -> decode check -> AES-GCM seal -> remove WAV, with
  the configured bounded concurrency; wall time, CPU seconds (ours + ffmpeg's) per recording
  and per audio hour, compression ratio;
- the CPU cores that archiving the seed volume (35,359 calls/day, 3 min each) would need;
- catalog appends per second (with their chain links); audit time per recording (hash and
  decrypt every file, both chains).
Output: benchmarks/results/recordings_pipeline.json.

Invariant: the numbers are for this machine and synthetic audio; they size the work, they
do not promise field results.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import struct
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dasan.config import Settings
from recordings.audio import write_wav
from recordings.audit import audit_storage
from recordings.catalog import NewRecording
from recordings.layout import relative_wav
from recordings.settings import ArchiveFormat, RecordingsSettings
from recordings.system import Recordings

RESULTS = Path(__file__).resolve().parent / "results" / "recordings_pipeline.json"
SEED_CALLS_PER_DAY = 35_359
SEED_CALL_SECONDS = 180


def _cpu() -> float:
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def speechlike_pcm(seconds: float, seed: int) -> bytes:
    """Bursts of varying tones with noise and pauses: compresses roughly like speech."""
    rnd = random.Random(seed)
    samples: list[int] = []
    while len(samples) < seconds * 8000:
        burst = int(8000 * rnd.uniform(0.3, 1.5))
        if rnd.random() < 0.3:
            samples.extend(int(rnd.gauss(0, 60)) for _ in range(burst))
            continue
        freq, amp = rnd.uniform(120, 300), rnd.uniform(2000, 9000)
        for i in range(burst):
            value = amp * (0.6 * _tri(freq * i / 8000) + 0.4 * _tri(2.7 * freq * i / 8000))
            samples.append(int(value + rnd.gauss(0, 300)))
    clipped = [max(-32768, min(32767, s)) for s in samples[: int(seconds * 8000)]]
    return struct.pack(f"<{len(clipped)}h", *clipped)


def _tri(phase: float) -> float:
    frac = phase - int(phase)
    return 4 * frac - 1 if frac < 0.5 else 3 - 4 * frac


async def _archive_run(settings: Settings, count: int, seconds: float) -> dict[str, Any]:
    system = await Recordings.open(settings)
    try:
        start = datetime.now(UTC) - timedelta(hours=1)
        pcm = speechlike_pcm(seconds, 7)
        paths = []
        for n in range(count):
            uniqueid = f"{int(start.timestamp())}.{n}"
            call_start = start + timedelta(seconds=n)
            await system.calls.call_started(f"bench-{n}", uniqueid, uniqueid, None, call_start)
            wav = settings.recordings_dir / relative_wav(uniqueid, call_start)
            wav.parent.mkdir(parents=True, exist_ok=True)
            write_wav(wav, pcm)
            await system.calls.call_ended(f"bench-{n}", call_start + timedelta(seconds=seconds))
            paths.append(wav)
        wav_bytes = sum(p.stat().st_size for p in paths)
        cpu0, wall0 = _cpu(), time.perf_counter()
        runner = asyncio.create_task(system.pipeline.run())
        for path in paths:
            await system.pipeline.recording_closed(path.name.removesuffix(".wav"), path)
        await system.pipeline.drain()
        wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        rows = await system.catalog.find()
        stored = sum(r.stored_size_bytes or 0 for r in rows)
        audit_wall0 = time.perf_counter()
        report = await audit_storage(settings, system.storage, ring=system.ring)
        audit_wall = time.perf_counter() - audit_wall0
    finally:
        await system.close()
    audio_hours = count * seconds / 3600
    per_recording_cpu = cpu / count
    return {
        "recordings": count,
        "seconds_each": seconds,
        "archived": sum(1 for r in rows if r.state.value == "archived"),
        "wall_s": round(wall, 2),
        "recordings_per_s": round(count / wall, 2),
        "cpu_s_per_recording": round(per_recording_cpu, 3),
        "cpu_s_per_audio_hour": round(cpu / audio_hours, 1),
        "compression_ratio": round(wav_bytes / stored, 1) if stored else None,
        "stored_kib_per_audio_minute": round(stored / 1024 / (count * seconds / 60), 1),
        "cores_for_seed_volume": round(
            SEED_CALLS_PER_DAY * per_recording_cpu * (SEED_CALL_SECONDS / seconds) / 86_400, 3
        ),
        "audit_s_per_recording": round(audit_wall / count, 4),
        "audit_ok": report.ok,
    }


async def _catalog_rate(settings: Settings, count: int) -> dict[str, Any]:
    system = await Recordings.open(settings)
    try:
        start = datetime.now(UTC)
        t0 = time.perf_counter()
        for n in range(count):
            await system.catalog.add(
                NewRecording(
                    f"9.{n}", None, "primary", f"x/9.{n}.wav", "wav", 8000, 44, 0, "0" * 64, start
                )
            )
        elapsed = time.perf_counter() - t0
        links = await system.catalog.links()
    finally:
        await system.close()
    return {"appends": count, "per_s": round(count / elapsed, 1), "chain_links": len(links)}


def _settings(root: Path, fmt: ArchiveFormat, workers: int) -> Settings:
    return Settings(
        state_dir=root / "state",
        cache_dir=root / "cache",
        recordings=RecordingsSettings(
            archive_format=fmt, workers=workers, transcription_enabled=False, rescan_interval_s=3600
        ),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=12, help="recordings per format")
    parser.add_argument("--seconds", type=float, default=SEED_CALL_SECONDS)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    results: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "workers": args.workers,
        "note": "synthetic speech-like audio; SQLite catalog; CPU includes ffmpeg children",
    }
    with tempfile.TemporaryDirectory(prefix="dasan-bench-rec-") as tmp:
        for fmt in ArchiveFormat:
            root = Path(tmp) / fmt.value
            results[fmt.value] = asyncio.run(
                _archive_run(_settings(root, fmt, args.workers), args.count, args.seconds)
            )
        results["catalog"] = asyncio.run(
            _catalog_rate(_settings(Path(tmp) / "cat", ArchiveFormat.OPUS, 1), 500)
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
