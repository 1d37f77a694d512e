"""Transcripts at rest: the text sealed with AES-256-GCM, searchable through keyed hashes.

The search index holds, per transcript, an HMAC-SHA-256 (key derived from the master key,
its own label) of every distinct character and pair of adjacent characters of the lower-cased
text. A keyword's pieces select candidate transcripts without the database ever holding text;
the candidates are then decrypted and checked for the keyword itself, so search keeps its
meaning (a case-insensitive substring) exactly.

Invariants:
- The ciphertext is bound to its recording id (associated data): a row moved to another
  recording does not decrypt. The key id is stored beside it.
- Without the key, the database holds no transcript text; the hashes reveal only which
  transcripts share a piece of text, not what it is.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from recordings.keys import KeyRing, WrongKeyError

_SEAL_LABEL = b"dasan transcript text v1"
_TOKEN_LABEL = b"dasan transcript token v1"


def _derive(master: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(master)


def pieces(text: str) -> set[str]:
    """Distinct characters (but spaces) and adjacent pairs of the lower-cased text."""
    low = text.lower()
    found = {c for c in low if not c.isspace()}
    found.update(low[i : i + 2] for i in range(len(low) - 1))
    return found


def keyword_pieces(keyword: str) -> set[str]:
    low = keyword.lower()
    if len(low) == 1:
        return {low}
    return {low[i : i + 2] for i in range(len(low) - 1)}


class TextSealer:
    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring
        self._token_key = _derive(ring.current, _TOKEN_LABEL)

    @property
    def key_id(self) -> str:
        return self._ring.current_id

    def seal(self, text: str, recording_id: int) -> bytes:
        nonce = secrets.token_bytes(12)
        aead = AESGCM(_derive(self._ring.current, _SEAL_LABEL))
        return nonce + aead.encrypt(nonce, text.encode(), str(recording_id).encode())

    def open(self, blob: bytes, recording_id: int, key_id: str) -> str:
        aead = AESGCM(_derive(self._ring.by_id(key_id), _SEAL_LABEL))
        try:
            return aead.decrypt(blob[:12], blob[12:], str(recording_id).encode()).decode()
        except InvalidTag as exc:
            raise WrongKeyError(f"transcript of recording {recording_id} does not decrypt") from exc

    def token(self, piece: str) -> str:
        return hmac.new(self._token_key, piece.encode(), hashlib.sha256).hexdigest()

    def tokens(self, text: str) -> list[str]:
        return sorted({self.token(p) for p in pieces(text)})
