"""Where recordings live: roots, deterministic names, PBX-to-host paths, spool scanning.

Invariants:
- A recording is ``<root>/YYYY/MM/DD/<uniqueid>.wav`` (UTC date of the call); its archive
  sits beside it as ``<uniqueid>.opus|.flac`` plus ``.enc`` when encrypted. Files being
  written carry a ``.part`` suffix and are renamed into place only when complete.
- A chat or SMS conversation's record is its sealed transcript ``<id>.jsonl.enc``
  (``channels.transcript``), beside the calls' recordings.
- The catalog stores (root, path relative to the root), never absolute paths, so the spool
  can move in the settings without orphaning anything.
- Asterisk uniqueids contain a dot (``1732800000.42``): names are parsed by known suffixes,
  never by splitting on the first dot.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from recordings.models import Root
from recordings.settings import RecordingsHost

PART_SUFFIX = ".part"
LOCK_SUFFIX = ".lock"
_SUFFIXES = (".opus.enc", ".flac.enc", ".wav.enc", ".jsonl.enc", ".opus", ".flac", ".wav")


class LayoutError(ValueError):
    """A path is outside every recordings root or does not name a recording."""


def key_file(settings: RecordingsHost) -> Path:
    return settings.recordings.key_file or settings.state_dir / "keys" / "recordings.key"


def cdr_files(settings: RecordingsHost) -> tuple[Path, ...]:
    """The PBX's CDR CSV files (cdr_custom as our PBX writes it, or cdr_csv)."""
    if settings.recordings.cdr_csv is not None:
        return (settings.recordings.cdr_csv,)
    log = settings.pbx_dir / "log"
    return (log / "cdr-custom" / "Master.csv", log / "cdr-csv" / "Master.csv")


def cel_files(settings: RecordingsHost) -> tuple[Path, ...]:
    """The PBX's channel-event CSV (cel_custom, as our PBX writes it)."""
    return (settings.pbx_dir / "log" / "cel-custom" / "Master.csv",)


@dataclass(frozen=True, slots=True)
class Roots:
    primary: Path
    spare: Path

    @classmethod
    def of(cls, settings: RecordingsHost) -> Roots:
        return cls(settings.recordings_dir, settings.recordings_spare_dir)

    def path(self, root: Root | str) -> Path:
        return self.primary if Root(root) is Root.PRIMARY else self.spare

    def absolute(self, root: Root | str, rel_path: str) -> Path:
        return self.path(root) / rel_path

    def locate(self, path: Path) -> tuple[Root, str]:
        """(root, relative path) of a host path inside one of the roots."""
        resolved = path.resolve()
        for root in Root:
            base = self.path(root).resolve()
            if resolved.is_relative_to(base):
                return root, resolved.relative_to(base).as_posix()
        raise LayoutError(f"{path} is not under {self.primary} or {self.spare}")


def mounted_host_path(settings: RecordingsHost, path: str | Path) -> Path | None:
    """The host path of a path as the PBX sees it (inside its container), or None when it is
    under neither recordings folder the PBX mounts (primary, spare)."""
    text = str(path)
    mapping = (
        (settings.recordings.pbx_spool_dir, settings.recordings_dir),
        (settings.recordings.pbx_spare_dir, settings.recordings_spare_dir),
    )
    for inside, host in mapping:
        prefix = inside.rstrip("/") + "/"
        if text.startswith(prefix):
            return host / text[len(prefix) :]
    return None


def host_path(settings: RecordingsHost, path: str | Path) -> Path:
    """Translate a path as the PBX sees it to the host path (a path outside the mounted
    recordings folders is taken as a host path already)."""
    return mounted_host_path(settings, path) or Path(str(path))


def relative_wav(uniqueid: str, day: datetime) -> str:
    """``YYYY/MM/DD/<uniqueid>.wav`` for the (UTC) day of the call."""
    return f"{day:%Y/%m/%d}/{uniqueid}.wav"


def split_name(name: str) -> tuple[str, str] | None:
    """(uniqueid, suffix) for a recording file name, or None for anything else."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], suffix
    return None


@dataclass(frozen=True, slots=True)
class FoundFile:
    root: Root
    rel_path: str
    uniqueid: str
    suffix: str
    size: int
    mtime: float

    @property
    def is_wav(self) -> bool:
        return self.suffix == ".wav"


def scan(roots: Roots) -> Iterator[FoundFile]:
    """Every recording-like file under both roots (``.part`` files are not listed)."""
    for root in Root:
        base = roots.path(root)
        if not base.is_dir():
            continue
        for folder, _dirs, files in os.walk(base):
            for name in files:
                parsed = split_name(name)
                if parsed is None:
                    continue
                full = Path(folder) / name
                try:
                    info = full.stat()
                except FileNotFoundError:  # archived and removed while we walked
                    continue
                rel = full.relative_to(base).as_posix()
                yield FoundFile(root, rel, parsed[0], parsed[1], info.st_size, info.st_mtime)


def stale_parts(roots: Roots) -> Iterator[Path]:
    for root in Root:
        base = roots.path(root)
        if base.is_dir():
            yield from base.rglob(f"*{PART_SUFFIX}")
