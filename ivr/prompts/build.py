"""Build placeholder prompt audio with espeak-ng, or convert an operator's real recording.

Invariants:
- Output per prompt and language: ``<out>/<lang>/<id>.wav`` (8 kHz, 16-bit, mono: Asterisk's
  ``wav``) and ``<out>/<lang>/<id>.wav16`` (16 kHz: Asterisk's ``wav16`` for wideband calls).
- A recording at ``<override>/<lang>/<id>.<ext>`` wins over espeak-ng, with no code change.
- Incremental: each output's key (a hash of the builder version, voice and spoken text, or of
  the override file's bytes) is kept in ``<out>/prompts.json``; an unchanged key with both files
  present is skipped. Files are written under a temporary name and renamed, so Asterisk never
  plays a half-written prompt; ``prompts.json`` is rewritten atomically after the build.
- Only files this builder wrote (listed in ``prompts.json``) are ever deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
import time
import wave
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from ivr.prompts.manifest import PromptManifest, Voice

BUILDER_VERSION = "2"
OUTPUT_MANIFEST = "prompts.json"
OVERRIDE_EXTENSIONS = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a")
NARROW_RATE = 8000
WIDE_RATE = 16000
_TOOL_TIMEOUT_S = 120.0
# Leading and trailing silence off (sox), a short pause kept after the words.
_TRIM = ["silence", "1", "0.02", "0.3%", "reverse", "silence", "1", "0.02", "0.3%", "reverse",
         "pad", "0", "0.15"]  # fmt: skip


class Status(Enum):
    BUILT = "built"
    SKIPPED = "skipped"
    FAILED = "failed"


class Source(Enum):
    ESPEAK = "espeak"
    OVERRIDE = "override"


@dataclass(frozen=True)
class PromptJob:
    language: str
    prompt_id: str
    source: Source
    key: str
    voice: Voice
    text: str
    override: Path | None

    @property
    def name(self) -> str:
        return f"{self.language}/{self.prompt_id}"

    def outputs(self, out_dir: Path) -> tuple[Path, Path]:
        base = out_dir / self.language / self.prompt_id
        return base.with_suffix(".wav"), base.with_suffix(".wav16")


@dataclass(frozen=True)
class BuildResult:
    job: PromptJob
    status: Status
    seconds: float
    error: str = ""


@dataclass(frozen=True)
class BuildReport:
    results: tuple[BuildResult, ...]
    removed: tuple[str, ...]
    seconds: float

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    @property
    def ok(self) -> bool:
        return self.count(Status.FAILED) == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "prompts": len(self.results),
            "built": self.count(Status.BUILT),
            "skipped": self.count(Status.SKIPPED),
            "failed": self.count(Status.FAILED),
            "overrides": sum(1 for r in self.results if r.job.source is Source.OVERRIDE),
            "removed": list(self.removed),
            "seconds": round(self.seconds, 3),
            "errors": {r.job.name: r.error for r in self.results if r.status is Status.FAILED},
        }


def _sha(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8") if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()[:20]


def find_override(override_dir: Path | None, language: str, prompt_id: str) -> Path | None:
    if override_dir is None:
        return None
    for ext in OVERRIDE_EXTENSIONS:
        candidate = override_dir / language / f"{prompt_id}{ext}"
        if candidate.is_file():
            return candidate
    return None


def plan(manifest: PromptManifest, override_dir: Path | None) -> list[PromptJob]:
    """One job per prompt and language, keyed by what would be produced."""
    jobs = []
    for prompt_id in sorted(manifest.prompts):
        for language in manifest.languages:
            voice = manifest.voices[language]
            text = manifest.text(prompt_id, language).spoken
            override = find_override(override_dir, language, prompt_id)
            if override is not None:
                key = _sha(BUILDER_VERSION, "override", override.read_bytes())
                source = Source.OVERRIDE
            else:
                key = _sha(BUILDER_VERSION, voice.name, str(voice.speed), text)
                source = Source.ESPEAK
            jobs.append(PromptJob(language, prompt_id, source, key, voice, text, override))
    return jobs


def _run(argv: list[str], stdin: bytes | None = None) -> None:
    proc = subprocess.run(
        argv, input=stdin, capture_output=True, timeout=_TOOL_TIMEOUT_S, check=False
    )
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip()[-300:]
        raise RuntimeError(f"{argv[0]} exited {proc.returncode}: {tail}")


def _convert_commands(job: PromptJob, src: Path, dst: Path, rate: int) -> list[str]:
    if job.source is Source.ESPEAK:
        # espeak-ng pads its speech with silence; callers would wait through it.
        return ["sox", str(src), "-t", "wav", "-r", str(rate), "-c", "1", "-b", "16",
                "-e", "signed-integer", str(dst), *_TRIM]  # fmt: skip
    return ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(src), "-ac", "1",
            "-ar", str(rate), "-sample_fmt", "s16", "-f", "wav", str(dst)]  # fmt: skip


def build_one(job: PromptJob, out_dir: Path) -> None:
    """Produce both files of one job (blocking; runs in a worker thread)."""
    folder = out_dir / job.language
    folder.mkdir(parents=True, exist_ok=True)
    narrow, wide = job.outputs(out_dir)
    with tempfile.TemporaryDirectory(prefix=f".{job.prompt_id}-", dir=folder) as tmp:
        tmp_dir = Path(tmp)
        if job.override is not None:
            source = job.override
        else:
            source = tmp_dir / "espeak.wav"
            argv = ["espeak-ng", "-v", job.voice.name, "-s", str(job.voice.speed)]
            _run([*argv, "-w", str(source), "--stdin"], stdin=job.text.encode("utf-8"))
        staged = []
        for final, rate in ((narrow, NARROW_RATE), (wide, WIDE_RATE)):
            target = tmp_dir / final.name
            _run(_convert_commands(job, source, target, rate))
            staged.append((target, final))
        for target, final in staged:
            os.replace(target, final)


def _read_output_manifest(out_dir: Path) -> dict[str, Any]:
    path = out_dir / OUTPUT_MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    entries = data.get("prompts") if isinstance(data, dict) else None
    return entries if isinstance(entries, dict) else {}


def _write_output_manifest(out_dir: Path, entries: dict[str, Any]) -> None:
    body = {"builder": BUILDER_VERSION, "prompts": dict(sorted(entries.items()))}
    tmp = out_dir / f".{OUTPUT_MANIFEST}.tmp"
    tmp.write_text(json.dumps(body, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, out_dir / OUTPUT_MANIFEST)


def _is_current(job: PromptJob, out_dir: Path, entries: dict[str, Any]) -> bool:
    entry = entries.get(job.name)
    return (
        isinstance(entry, dict)
        and entry.get("key") == job.key
        and all(p.is_file() for p in job.outputs(out_dir))
    )


def _remove_stale(out_dir: Path, entries: dict[str, Any], keep: set[str]) -> list[str]:
    removed = []
    for name in sorted(set(entries) - keep):
        entry = entries.pop(name)
        for rel in entry.get("files", []) if isinstance(entry, dict) else []:
            path = out_dir / rel
            if path.is_file() and path.resolve().is_relative_to(out_dir.resolve()):
                path.unlink()
        removed.append(name)
    return removed


def build_prompts(
    manifest: PromptManifest,
    out_dir: Path,
    override_dir: Path | None = None,
    *,
    jobs: int = 0,
    force: bool = False,
    progress: Callable[[BuildResult], None] | None = None,
) -> BuildReport:
    """Build every prompt of every language into ``out_dir`` (see the module invariants)."""
    started = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = _read_output_manifest(out_dir)
    todo = plan(manifest, override_dir)
    removed = _remove_stale(out_dir, entries, {job.name for job in todo})
    results: list[BuildResult] = []
    pending = []
    for job in todo:
        if not force and _is_current(job, out_dir, entries):
            results.append(BuildResult(job, Status.SKIPPED, 0.0))
            if progress:
                progress(results[-1])
        else:
            pending.append(job)
    workers = jobs or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prompt-build") as pool:
        futures = {pool.submit(_timed_build, job, out_dir): job for job in pending}
        for future in as_completed(futures):
            result = future.result()
            results.append(result)
            if result.status is Status.BUILT:
                entries[result.job.name] = _entry(result.job, out_dir)
            if progress:
                progress(result)
    _write_output_manifest(out_dir, entries)
    return BuildReport(tuple(results), tuple(removed), time.monotonic() - started)


def _timed_build(job: PromptJob, out_dir: Path) -> BuildResult:
    t0 = time.monotonic()
    try:
        build_one(job, out_dir)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        return BuildResult(job, Status.FAILED, time.monotonic() - t0, str(exc))
    return BuildResult(job, Status.BUILT, time.monotonic() - t0)


def _entry(job: PromptJob, out_dir: Path) -> dict[str, Any]:
    files = [str(p.relative_to(out_dir)) for p in job.outputs(out_dir)]
    source = str(job.override) if job.override else job.voice.name
    return {"key": job.key, "source": job.source.value, "from": source, "files": files}


def _wav_problem(path: Path, rate: int) -> str | None:
    try:
        with wave.open(str(path), "rb") as wav:
            if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) != (rate, 1, 2):
                return f"{path.name} is not {rate} Hz 16-bit mono"
            if wav.getnframes() == 0:
                return f"{path.name} is empty"
    except (OSError, wave.Error, EOFError) as exc:
        return f"{path.name} is not a readable WAV file ({exc})"
    return None


def wav_seconds(path: Path) -> float:
    """The playing time of a WAV file; raises OSError (or wave.Error) if it cannot be read."""
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def prompt_durations(manifest: PromptManifest, out_dir: Path) -> dict[tuple[str, str], float]:
    """(language, prompt id) -> seconds of the 8 kHz file the PBX plays, for every built prompt
    (a real recording placed as an override is what was built, so its length counts)."""
    out: dict[tuple[str, str], float] = {}
    for prompt_id in manifest.prompts:
        for language in manifest.languages:
            path = out_dir / language / f"{prompt_id}.wav"
            try:
                out[(language, prompt_id)] = wav_seconds(path)
            except (OSError, wave.Error, EOFError, ZeroDivisionError):
                continue  # reported by check_prompts; the budget names what it lacks
    return out


def check_prompts(
    manifest: PromptManifest, out_dir: Path, override_dir: Path | None = None
) -> list[str]:
    """Problems that ``build_prompts`` would fix (missing, outdated or broken files)."""
    entries = _read_output_manifest(out_dir)
    problems = []
    for job in plan(manifest, override_dir):
        narrow, wide = job.outputs(out_dir)
        if not narrow.is_file() or not wide.is_file():
            problems.append(f"{job.name}: not built")
            continue
        if not _is_current(job, out_dir, entries):
            problems.append(f"{job.name}: out of date ({job.source.value} changed)")
        for path, rate in ((narrow, NARROW_RATE), (wide, WIDE_RATE)):
            problem = _wav_problem(path, rate)
            if problem:
                problems.append(f"{job.name}: {problem}")
    return problems
