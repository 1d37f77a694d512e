"""Live suggestions (agent assist): cases for what was just said on a consultant's call.

While a Korean call talks to a consultant, a speech worker transcribes the call's recording as
the PBX writes it (``ivr.speech_pool.SpeechPool.transcribe``: the MixMonitor file, both sides
mixed, from the moment the consultant answered); each utterance it ends is searched in the
knowledge base and the best cases are handed to ``publish`` (the composition root pushes them
to the consultant's desktop).

Invariants:
- The engine process never recognizes speech: it only asks the pool and searches.
- At most one transcript per call; it is closed when the call ends (or stops talking to a
  consultant), when the worker dies (``SpeechUnavailable``: the call goes on without
  suggestions, logged once), and when ``run`` is cancelled. Nothing here can fail a call.
- Recognition is restricted to the words of the published case titles in the call's language
  (refreshed every ``VOCABULARY_TTL_S``); with no published title in that language the call is
  not transcribed at all. An utterance whose search finds nothing publishes
  nothing (the desktop keeps showing the last suggestions).
- Suggestions go to the consultant on the call when the utterance was searched (a transfer
  moves them with the call).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select

from common.storage import Storage
from ivr.speech_pool import SpeechUnavailable
from knowledge.models import KbCaseRow
from knowledge.search import SearchHit

log = logging.getLogger(__name__)

VOCABULARY_TTL_S = 300.0
_WORD = re.compile(r"[가-힣]+")


class TranscriptStream(Protocol):
    def said(self) -> AsyncIterator[dict[str, Any]]: ...
    def close(self) -> None: ...


class Transcriber(Protocol):
    """What assist needs from the speech pool (``ivr.speech_pool.SpeechPool``)."""

    def transcribe(self, path: Path, vocabulary: Sequence[str]) -> TranscriptStream | None: ...


Search = Callable[[str, str, int], Awaitable[list[SearchHit]]]
"""(text, language, limit) -> ranked hits."""


@dataclass(frozen=True, slots=True)
class AssistCall:
    """What assist needs to know about a live call (the composition root maps the CTI's
    call changes to it)."""

    call_id: str
    consultant_id: str | None
    language: str
    talking: bool
    ended: bool


@dataclass(frozen=True, slots=True)
class Suggestions:
    call_id: str
    consultant_id: str
    heard: str
    cases: tuple[SearchHit, ...]
    # Audio time (s since the transcript opened) at the end of the utterance's last word.
    audio_end_s: float


async def title_words(storage: Storage, language: str) -> list[str]:
    """The distinct Hangul words of the published case titles in ``language``."""
    async with storage.session() as session:
        titles = await session.scalars(
            select(KbCaseRow.title)
            .where(KbCaseRow.language == language, KbCaseRow.published_version.is_not(None))
            .distinct()
        )
        found = {w for title in titles if title for w in _WORD.findall(title)}
    return sorted(found)


class LiveAssist:
    """Per-call transcripts and the searches behind the suggestions."""

    def __init__(
        self,
        *,
        transcriber: Transcriber,
        search: Search,
        vocabulary: Callable[[str], Awaitable[list[str]]],
        locate: Callable[[str], Path | None],
        publish: Callable[[Suggestions], None],
        languages: frozenset[str] = frozenset({"ko"}),
        limit: int = 3,
    ) -> None:
        self._transcriber = transcriber
        self._search = search
        self._vocabulary = vocabulary
        self._locate = locate
        self._publish = publish
        self._languages = languages
        self._limit = limit
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._consultant: dict[str, str] = {}
        self._words: dict[str, tuple[float, list[str]]] = {}

    @property
    def active(self) -> int:
        return len(self._tasks)

    def observe(self, call: AssistCall) -> None:
        """A call changed: start transcribing when it talks to a consultant, stop at its end."""
        if call.ended or (not call.talking and call.consultant_id is None):
            self._stop(call.call_id)
            return
        if call.consultant_id is not None:
            self._consultant[call.call_id] = call.consultant_id
        if call.talking and call.call_id not in self._tasks and call.language in self._languages:
            task = asyncio.create_task(self._follow(call), name=f"assist-{call.call_id}")
            self._tasks[call.call_id] = task
            task.add_done_callback(partial(self._done, call.call_id))

    def retain(self, live: set[str]) -> None:
        """Only these calls are live (after lost changes): stop following any other."""
        for call_id in [c for c in self._tasks if c not in live]:
            self._stop(call_id)

    async def run(self) -> None:
        """Hold until cancelled, then close every transcript."""
        try:
            await asyncio.Event().wait()
        finally:
            for call_id in list(self._tasks):
                self._stop(call_id)

    def _stop(self, call_id: str) -> None:
        self._consultant.pop(call_id, None)
        task = self._tasks.pop(call_id, None)
        if task is not None:
            task.cancel()

    def _done(self, call_id: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(call_id) is task:
            del self._tasks[call_id]
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("assist %s: stopped", call_id, exc_info=exc)

    async def _follow(self, call: AssistCall) -> None:
        path = self._locate(call.call_id)
        if path is None:
            log.warning("assist %s: no recording file found: no suggestions", call.call_id)
            return
        words = await self._words_of(call.language)
        if not words:
            log.info(
                "assist %s: no published case titles in %s: nothing to listen for",
                call.call_id,
                call.language,
            )
            return
        stream = self._transcriber.transcribe(path, words)
        if stream is None:
            log.info("assist %s: no free transcription slot: no suggestions", call.call_id)
            return
        try:
            async for said in stream.said():
                await self._suggest(call, said)
        except SpeechUnavailable as exc:
            log.warning("assist %s: transcription ended: %s", call.call_id, exc)
        finally:
            stream.close()

    async def _suggest(self, call: AssistCall, said: dict[str, Any]) -> None:
        text = str(said.get("text", ""))
        hits = await self._search(text, call.language, self._limit)
        consultant = self._consultant.get(call.call_id)
        if not hits or consultant is None:
            return
        end_s = float(said.get("end_s", 0.0))
        self._publish(Suggestions(call.call_id, consultant, text, tuple(hits), end_s))

    async def _words_of(self, language: str) -> list[str]:
        now = time.monotonic()
        cached = self._words.get(language)
        if cached is None or now - cached[0] > VOCABULARY_TTL_S:
            cached = (now, await self._vocabulary(language))
            self._words[language] = cached
        return cached[1]


def find_recording(roots: Sequence[Path], uniqueid: str, now: float | None = None) -> Path | None:
    """The call's MixMonitor file ``<root>/YYYY/MM/DD/<uniqueid>.wav`` (UTC date of the answer:
    today or yesterday), the most recently written one when both roots hold one (the recording
    moved to the spare path)."""
    stamp = time.time() if now is None else now
    days = {time.strftime("%Y/%m/%d", time.gmtime(stamp - back)) for back in (0, 86400)}
    found: list[tuple[float, Path]] = []
    for root in roots:
        for day in days:
            path = root / day / f"{uniqueid}.wav"
            with contextlib.suppress(FileNotFoundError):
                found.append((path.stat().st_mtime, path))
    return max(found)[1] if found else None
