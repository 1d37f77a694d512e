"""Reading a cataloged recording back from disk, decrypting where needed (blocking helpers).

Invariants:
- What is read is checked against the catalog: the stored file's SHA-256 must match
  ``stored_sha256`` (or ``sha256`` for a WAV not yet archived) and, for encrypted files,
  the decrypted archive must match ``archive_sha256``; otherwise ``StoredMismatch``.
- Sealed files are opened with the recording's uniqueid as the expected context, so a file
  swapped in from another call does not decrypt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

from recordings.audio import sha256_file
from recordings.catalog import Recording
from recordings.crypto import CHUNK, open_sealed
from recordings.keys import KeyRing
from recordings.layout import Roots

MEDIA_TYPES = {"opus": "audio/ogg", "flac": "audio/flac", "wav": "audio/wav"}


class StoredMismatch(RuntimeError):
    """The file on disk is not what the catalog recorded."""


@dataclass(frozen=True, slots=True)
class StoredFile:
    path: Path
    format: str
    encrypted: bool
    expected_sha256: str | None

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES.get(self.format, "application/octet-stream")


def stored_file(roots: Roots, recording: Recording) -> StoredFile:
    if recording.archive_rel_path:
        return StoredFile(
            roots.absolute(recording.root, recording.archive_rel_path),
            recording.archive_format or "wav",
            recording.encrypted,
            recording.stored_sha256,
        )
    return StoredFile(
        roots.absolute(recording.root, recording.rel_path), "wav", False, recording.sha256
    )


def check_stored(stored: StoredFile) -> None:
    """Raise ``StoredMismatch`` unless the file's hash is the cataloged one."""
    digest, _size = sha256_file(stored.path)
    if stored.expected_sha256 is not None and digest != stored.expected_sha256:
        raise StoredMismatch(f"{stored.path}: SHA-256 differs from the catalog")


def plain_chunks(
    stored: StoredFile, ring: KeyRing | None, context: str
) -> Generator[bytes, None, None]:
    """The recording's audio bytes (decrypted when sealed), chunk by chunk."""
    with stored.path.open("rb") as handle:
        if stored.encrypted:
            if ring is None:
                raise StoredMismatch(f"{stored.path} is encrypted and no master key is loaded")
            yield from open_sealed(handle, ring, context)
        else:
            while block := handle.read(CHUNK):
                yield block


def read_plain(roots: Roots, recording: Recording, ring: KeyRing | None) -> bytes:
    """The whole audio (archive bytes or WAV), verified against every cataloged hash."""
    stored = stored_file(roots, recording)
    check_stored(stored)
    data = b"".join(plain_chunks(stored, ring, recording.uniqueid))
    expected = recording.archive_sha256 if stored.encrypted else None
    if expected is not None and hashlib.sha256(data).hexdigest() != expected:
        raise StoredMismatch(f"{stored.path}: decrypted archive differs from the catalog")
    return data
