"""The blocking half of the after-close pipeline: hash, convert, verify, seal, replace.

Invariants:
- The archive is written to ``<name>.part``, fsynced, verified and only then renamed into
  place (and the folder fsynced); a crash leaves either no archive or a complete one.
- The archive is verified before anything else happens: it must decode to the WAV's
  duration within the configured slack, and (when encrypted) decrypt back to exactly the
  bytes that were encoded. The WAV is never removed here; the pipeline removes it only after
  the catalog has recorded the archive.
- Everything here blocks; the pipeline calls it from worker threads.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from recordings.audio import (
    ARCHIVE_SUFFIX,
    AudioError,
    WavInfo,
    decoded_duration_ms,
    encode_archive,
    inspect_wav,
    read_pcm,
    sha256_file,
)
from recordings.crypto import Sealed, decrypt_all, seal
from recordings.keys import KeyRing
from recordings.layout import LOCK_SUFFIX, PART_SUFFIX
from recordings.settings import ArchiveFormat


class ArchiveError(RuntimeError):
    """The archive could not be produced or did not verify; the WAV is untouched."""


@dataclass(frozen=True, slots=True)
class ClosedWav:
    info: WavInfo
    sha256: str
    size: int
    mtime: float


CLOCK_PROBE = ".clock-probe"


def fs_now(directory: Path) -> float:
    """The present time on the clock that stamps the files in ``directory``: the fresh mtime
    of a probe written there. A file's age is measured on that clock, never on this process's:
    an engine whose clock is stepped or skewed (or a spool another host writes) must not take
    a file still being written for one left behind. The probe's name is no recording's."""
    probe = directory / f"{CLOCK_PROBE}-{os.getpid()}-{threading.get_ident()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"\n")  # a write: the kernel (or the file server) stamps the mtime
            return os.fstat(fd).st_mtime
        finally:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(probe)  # nothing is left in the spool
    except OSError:  # a full or read-only spool: this process's clock is all there is
        return time.time()


def inspect_closed(path: Path) -> ClosedWav:
    info = inspect_wav(path)
    mtime = path.stat().st_mtime
    digest, size = sha256_file(path)
    return ClosedWav(info, digest, size, mtime)


def finish_removal(wav: Path, archive: Path) -> bool:
    """Remove a WAV left behind after its archive was cataloged (True if removed)."""
    if archive.exists() and wav.exists():
        remove_file(wav)
        return True
    return False


@dataclass(frozen=True, slots=True)
class Produced:
    path: Path
    format: str
    archive_sha256: str
    archive_duration_ms: int
    stored_size: int
    stored_sha256: str
    key_id: str | None


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_part(target: Path, data: bytes, ring: KeyRing | None, context: str) -> Sealed | None:
    part = target.with_name(target.name + PART_SUFFIX)
    try:
        with part.open("wb") as handle:
            sealed = seal(io.BytesIO(data), handle, ring, context) if ring is not None else None
            if sealed is None:
                handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return sealed
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def produce_archive(
    wav: Path,
    *,
    fmt: ArchiveFormat,
    bitrate: str,
    ring: KeyRing | None,
    context: str,
    slack_ms: int,
    complexity: int = 5,
) -> Produced:
    """Convert ``wav`` into its archive beside it (sealed when ``ring`` is given), verified.

    An empty recording (no frames: codecs reject empty input) is archived as its WAV bytes.
    """
    info = inspect_wav(wav)
    target = archive_target(wav, fmt, ring is not None, empty=info.frames == 0)
    if target == wav:  # empty and unencrypted: the WAV is its own archive
        digest, size = sha256_file(wav)
        return Produced(wav, "wav", digest, 0, size, digest, None)
    data, decoded_ms = _encoded(wav, info, fmt, bitrate, complexity)
    if abs(decoded_ms - info.duration_ms) > slack_ms:
        raise ArchiveError(
            f"{fmt.value} archive decodes to {decoded_ms} ms, the recording is {info.duration_ms} ms"
        )
    stored_sha, stored_size, key_id = _store_verified(target, data, ring, context)
    return Produced(
        path=target,
        format="wav" if info.frames == 0 else fmt.value,
        archive_sha256=hashlib.sha256(data).hexdigest(),
        archive_duration_ms=decoded_ms,
        stored_size=stored_size,
        stored_sha256=stored_sha,
        key_id=key_id,
    )


def _encoded(
    wav: Path, info: WavInfo, fmt: ArchiveFormat, bitrate: str, complexity: int
) -> tuple[bytes, int]:
    """The archive bytes and the duration they decode to."""
    try:
        if info.frames == 0:  # nothing to encode (codecs reject empty input): keep the WAV bytes
            return wav.read_bytes(), 0
        data = encode_archive(read_pcm(wav, info), info, fmt, bitrate, complexity)
        return data, decoded_duration_ms(data, info.sample_rate)
    except AudioError as exc:
        raise ArchiveError(str(exc)) from exc


def _store_verified(
    target: Path, data: bytes, ring: KeyRing | None, context: str
) -> tuple[str, int, str | None]:
    """Write ``data`` (sealed if ``ring``) to ``target`` atomically, checked; (sha, size, key)."""
    part = target.with_name(target.name + PART_SUFFIX)
    sealed = _write_part(target, data, ring, context)
    try:
        if ring is not None:
            with part.open("rb") as handle:
                if decrypt_all(handle, ring, context) != data:
                    raise ArchiveError("sealed archive does not decrypt to what was encoded")
        stored_sha, stored_size = sha256_file(part)
        os.replace(part, target)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
    return stored_sha, stored_size, sealed.key_id if sealed is not None else None


def archive_target(wav: Path, fmt: ArchiveFormat, encrypted: bool, empty: bool = False) -> Path:
    """Where the archive of ``wav`` goes (an empty recording keeps its WAV form, sealed)."""
    suffix = ".wav" if empty else ARCHIVE_SUFFIX[fmt]
    name = wav.name.removesuffix(".wav") + suffix + (".enc" if encrypted else "")
    return wav.with_name(name)


def try_lock(wav: Path) -> int | None:
    """An exclusive, non-blocking flock on ``<wav>.lock``: its fd, or None when held elsewhere."""
    fd = os.open(wav.with_name(wav.name + LOCK_SUFFIX), os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def unlock(fd: int, wav: Path | None = None) -> None:
    """Release a lock from ``try_lock``; remove the lock file too when ``wav`` is given."""
    if wav is not None:
        wav.with_name(wav.name + LOCK_SUFFIX).unlink(missing_ok=True)
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def remove_file(path: Path) -> None:
    path.unlink(missing_ok=True)
    fsync_dir(path.parent)
