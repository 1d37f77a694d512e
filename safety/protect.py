"""Personal data of enrolled people, encrypted at rest like callers' numbers.

Invariants:
- Name, number, emergency contact and welfare officer are stored only as one AES-256-GCM
  ciphertext bound to the person's id (a row copied onto another id does not decrypt), under
  a key derived (HKDF, its own label) from the recordings master key; the key id is stored
  beside it. The number is also kept as a keyed hash (HMAC) to find duplicates.
- District, language, hours and the personal-call flag are not identifying on their own and
  stay in clear: schedules and per-district reports need them without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from recordings.keys import KeyRing, WrongKeyError

_FIELDS = (
    "name",
    "number",
    "emergency_name",
    "emergency_number",
    "officer_name",
    "officer_number",
)


@dataclass(frozen=True, slots=True)
class Sealed:
    number_hash: str
    blob: bytes
    key_id: str


def _derive(master: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(master)


class PersonalData:
    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring
        self._lookup = _derive(ring.current, b"dasan safety lookup v1")

    def number_hash(self, number: str) -> str:
        return hmac.new(self._lookup, number.encode(), hashlib.sha256).hexdigest()

    def seal(self, person_id: str, fields: dict[str, str]) -> Sealed:
        data = json.dumps({k: fields[k] for k in _FIELDS}, ensure_ascii=False).encode()
        nonce = secrets.token_bytes(12)
        key = _derive(self._ring.current, b"dasan safety person v1")
        blob = nonce + AESGCM(key).encrypt(nonce, data, person_id.encode())
        return Sealed(self.number_hash(fields["number"]), blob, self._ring.current_id)

    def open(self, person_id: str, blob: bytes, key_id: str) -> dict[str, str]:
        key = _derive(self._ring.by_id(key_id), b"dasan safety person v1")
        try:
            data = AESGCM(key).decrypt(blob[:12], blob[12:], person_id.encode())
        except InvalidTag as exc:
            raise WrongKeyError(f"personal data of {person_id} does not decrypt") from exc
        loaded = json.loads(data)
        return {k: str(loaded[k]) for k in _FIELDS}
