"""Message texts and citizens' identities at rest, under the recordings master key.

Invariants:
- Each message text is sealed with AES-256-GCM under a key derived (HKDF) from the ring's
  current master key; the associated data binds it to its conversation and sequence number,
  so a sealed text moved to another message or conversation does not open.
- Opening names the key by id: texts sealed before a key rotation still open.
- A chat citizen is identified by a random token they hold; only its SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from recordings.keys import KeyRing, NumberProtector, WrongKeyError

_LABEL = b"dasan conversation message v1"


def _derive(master: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(master)


class TextSealer:
    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring
        self._keys: dict[str, AESGCM] = {}
        self.numbers = NumberProtector(ring)

    @property
    def key_id(self) -> str:
        return self._ring.current_id

    def _aead(self, key_id: str) -> AESGCM:
        if key_id not in self._keys:
            self._keys[key_id] = AESGCM(_derive(self._ring.by_id(key_id)))
        return self._keys[key_id]

    def seal(self, text: str, conversation_id: str, seq: int) -> bytes:
        nonce = secrets.token_bytes(12)
        aad = f"{conversation_id}\0{seq}".encode()
        return nonce + self._aead(self.key_id).encrypt(nonce, text.encode(), aad)

    def open(self, blob: bytes, conversation_id: str, seq: int, key_id: str) -> str:
        aad = f"{conversation_id}\0{seq}".encode()
        try:
            return self._aead(key_id).decrypt(blob[:12], blob[12:], aad).decode()
        except InvalidTag as exc:
            raise WrongKeyError(f"message {conversation_id}#{seq} does not decrypt") from exc


def new_token() -> str:
    return secrets.token_urlsafe(24)


def token_hash(token: str) -> str:
    return hashlib.sha256(b"dasan chat token\0" + token.encode()).hexdigest()
