"""Encryption of recordings at rest: AES-256-GCM in chunks, one data key per file.

File layout: ``MAGIC`` · u32 header length · header JSON · chunks. The header names the key
(``key_id``), carries the data key wrapped (AES-256-GCM) under the master key, the nonce
prefix, chunk size and a ``context`` (the recording's uniqueid). Each chunk is up to
``chunk`` bytes of plaintext sealed with nonce = prefix(7) · counter(4) · last-flag(1) and
the SHA-256 of the header as associated data.

Invariants:
- Decryption yields only authenticated plaintext: an edited header, a swapped, reordered,
  edited or dropped chunk, or a truncated file raises ``DecryptionError`` before the bad
  bytes are returned (each chunk is checked before it is yielded; the last one is flagged).
- A file sealed under a key not in the ring raises ``WrongKeyError`` (by key id) — never
  plaintext, never a misleading "corrupt" verdict.
- Memory is bounded by one chunk, so any recording can be streamed to a listener.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from recordings.keys import KeyRing, WrongKeyError

MAGIC = b"DASANENC1\n"
CHUNK = 64 * 1024
TAG = 16
_MAX_HEADER = 4096
ALGORITHM = "AES-256-GCM/chunked-v1"


class DecryptionError(RuntimeError):
    """The file is not a valid Dasan envelope or it was altered."""


@dataclass(frozen=True, slots=True)
class Sealed:
    """What sealing a stream produced (hashes of both sides, for the catalog)."""

    key_id: str
    plaintext_size: int
    plaintext_sha256: str
    stored_size: int
    stored_sha256: str


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object) -> bytes:
    if not isinstance(text, str):
        raise DecryptionError("malformed envelope header")
    return base64.b64decode(text, validate=True)


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + struct.pack(">I", counter) + (b"\x01" if last else b"\x00")


class _HashingWriter:
    def __init__(self, dst: BinaryIO) -> None:
        self.dst, self.size, self.digest = dst, 0, hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.dst.write(data)
        self.size += len(data)
        self.digest.update(data)


def seal(src: BinaryIO, dst: BinaryIO, ring: KeyRing, context: str, chunk: int = CHUNK) -> Sealed:
    """Encrypt ``src`` into ``dst`` under a fresh data key wrapped by the ring's current key."""
    data_key, wrap_nonce, prefix = (
        secrets.token_bytes(32),
        secrets.token_bytes(12),
        secrets.token_bytes(7),
    )
    key_id = ring.current_id
    wrapped = AESGCM(ring.current).encrypt(
        wrap_nonce, data_key, b"dasan-data-key\0" + key_id.encode()
    )
    header = json.dumps(
        {
            "alg": ALGORITHM,
            "key_id": key_id,
            "wrap_nonce": _b64(wrap_nonce),
            "wrapped_key": _b64(wrapped),
            "nonce_prefix": _b64(prefix),
            "chunk": chunk,
            "context": context,
        },
        sort_keys=True,
    ).encode()
    aad = hashlib.sha256(header).digest()
    out = _HashingWriter(dst)
    out.write(MAGIC + struct.pack(">I", len(header)) + header)
    aead, plain_hash, plain_size, counter = AESGCM(data_key), hashlib.sha256(), 0, 0
    block = src.read(chunk)
    while True:
        following = src.read(chunk) if len(block) == chunk else b""
        last = not following
        plain_hash.update(block)
        plain_size += len(block)
        out.write(aead.encrypt(_nonce(prefix, counter, last), block, aad))
        if last:
            break
        block, counter = following, counter + 1
    return Sealed(key_id, plain_size, plain_hash.hexdigest(), out.size, out.digest.hexdigest())


@dataclass(frozen=True, slots=True)
class Envelope:
    key_id: str
    context: str
    chunk: int
    aad: bytes
    prefix: bytes
    wrap_nonce: bytes
    wrapped_key: bytes


def read_envelope(src: BinaryIO) -> Envelope:
    """Parse the header at the start of ``src`` (leaves the stream at the first chunk)."""
    if src.read(len(MAGIC)) != MAGIC:
        raise DecryptionError("not a Dasan encrypted recording")
    raw_len = src.read(4)
    if len(raw_len) != 4:
        raise DecryptionError("truncated envelope header")
    (length,) = struct.unpack(">I", raw_len)
    if length > _MAX_HEADER:
        raise DecryptionError("envelope header too large")
    header = src.read(length)
    try:
        fields = json.loads(header)
        if fields.get("alg") != ALGORITHM:
            raise DecryptionError(f"unknown algorithm {fields.get('alg')!r}")
        chunk = int(fields["chunk"])
        if not 0 < chunk <= 1 << 24:
            raise DecryptionError("bad chunk size in envelope header")
        return Envelope(
            key_id=str(fields["key_id"]),
            context=str(fields["context"]),
            chunk=chunk,
            aad=hashlib.sha256(header).digest(),
            prefix=_unb64(fields["nonce_prefix"]),
            wrap_nonce=_unb64(fields["wrap_nonce"]),
            wrapped_key=_unb64(fields["wrapped_key"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise DecryptionError(f"malformed envelope header: {exc}") from exc


def _data_key(envelope: Envelope, ring: KeyRing) -> bytes:
    master = ring.by_id(envelope.key_id)  # WrongKeyError when the ring lacks it
    try:
        return AESGCM(master).decrypt(
            envelope.wrap_nonce,
            envelope.wrapped_key,
            b"dasan-data-key\0" + envelope.key_id.encode(),
        )
    except InvalidTag as exc:
        raise DecryptionError("the wrapped data key does not authenticate") from exc


def open_sealed(
    src: BinaryIO, ring: KeyRing, expected_context: str | None = None
) -> Iterator[bytes]:
    """Authenticated plaintext chunks of an envelope read from ``src``."""
    envelope = read_envelope(src)
    if expected_context is not None and envelope.context != expected_context:
        raise DecryptionError(f"envelope belongs to {envelope.context!r}, not {expected_context!r}")
    aead = AESGCM(_data_key(envelope, ring))
    return _chunks(src, aead, envelope)


def _chunks(src: BinaryIO, aead: AESGCM, envelope: Envelope) -> Iterator[bytes]:
    size = envelope.chunk + TAG
    block, counter = src.read(size), 0
    while True:
        if len(block) < TAG:
            raise DecryptionError("truncated encrypted recording")
        following = src.read(size) if len(block) == size else b""
        last = not following
        try:
            yield aead.decrypt(_nonce(envelope.prefix, counter, last), block, envelope.aad)
        except InvalidTag as exc:
            raise DecryptionError(
                f"chunk {counter} does not authenticate (altered or truncated)"
            ) from exc
        if last:
            return
        block, counter = following, counter + 1


def decrypt_all(src: BinaryIO, ring: KeyRing, expected_context: str | None = None) -> bytes:
    return b"".join(open_sealed(src, ring, expected_context))


__all__ = [
    "DecryptionError",
    "Envelope",
    "Sealed",
    "WrongKeyError",
    "decrypt_all",
    "open_sealed",
    "read_envelope",
    "seal",
]
