"""After-call work: a disposition code and a free-text note per consultant and call, stored
encrypted.

Invariants:
- Disposition codes are data (``knowledge/data/dispositions.yaml`` or the settings); an unknown
  code is refused, never stored.
- The note's text exists in the database only as AES-256-GCM ciphertext under a key derived
  (HKDF, its own label) from the recordings master key, bound to the call and consultant as
  associated data, so a note moved to another call does not decrypt. The key id is stored
  beside it, so a rotated key still reads older notes and a missing one is reported as such.
- One note per consultant and call: writing again replaces it (during wrap-up).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources

import yaml
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from common.storage import Storage
from knowledge.models import CallNoteRow
from knowledge.store import Clock, utc_now
from recordings.keys import KeyRing, WrongKeyError

_LABEL = b"dasan call note v1"


class NoteError(ValueError):
    """The note or its disposition is not acceptable (the message says why)."""


@cache
def shipped_dispositions() -> dict[str, dict[str, str]]:
    text = resources.files("knowledge").joinpath("data/dispositions.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return {str(k): {str(a): str(b) for a, b in v.items()} for k, v in data.items()}


@dataclass(frozen=True, slots=True)
class Note:
    call_id: str
    consultant_id: str
    disposition: str
    text: str
    written_at: datetime

    def as_json(self) -> dict[str, str]:
        return {
            "call_id": self.call_id,
            "consultant_id": self.consultant_id,
            "disposition": self.disposition,
            "text": self.text,
            "written_at": self.written_at.isoformat(),
        }


def _key(master: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(master)


def _aad(call_id: str, consultant_id: str) -> bytes:
    return f"{call_id}\0{consultant_id}".encode()


class CallNotes:
    def __init__(
        self,
        storage: Storage,
        ring: KeyRing,
        dispositions: Iterable[str],
        *,
        max_chars: int = 4000,
        clock: Clock = utc_now,
    ) -> None:
        self._storage, self._ring = storage, ring
        self._codes = frozenset(dispositions)
        self._max = max_chars
        self._clock = clock

    def seal(self, text: str, call_id: str, consultant_id: str) -> bytes:
        nonce = secrets.token_bytes(12)
        aead = AESGCM(_key(self._ring.current))
        return nonce + aead.encrypt(nonce, text.encode(), _aad(call_id, consultant_id))

    def open(self, row: CallNoteRow) -> str:
        aead = AESGCM(_key(self._ring.by_id(row.key_id)))
        blob = row.note_enc
        try:
            plain = aead.decrypt(blob[:12], blob[12:], _aad(row.call_id, row.consultant_id))
        except InvalidTag as exc:
            raise WrongKeyError(f"the note of call {row.call_id} does not decrypt") from exc
        return plain.decode()

    async def write(
        self,
        call_id: str,
        consultant_id: str,
        disposition: str,
        text: str,
        caller_hash: str | None = None,
    ) -> Note:
        text = text.strip()
        if disposition not in self._codes:
            raise NoteError(f"unknown disposition {disposition!r}")
        if len(text) > self._max:
            raise NoteError(f"the note is longer than {self._max} characters")
        at = self._clock()
        sealed = self.seal(text, call_id, consultant_id)
        async with self._storage.write() as session:
            row = await session.scalar(
                select(CallNoteRow).where(
                    CallNoteRow.call_id == call_id, CallNoteRow.consultant_id == consultant_id
                )
            )
            if row is None:
                row = CallNoteRow(call_id=call_id, consultant_id=consultant_id)
                session.add(row)
            row.caller_hash = caller_hash
            row.disposition = disposition
            row.note_enc = sealed
            row.key_id = self._ring.current_id
            row.written_at = at
        return Note(call_id, consultant_id, disposition, text, at)

    async def has_note(self, call_id: str, consultant_id: str) -> bool:
        async with self._storage.session() as session:
            found = await session.scalar(
                select(CallNoteRow.id).where(
                    CallNoteRow.call_id == call_id, CallNoteRow.consultant_id == consultant_id
                )
            )
        return found is not None

    async def for_calls(self, call_ids: Iterable[str]) -> list[Note]:
        ids = sorted(set(call_ids))
        if not ids:
            return []
        async with self._storage.session() as session:
            rows = list(
                await session.scalars(
                    select(CallNoteRow)
                    .where(CallNoteRow.call_id.in_(ids))
                    .order_by(CallNoteRow.written_at)
                )
            )
        return [
            Note(r.call_id, r.consultant_id, r.disposition, self.open(r), r.written_at)
            for r in rows
        ]


class WrapUpNoteGate:
    """With ``require_note``: a consultant's wrap-up may end early only once the note of
    their latest call is written (see ``cti.center.LiveCenter``'s wrap-up gate)."""

    def __init__(self, storage: Storage, notes: CallNotes) -> None:
        self._storage, self._notes = storage, notes

    async def __call__(self, consultant_id: str) -> str | None:
        from recordings.models import ParticipantRow

        async with self._storage.session() as session:
            call_id = await session.scalar(
                select(ParticipantRow.call_id)
                .where(ParticipantRow.person_id == consultant_id)
                .order_by(ParticipantRow.joined_at.desc())
                .limit(1)
            )
        if call_id is None or await self._notes.has_note(call_id, consultant_id):
            return None
        return f"write the disposition and note of call {call_id} before ending wrap-up"
