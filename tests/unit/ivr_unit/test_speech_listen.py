"""Listening with the real Korean model in a real worker process (issue 11): a spoken menu
word ends the recording at the recognizer's end of utterance, well before the node timeout;
a steady tone, which the grammar-forced decoder maps to menu words, is no input at the node
timeout. Both callers share one worker, at the same time, as they would on a busy line."""

from __future__ import annotations

import asyncio
import json
import wave
from pathlib import Path
from typing import Any

import pytest

from ivr.listen import Heard, ListenRequest, listen
from ivr.runner import SpeechInput
from ivr.speech_pool import SpeechPool

from .fake_line import RecordingLine, tone
from .test_speech_pool import running

FIXTURES = Path(__file__).parents[2] / "fixtures" / "speech"
CATALOG: dict[str, Any] = json.loads((FIXTURES / "fixtures.json").read_text(encoding="utf-8"))
GRAMMAR = tuple(CATALOG["grammars"]["main_menu"])


def clip(name: str) -> tuple[bytes, int]:
    with wave.open(str(FIXTURES / name), "rb") as wav:
        return wav.readframes(wav.getnframes()), wav.getframerate()


async def hear(folder: Path, pool: SpeechPool, line: RecordingLine, name: str, ms: int) -> Heard:
    speech = SpeechInput(
        stream=None,
        host_dir=folder,
        pbx_dir="/var/spool/dasan/speech",
        pool=pool,
        stop_recording=line.stop_recording,
    )
    fmt = "wav16" if line.rate == 16000 else "wav"
    return await listen(line, speech, ListenRequest(name, fmt, GRAMMAR, ms, "0123456789*#"))


@pytest.mark.timeout(240)
async def test_a_word_ends_early_and_a_tone_is_no_input_at_the_timeout(tmp_path: Path) -> None:
    pcm, rate = clip("main_menu-03-16000.wav")  # 버스
    word_line = RecordingLine(tmp_path, b"\0\0" * (rate // 2) + pcm, rate)
    tone_line = RecordingLine(tmp_path, tone(8.0, 8000), 8000)
    async with running(SpeechPool(1, 2), 1) as pool:
        word, steady = await asyncio.gather(
            hear(tmp_path, pool, word_line, "word", 6000),
            hear(tmp_path, pool, tone_line, "tone", 4000),
        )
    assert word.recognition is not None and word.recognition.word == "버스"
    assert word_line.stopped_on and word_line.recorded_s < 4.0, word_line.recorded_s
    assert steady == Heard() and tone_line.recorded_s == 4.0 and not tone_line.stopped_on
    assert await asyncio.to_thread(lambda: list(tmp_path.iterdir())) == []  # files deleted


@pytest.mark.timeout(120)
async def test_an_empty_word_list_is_refused_and_the_worker_lives_on(tmp_path: Path) -> None:
    """Vosk crashes its process on a grammar of ``[]`` (seen: agent assist with no published
    case titles took a worker down with SIGSEGV, and every menu on it). The real worker refuses
    the request, for that caller only, and then still recognizes the next caller's word."""
    import sys

    pcm, rate = clip("main_menu-03-16000.wav")  # 버스
    recording = tmp_path / "word.wav"
    with wave.open(str(recording), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\0\0" * (rate // 2) + pcm + b"\0\0" * rate)
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ivr.speech_worker",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert worker.stdin is not None and worker.stdout is not None

    async def event() -> dict[str, Any]:
        assert worker.stdout is not None
        line = await asyncio.wait_for(worker.stdout.readline(), 60)
        assert line, f"the worker ended (exit {await worker.wait()})"
        return dict(json.loads(line))

    def send(request: dict[str, Any]) -> None:
        assert worker.stdin is not None
        worker.stdin.write(json.dumps(request, ensure_ascii=False).encode() + b"\n")

    try:
        assert (await event())["ev"] == "ready"
        send({"op": "transcribe", "id": 1, "path": str(recording), "vocabulary": []})
        send({"op": "listen", "id": 2, "path": str(recording), "grammar": [" "]})
        send({"op": "listen", "id": 3, "path": str(recording), "grammar": list(GRAMMAR)})
        send({"op": "finish", "id": 3})
        events = [await event() for _ in range(3)]
        assert [(e["ev"], e["id"]) for e in events[:2]] == [("error", 1), ("error", 2)]
        assert "empty" in events[0]["message"] and "empty" in events[1]["message"]
        assert events[2]["id"] == 3 and events[2]["word"] == "버스", events[2]
        assert worker.returncode is None
    finally:
        worker.stdin.close()
        await asyncio.wait_for(worker.wait(), 30)
    assert worker.returncode == 0
