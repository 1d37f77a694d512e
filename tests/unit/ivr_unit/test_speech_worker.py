"""The speech worker's core, in process (issue 11): reading a WAV that Asterisk is still
writing, the steadiness check that keeps a tone from becoming a word, the request loop's
answers; and the runner carrying on by keys when the pool has no free worker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ivr.menu.loader import Menu
from ivr.runner import PromptPaths, SpeechInput, run_menu
from ivr.speech_pool import SpeechPool
from ivr.speech_worker import RecognizerCache, Utterance, Worker, steady, wav_rate

from .fake_call import FakeCall, Keys
from .fake_line import syllables, tone, wav_header
from .fake_speech_worker import FakeRecognizer
from .helpers import WEEKDAY_NOON
from .test_runner import Clock

GRAMMAR = ("버스", "여권")


def test_the_header_asterisk_writes_gives_the_rate() -> None:
    assert wav_rate(wav_header(8000)) == 8000
    assert wav_rate(wav_header(16000)) == 16000
    with pytest.raises(ValueError, match="8 or 16 kHz"):
        wav_rate(wav_header(44100))
    with pytest.raises(ValueError, match="not a canonical WAV"):
        wav_rate(b"OggS" + bytes(40))


def test_a_tone_and_steady_noise_are_steady_speech_is_not() -> None:
    assert steady(tone(1.0, 8000), 8000)
    assert steady(b"\0\0" * 8000, 8000)  # silence
    assert steady(tone(0.03, 8000), 8000)  # too short to be a word
    assert not steady(syllables(1.0, 8000), 8000)
    assert not steady(syllables(1.0, 16000), 16000)


def test_a_growing_file_is_read_whole_samples_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "rec.wav"
    utterance = Utterance(1, path, GRAMMAR, RecognizerCache(FakeRecognizer))
    assert utterance.poll() is None  # not created yet
    path.write_bytes(wav_header(8000)[:20])
    assert utterance.poll() is None and utterance.rate is None  # header not complete
    audio = syllables(0.8, 8000) + bytes(8000)
    with path.open("wb") as out:
        out.write(wav_header(8000) + audio[:1001])  # half a sample at the end
        out.flush()
        assert utterance.poll() is None and len(utterance.pcm) == 1000
        out.write(audio[1001:])
    found = utterance.poll()
    assert found is not None and found.word == "버스" and bytes(utterance.pcm) == audio
    utterance.close()


def test_the_worker_answers_each_request() -> None:
    sent: list[dict[str, Any]] = []
    worker = Worker(RecognizerCache(FakeRecognizer), sent.append)
    worker.handle({"op": "listen", "id": 4, "path": "/nonexistent/x.wav", "grammar": GRAMMAR})
    worker.poll()
    worker.handle({"op": "finish", "id": 4})
    worker.handle({"op": "finish", "id": 5})  # unknown or already answered: no word
    assert sent == [{"ev": "final", "id": 4, "word": None}, {"ev": "final", "id": 5, "word": None}]
    with pytest.raises(ValueError, match="unknown request"):
        worker.handle({"op": "sing", "id": 1})


def test_a_bad_recording_is_an_error_for_that_caller_only(tmp_path: Path) -> None:
    sent: list[dict[str, Any]] = []
    worker = Worker(RecognizerCache(FakeRecognizer), sent.append)
    (tmp_path / "bad.wav").write_bytes(b"RIFX" + bytes(60))
    worker.handle({"op": "listen", "id": 1, "path": str(tmp_path / "bad.wav"), "grammar": GRAMMAR})
    worker.handle({"op": "listen", "id": 2, "path": str(tmp_path / "x.wav"), "grammar": GRAMMAR})
    worker.poll()
    assert [m["ev"] for m in sent] == ["error"] and sent[0]["id"] == 1
    assert list(worker.live) == [2]
    assert json.dumps(sent)  # plain JSON for the pipe


async def test_with_no_free_worker_the_speech_menu_goes_on_by_keys(
    menu: Menu, tmp_path: Path
) -> None:
    pool = SpeechPool(1, 1)  # never started: no worker ready, like a pool that is full
    call = FakeCall([Keys("1"), Keys("2")], speech_dir=tmp_path)
    speech = SpeechInput(stream=None, host_dir=tmp_path, pbx_dir="/spool", pool=pool)
    outcome = await run_menu(call, menu, PromptPaths("/p"), speech, Clock(WEEKDAY_NOON))
    assert outcome.target == "transport"
    assert not [c for c in call.commands if c[0] == "RECORD FILE"]
    node = menu.spec.nodes["main_menu"]
    timeout_ms = getattr(node, "timeout_ms", None) or menu.spec.defaults.timeout_ms
    assert ("WAIT FOR DIGIT", str(timeout_ms)) in call.commands  # keys for the node's timeout
