"""Live transcription for agent assist (issue 16), in the speech worker and through the pool:
reading starts at the end of what the PBX already wrote (the conversation, not the IVR before
it), every utterance that moves like speech is reported with its audio times, a tone never
is, and the pool gives transcripts their own slots and fails them when their worker dies.

The recognizer is the fake of ``fake_speech_worker`` (it "hears" its first vocabulary word in
any loud stretch); the real Vosk model runs in the browser test and the benchmark."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ivr.speech_live import Transcript
from ivr.speech_pool import SpeechPool, SpeechUnavailable
from ivr.speech_worker import RecognizerCache, Worker

from .fake_line import syllables, tone, wav_header
from .fake_speech_worker import COMMAND, FakeRecognizer
from .test_speech_pool import running, wait_until

RATE = 8000
VOCABULARY = ("여권", "버스")
QUIET = bytes(RATE)  # 0.5 s of silence


def test_reading_starts_at_the_end_of_what_was_already_written(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    ivr_part = syllables(2.0, RATE) + QUIET + b"\x01"  # an odd byte: half a sample
    with path.open("wb") as out:
        out.write(wav_header(RATE) + ivr_part)
        out.flush()
        transcript = Transcript(1, path, VOCABULARY, RecognizerCache(FakeRecognizer))
        assert transcript.poll() == []  # the IVR's audio is never transcribed
        assert transcript.rate == RATE and len(transcript.pcm) == 0
        out.write(b"\x00" + QUIET)  # completes the half sample, then the conversation
        out.flush()
        assert transcript.poll() == [] and bytes(transcript.pcm) == b"\x01\x00" + QUIET
        out.write(syllables(1.0, RATE) + QUIET)
        out.flush()
        said = transcript.poll()
    transcript.close()
    assert [s.text for s in said] == ["여권"]
    # Audio times count from the opening: 0.5 s of quiet, then the words.
    assert 0.45 <= said[0].start_s <= 0.6 and 1.3 <= said[0].end_s <= 1.6, said


def test_every_utterance_is_reported_and_a_tone_never(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    path.write_bytes(wav_header(RATE))
    sent: list[dict[str, Any]] = []
    worker = Worker(RecognizerCache(FakeRecognizer), sent.append)
    worker.handle({"op": "transcribe", "id": 7, "path": str(path), "vocabulary": VOCABULARY})
    assert worker.busy
    worker.poll()  # opens the recording: the transcript starts here
    with path.open("ab") as out:
        for audio in (syllables(1.0, RATE), tone(1.0, RATE), syllables(0.8, RATE)):
            out.write(audio + QUIET)
            out.flush()
            worker.poll()
    said = [m for m in sent if m["ev"] == "said"]
    assert [(m["id"], m["text"]) for m in said] == [(7, "여권"), (7, "여권")], sent
    assert said[0]["end_s"] < 1.1 and said[1]["start_s"] > 2.9, said
    worker.handle({"op": "cancel", "id": 7})
    assert not worker.busy


def test_a_call_without_recording_is_an_error_for_that_transcript(tmp_path: Path) -> None:
    sent: list[dict[str, Any]] = []
    worker = Worker(RecognizerCache(FakeRecognizer), sent.append)
    missing = str(tmp_path / "none.wav")
    worker.handle({"op": "transcribe", "id": 3, "path": missing, "vocabulary": VOCABULARY})
    worker.poll()
    assert [(m["ev"], m["id"]) for m in sent] == [("error", 3)] and not worker.busy


async def _next(stream: Any) -> dict[str, Any]:
    async with asyncio.timeout(20):
        return await anext(stream)  # type: ignore[no-any-return]


@pytest.mark.timeout(90)
async def test_the_pool_streams_utterances_in_slots_of_their_own(tmp_path: Path) -> None:
    pool = SpeechPool(1, 1, transcripts_per_worker=1, command=COMMAND)
    path = tmp_path / "call.wav"
    path.write_bytes(wav_header(RATE))
    async with running(pool, 1):
        first = pool.transcribe(path, VOCABULARY)
        assert first is not None
        assert pool.transcribe(path, VOCABULARY) is None  # its one transcript slot is taken
        listening = pool.open(tmp_path / "menu.wav", VOCABULARY)
        assert listening is not None  # the IVR's slot is still free
        listening.close()
        said = first.said()
        async with asyncio.timeout(20):
            await first.listening.wait()
        with path.open("ab") as out:
            out.write(syllables(1.0, RATE) + QUIET + QUIET)
        assert (await _next(said))["text"] == "여권"
        first.close()
        second = pool.transcribe(path, VOCABULARY)
        assert second is not None  # closing freed the slot
        second.close()

        # A worker that dies ends its transcripts with SpeechUnavailable.
        third = pool.transcribe(path, VOCABULARY)
        assert third is not None
        doomed = pool.open(tmp_path / "die.wav", VOCABULARY)
        assert doomed is not None
        with pytest.raises(SpeechUnavailable):
            await _next(third.said())
        doomed.close()
        third.close()
        # Its replacement comes up (and is stopped cleanly with the pool).
        await wait_until(lambda: pool.ready_workers == 1 and pool.started == 2, 30, "replaced")
