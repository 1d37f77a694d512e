"""Korean speech: committed 8 kHz and 16 kHz clips through the grammar-restricted recognizer."""

from __future__ import annotations

import json
import wave
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ivr.speech import SpeechInputError, SpeechStream, best_word, read_wav
from ivr.speech_model import load_korean_model

FIXTURES = Path(__file__).parents[2] / "fixtures" / "speech"
CATALOG: dict[str, Any] = json.loads((FIXTURES / "fixtures.json").read_text(encoding="utf-8"))
CLIPS: list[dict[str, Any]] = CATALOG["clips"]


@pytest.fixture(scope="module")
def model() -> Any:
    return load_korean_model()


@pytest.fixture(scope="module")
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="speech-test") as pool:
        yield pool


def test_fixtures_cover_both_rates_and_stay_small() -> None:
    rates = {clip["rate"] for clip in CLIPS}
    assert rates == {8000, 16000}
    for rate in rates:
        assert sum(1 for clip in CLIPS if clip["rate"] == rate) >= 5
    assert sum(p.stat().st_size for p in FIXTURES.iterdir()) < 1_000_000
    for clip in CLIPS:
        pcm, rate = read_wav(FIXTURES / clip["file"])
        assert rate == clip["rate"] and len(pcm) > 0


def test_reliable_words_are_recognized_at_each_rate(model: Any) -> None:
    stream = SpeechStream(model)  # one stream: recognizers are reused with Reset()
    heard = []
    for clip in CLIPS:
        grammar = CATALOG["grammars"][clip["grammar"]]
        found = stream.recognize_path(FIXTURES / clip["file"], grammar)
        heard.append((clip["file"], found.word if found else None))
        if found is not None:
            assert 0.0 <= found.confidence <= 1.0
    assert heard == [(clip["file"], clip["word"]) for clip in CLIPS]


async def test_recognition_runs_off_the_loop_and_deletes_the_recording(
    model: Any, executor: ThreadPoolExecutor, tmp_path: Path
) -> None:
    clip = next(c for c in CLIPS if c["rate"] == 8000)
    copy = tmp_path / "rec.wav"
    copy.write_bytes((FIXTURES / clip["file"]).read_bytes())
    stream = SpeechStream(model)
    grammar = CATALOG["grammars"][clip["grammar"]]
    found = await stream.recognize_file(copy, grammar, timeout_s=30, executor=executor, delete=True)
    assert found is not None and found.word == clip["word"]
    assert not copy.exists()


def write_wav(path: Path, rate: int, channels: int = 1, frames: int = 8000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\0" * channels * frames)
    return path


def test_silence_is_no_answer(model: Any, tmp_path: Path) -> None:
    stream = SpeechStream(model)
    assert stream.recognize_path(write_wav(tmp_path / "s.wav", 8000), ["버스", "수어"]) is None
    assert stream.recognize_pcm(b"", 16000, ["버스"]) is None
    assert stream.recognize_pcm(b"\0\0" * 100, 16000, []) is None


def test_unsupported_audio_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(SpeechInputError, match="2 channel"):
        read_wav(write_wav(tmp_path / "stereo.wav", 8000, channels=2))
    with pytest.raises(SpeechInputError, match="44100 Hz"):
        read_wav(write_wav(tmp_path / "cd.wav", 44100))
    (tmp_path / "junk.wav").write_bytes(b"not a wav file at all")
    with pytest.raises(SpeechInputError, match="not a WAV"):
        read_wav(tmp_path / "junk.wav")


def item(word: str, conf: float) -> dict[str, Any]:
    return {"word": word, "conf": conf}


def test_best_word_takes_one_word_and_its_lowest_confidence() -> None:
    found = best_word({"text": "버스", "result": [item("버스", 0.7)]}, ["버스", "수어"])
    assert found is not None and (found.word, found.confidence) == ("버스", 0.7)
    repeated = {"text": "버스 버스", "result": [item("버스", 0.9), item("버스", 0.6)]}
    found = best_word(repeated, ["버스"])
    assert found is not None and found.confidence == 0.6
    assert best_word({"text": ""}, ["버스"]) is None


def test_a_sentence_of_different_menu_words_is_no_answer() -> None:
    # Without [unk], "여권 발급 방법을 알고 싶습니다" comes out as several menu words.
    words = [item("여권", 1.0), item("수어", 0.8), item("민원", 1.0)]
    assert best_word({"text": "여권 수어 민원", "result": words}, ["여권", "수어", "민원"]) is None
