"""Live suggestions (issue 16): a Korean call talking to a consultant is transcribed, each
utterance is searched over the real (SQLite) knowledge base and its best cases go to the call's
consultant; the transcript closes at the call's end; other languages, and calls finding no
free slot, get nothing and lose nothing. The CTI's /ws shows suggestions to that consultant
only. The transcriber is a fake (the worker side has its own tests)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kb_support import load_slice

from common.principal import Principal, Role
from cti.control import SuggestedCase, SuggestionsChanged
from cti.web.ws import visible
from knowledge.assist import AssistCall, LiveAssist, Suggestions, find_recording, title_words
from knowledge.corpus import GeneratedCase
from knowledge.search import SearchHit
from knowledge.system import KnowledgeBase


class FakeStream:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closed = asyncio.Event()

    async def said(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            yield await self.queue.get()

    def close(self) -> None:
        self.closed.set()


class FakeTranscriber:
    def __init__(self, slots: int = 5) -> None:
        self.opened: list[tuple[Path, tuple[str, ...], FakeStream]] = []
        self.slots = slots

    def transcribe(self, path: Path, vocabulary: Sequence[str]) -> FakeStream | None:
        if len(self.opened) >= self.slots:
            return None
        stream = FakeStream()
        self.opened.append((path, tuple(vocabulary), stream))
        return stream


def _assist(kb: KnowledgeBase, transcriber: FakeTranscriber, out: list[Suggestions]) -> LiveAssist:
    async def search(text: str, language: str, limit: int) -> list[SearchHit]:
        return await kb.search.search(text, language=language, limit=limit, day=None)

    async def vocabulary(language: str) -> list[str]:
        return await title_words(kb.storage, language)

    return LiveAssist(
        transcriber=transcriber,
        search=search,
        vocabulary=vocabulary,
        locate=lambda call_id: Path(f"/spool/{call_id}.wav"),
        publish=out.append,
    )


async def _until(check: Any, what: str) -> None:
    async with asyncio.timeout(10):
        while not check():  # noqa: ASYNC110 - polling a fake's state, with a deadline
            await asyncio.sleep(0.01)


async def test_what_is_said_brings_matching_cases_to_the_calls_consultant(
    kb: KnowledgeBase, corpus: list[GeneratedCase]
) -> None:
    await load_slice(
        kb, [c for c in corpus if c.topic in ("여권 발급", "버스 환승 할인") and c.district is None]
    )
    transcriber, out = FakeTranscriber(), []
    assist = _assist(kb, transcriber, out)
    runner = asyncio.create_task(assist.run())
    try:
        assist.observe(AssistCall("1.1", "c0001", "ko", talking=False, ended=False))
        assist.observe(AssistCall("2.2", "c0002", "en", talking=True, ended=False))
        assert transcriber.opened == [] and assist.active == 0  # not talking yet; not Korean
        assist.observe(AssistCall("1.1", "c0001", "ko", talking=True, ended=False))
        await _until(lambda: transcriber.opened, "transcript opened")
        path, vocabulary, stream = transcriber.opened[0]
        assert path == Path("/spool/1.1.wav") and {"여권", "발급"} <= set(vocabulary)
        assist.observe(AssistCall("1.1", "c0001", "ko", talking=True, ended=False))
        assert len(transcriber.opened) == 1  # one transcript per call

        stream.queue.put_nowait({"text": "여권 발급 신청", "start_s": 1.0, "end_s": 2.4})
        await _until(lambda: out, "suggestions published")
        first = out[0]
        assert (first.call_id, first.consultant_id, first.heard) == (
            "1.1",
            "c0001",
            "여권 발급 신청",
        )
        assert first.audio_end_s == 2.4 and 1 <= len(first.cases) <= 3
        assert "여권" in first.cases[0].title, first.cases

        # A transfer: the next suggestions go to the consultant now on the call.
        assist.observe(AssistCall("1.1", "c0007", "ko", talking=True, ended=False))
        stream.queue.put_nowait({"text": "버스 환승 할인", "start_s": 3.0, "end_s": 4.0})
        await _until(lambda: len(out) == 2, "second suggestions")
        assert out[1].consultant_id == "c0007" and "환승" in out[1].cases[0].title

        assist.observe(AssistCall("1.1", "c0007", "ko", talking=False, ended=True))
        await _until(stream.closed.is_set, "transcript closed at the call's end")
        assert assist.active == 0
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


async def test_no_free_slot_and_lost_changes_cost_only_the_suggestions(
    kb: KnowledgeBase, corpus: list[GeneratedCase]
) -> None:
    await load_slice(kb, corpus[:50])
    transcriber, out = FakeTranscriber(slots=1), []
    assist = _assist(kb, transcriber, out)
    runner = asyncio.create_task(assist.run())
    try:
        assist.observe(AssistCall("1.1", "c0001", "ko", talking=True, ended=False))
        assist.observe(AssistCall("3.3", "c0003", "ko", talking=True, ended=False))
        await _until(lambda: transcriber.opened and assist.active == 1, "one transcript")
        stream = transcriber.opened[0][2]
        assist.retain({"3.3"})  # changes were lost and call 1.1 is no longer live
        await _until(stream.closed.is_set, "the stale transcript is closed")
        assert assist.active == 0 and out == []
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


async def test_with_no_published_title_in_the_language_nothing_is_transcribed(
    kb: KnowledgeBase, corpus: list[GeneratedCase]
) -> None:
    """An empty word list crashes Vosk's worker (SIGSEGV), taking every menu on it down: a call
    in a language with no published case title asks for no transcript at all."""
    await load_slice(kb, [c for c in corpus if c.content.language == "en"][:20])
    assert await title_words(kb.storage, "ko") == []
    transcriber, out = FakeTranscriber(), []
    assist = _assist(kb, transcriber, out)
    runner = asyncio.create_task(assist.run())
    try:
        assist.observe(AssistCall("1.1", "c0001", "ko", talking=True, ended=False))
        await _until(lambda: assist.active == 0, "the follow task ended")
        assert transcriber.opened == [] and out == []
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


def test_the_recording_is_found_in_either_root_by_its_uniqueid(tmp_path: Path) -> None:
    now = datetime(2026, 12, 2, 0, 30, tzinfo=UTC).timestamp()
    primary, spare = tmp_path / "primary", tmp_path / "spare"
    assert find_recording((primary, spare), "17.5", now) is None
    yesterday = primary / "2026/12/01/17.5.wav"  # answered before midnight UTC
    yesterday.parent.mkdir(parents=True)
    yesterday.write_bytes(b"RIFF")
    assert find_recording((primary, spare), "17.5", now) == yesterday
    moved = spare / "2026/12/02/17.5.wav"  # the guard moved it to the spare path
    moved.parent.mkdir(parents=True)
    moved.write_bytes(b"RIFF")
    os.utime(yesterday, (now - 60, now - 60))
    assert find_recording((primary, spare), "17.5", now) == moved


def test_suggestions_reach_only_the_consultant_on_the_call() -> None:
    event = SuggestionsChanged(
        "1.1", "c0001", "여권", (SuggestedCase(5, "여권 발급", 1.0),), datetime.now(UTC)
    )
    assert visible(event, Principal("c0001", Role.CONSULTANT))
    assert not visible(event, Principal("c0002", Role.CONSULTANT))
    assert visible(event, Principal("supervisor", Role.SUPERVISOR))
