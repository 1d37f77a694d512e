"""The master key file, and protection of callers' numbers (personal data) derived from it.

Invariants:
- The key file holds one 32-byte key per line in hex (comments with ``#``); the first line
  is the current key, later lines are retired keys still able to decrypt older files.
- A key file readable by group or others is refused; a created one is mode 0600 in a 0700
  folder and is never overwritten (O_EXCL: two processes creating at once agree on one key).
- A key is named by ``key_id`` (a hash prefix), never by its bytes; ids are stored beside
  what they encrypted so a wrong key is reported as such, not as corruption.
- Callers' numbers are stored as an HMAC for lookup plus AES-256-GCM ciphertext bound to
  the call id; both keys are derived from the master key with HKDF (separate labels).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32


class KeyFileError(RuntimeError):
    """The master key file is missing, unreadable, malformed or too widely readable."""


class WrongKeyError(RuntimeError):
    """Data was encrypted under a key this key ring does not hold."""


def key_id_of(key: bytes) -> str:
    return hashlib.sha256(b"dasan-key-id\0" + key).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The current master key plus retired ones (for reading older data)."""

    keys: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not self.keys or any(len(k) != KEY_BYTES for k in self.keys):
            raise KeyFileError(f"a key ring needs keys of {KEY_BYTES} bytes")

    @property
    def current(self) -> bytes:
        return self.keys[0]

    @property
    def current_id(self) -> str:
        return key_id_of(self.current)

    def by_id(self, key_id: str) -> bytes:
        for key in self.keys:
            if key_id_of(key) == key_id:
                return key
        raise WrongKeyError(f"no key with id {key_id} in the key file (have {self.current_id})")

    @classmethod
    def generate(cls) -> KeyRing:
        return cls((secrets.token_bytes(KEY_BYTES),))


_HEX_KEY = re.compile(r"^[0-9a-fA-F]{64}$")


def _parse(path: Path, text: str) -> KeyRing:
    keys: list[bytes] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if not _HEX_KEY.match(line):
            raise KeyFileError(f"{path}:{number}: expected 64 hex digits (a 32-byte key)")
        keys.append(bytes.fromhex(line))
    if not keys:
        raise KeyFileError(f"{path}: no key in the file")
    return KeyRing(tuple(keys))


def load_key_ring(path: Path) -> KeyRing:
    """Read the key file, refusing one that group or others could read."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii")
    except FileNotFoundError as exc:
        raise KeyFileError(f"{path}: master key file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"{path}: cannot read the master key file: {exc}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"{path}: key file must not be accessible to group/others (chmod 600)")
    return _parse(path, text)


def create_key_file(path: Path) -> KeyRing:
    """Create a new key file (0600) unless one exists; returns the ring in the file."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    ring = KeyRing.generate()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_key_ring(path)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write("# Dasan recordings master key: keep secret, back up offline.\n")
        handle.write(ring.current.hex() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return ring


def load_or_create_key_ring(path: Path, *, create: bool) -> KeyRing:
    if create and not path.exists():
        return create_key_file(path)
    return load_key_ring(path)


def _derive(master: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(master)


def normalize_number(number: str) -> str:
    """Digits only, keeping a leading '+' (so '02-120' and '02 120' look up alike)."""
    stripped = number.strip()
    digits = re.sub(r"\D", "", stripped)
    return ("+" + digits) if stripped.startswith("+") else digits


class NumberProtector:
    """Keyed lookup hash and authenticated encryption of callers' numbers."""

    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring
        self._lookup_key = _derive(ring.current, b"dasan caller lookup v1")

    @property
    def key_id(self) -> str:
        return self._ring.current_id

    def lookup_hash(self, number: str) -> str:
        data = normalize_number(number).encode()
        return hmac.new(self._lookup_key, data, hashlib.sha256).hexdigest()

    def encrypt(self, number: str, call_id: str) -> bytes:
        nonce = secrets.token_bytes(12)
        key = _derive(self._ring.current, b"dasan caller number v1")
        return nonce + AESGCM(key).encrypt(nonce, number.encode(), call_id.encode())

    def decrypt(self, blob: bytes, call_id: str, key_id: str) -> str:
        key = _derive(self._ring.by_id(key_id), b"dasan caller number v1")
        try:
            return AESGCM(key).decrypt(blob[:12], blob[12:], call_id.encode()).decode()
        except InvalidTag as exc:
            raise WrongKeyError(f"caller number of call {call_id} does not decrypt") from exc
