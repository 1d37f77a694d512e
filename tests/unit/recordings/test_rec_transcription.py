"""Transcription worker (one model, bounded, off the loop) and keyword search."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from rec_support import FakeTranscriber, make_settings, recorded_call

from recordings.accesslog import AccessAction
from recordings.audio import decode_pcm, write_wav
from recordings.cli import recordings as recordings_group
from recordings.layout import relative_wav
from recordings.models import TranscriptRow
from recordings.system import Recordings
from recordings.transcription import Transcripts, load_vosk_transcriber, snippet

SPEECH = Path(__file__).parents[2] / "fixtures" / "speech"


def _clip(word: str, rate: int) -> str:
    """A committed IVR speech fixture (tests/fixtures/speech) saying ``word``."""
    catalog = json.loads((SPEECH / "fixtures.json").read_text(encoding="utf-8"))
    return str(next(c["file"] for c in catalog["clips"] if c["word"] == word and c["rate"] == rate))


async def test_only_archived_korean_recordings_are_transcribed_once(
    system: Recordings, call_start: datetime
) -> None:
    for n, language in enumerate(["ko", "en", "ko"]):
        wav = await recorded_call(
            system, f"call-{n}", call_start + timedelta(seconds=n), 1.0, language=language
        )
        await system.pipeline.process(wav)
    await recorded_call(
        system, "call-live", call_start + timedelta(seconds=9), 1.0
    )  # not archived yet
    before = FakeTranscriber.loads
    assert await system.transcripts.transcribe_pending() == 2
    assert FakeTranscriber.loads == before + 1  # the model is loaded once
    assert await system.transcripts.transcribe_pending() == 0
    hits = await system.transcripts.search("재발급")
    assert sorted(h.call_id or "" for h in hits) == ["call-0", "call-2"]
    assert hits[0].snippet == "여권 재발급 문의 입니다"
    assert await system.transcripts.text(hits[0].recording_id) == "여권 재발급 문의 입니다"


async def test_search_escapes_wildcards(system: Recordings, call_start: datetime) -> None:
    wav = await recorded_call(system, "call-1", call_start, 1.0)
    await system.pipeline.process(wav)
    await system.transcripts.transcribe_pending()
    assert await system.transcripts.search("%") == []
    assert await system.transcripts.search("_") == []
    assert await system.transcripts.search("  ") == []
    assert len(await system.transcripts.search("여권")) == 1


def test_snippet_is_centered_on_the_keyword() -> None:
    text = "가" * 100 + "여권" + "나" * 100
    cut = snippet(text, "여권")
    assert cut.startswith("…") and cut.endswith("…")
    assert "여권" in cut
    assert len(cut) < 100


async def test_unreadable_recording_is_marked_failed_not_retried(
    system: Recordings, call_start: datetime
) -> None:
    wav = await recorded_call(system, "call-1", call_start, 1.0)
    rec = await system.pipeline.process(wav)
    assert rec is not None
    (system.settings.recordings_dir / (rec.archive_rel_path or "")).write_bytes(b"garbage")
    assert await system.transcripts.transcribe_pending() == 1
    async with system.storage.session() as session:
        row = await session.get(TranscriptRow, rec.id)
    assert row is not None
    assert row.status == "failed"
    assert "SHA-256" in (row.error or "")
    assert await system.transcripts.transcribe_pending() == 0


async def test_search_cli_logs_the_search(system: Recordings, call_start: datetime) -> None:
    wav = await recorded_call(system, "call-1", call_start, 1.0)
    await system.pipeline.process(wav)
    await system.transcripts.transcribe_pending()
    result = await asyncio.to_thread(
        CliRunner().invoke,
        recordings_group,
        ["search", "여권", "--reason", "passport backlog review", "--json"],
        obj={"settings": system.settings},
    )
    assert result.exit_code == 0, result.output
    assert [h["call_id"] for h in json.loads(result.output)] == ["call-1"]
    [entry] = await system.access_log.month(datetime.now(call_start.tzinfo).strftime("%Y-%m"))
    assert entry.action is AccessAction.SEARCH
    assert "여권" in entry.detail


async def test_real_korean_model_transcribes_an_archived_recording(
    tmp_path: Path, call_start: datetime
) -> None:
    """Through the real path: 8 kHz WAV -> Opus, sealed -> decrypt -> 16 kHz -> vosk (free-form)."""
    system = await Recordings.open(make_settings(tmp_path), load_transcriber=load_vosk_transcriber)
    try:
        uniqueid = f"{int(call_start.timestamp())}.5"
        await system.calls.call_started("call-ko", uniqueid, uniqueid, None, call_start)
        await system.calls.call_routed("call-ko", "ko", "general")
        pcm = decode_pcm((SPEECH / _clip("네", 8000)).read_bytes(), 8000)
        wav = system.settings.recordings_dir / relative_wav(uniqueid, call_start)
        wav.parent.mkdir(parents=True)
        silence = b"\0" * 8000
        write_wav(wav, silence + pcm + silence)
        await system.calls.call_ended("call-ko", call_start + timedelta(seconds=1))
        await system.pipeline.process(wav)
        transcripts: Transcripts = system.transcripts
        assert await transcripts.transcribe_pending() == 1
        # Free-form recognition of one short synthetic word is not stable across process
        # state (it reads "네", sometimes a near homophone after other models ran): check the
        # real path end to end, and that what was heard is searchable.
        [recording] = await system.catalog.for_calls(["call-ko"], [uniqueid])
        heard = await transcripts.text(recording.id)
        assert heard and heard.strip(), "vosk heard nothing in a clip that says 네"
        hits = await transcripts.search(heard.split()[0])
        assert [h.call_id for h in hits] == ["call-ko"]
    finally:
        await system.close()


async def test_the_transcriber_is_closed_when_the_worker_stops(
    system: Recordings, call_start: datetime
) -> None:
    """Its child process (the Korean model) must not outlive the engine."""
    wav = await recorded_call(system, "call-close", call_start, 1.0)
    await system.pipeline.process(wav)
    worker = asyncio.create_task(system.transcripts.run(poll_interval_s=0.05))
    deadline = asyncio.get_running_loop().time() + 10
    while system.transcripts._transcriber is None:
        assert asyncio.get_running_loop().time() < deadline, "never loaded"
        await asyncio.sleep(0.02)
    loaded = system.transcripts._transcriber
    worker.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await worker
    assert isinstance(loaded, FakeTranscriber) and loaded.closed
    assert system.transcripts._transcriber is None
