"""Korean speech recognition with Vosk, restricted to the words of the current menu node.

Invariants:
- The Vosk model is loaded once per process by the caller (``ivr.speech_model``) and shared;
  each call (audio stream) gets its own ``SpeechStream`` whose recognizers are reused with
  ``Reset()``, one per (sample rate, word list). A stream is used by one call at a time.
- Recognition never runs on the event loop: it runs in an executor and is bounded by a timeout.
- Input is a mono 16-bit PCM WAV at 8 or 16 kHz (what Asterisk ``RECORD FILE`` writes as
  ``wav`` / ``wav16``); Vosk resamples to the model's 16 kHz itself. Anything else raises
  ``SpeechInputError``.
- The result is one word of the grammar with its confidence, or None (silence, or several
  different words). The small Korean model has no ``[unk]`` word (Vosk ignores it in the
  grammar), so out-of-grammar speech maps to the nearest words: callers confirm every answer
  back and always accept keys instead.
"""

from __future__ import annotations

import asyncio
import json
import wave
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

SUPPORTED_RATES = (8000, 16000)
_CHUNK_FRAMES = 4000


class SpeechInputError(ValueError):
    """The audio is not a mono 16-bit WAV at a supported rate."""


@dataclass(frozen=True)
class Recognition:
    word: str
    confidence: float
    text: str


def read_wav(path: Path) -> tuple[bytes, int]:
    """PCM bytes and sample rate of a mono 16-bit WAV, or ``SpeechInputError``."""
    try:
        with wave.open(str(path), "rb") as wav:
            shape = (wav.getnchannels(), wav.getsampwidth(), wav.getframerate())
            pcm = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise SpeechInputError(f"{path}: not a WAV file ({exc})") from exc
    channels, width, rate = shape
    if channels != 1 or width != 2 or rate not in SUPPORTED_RATES:
        raise SpeechInputError(
            f"{path}: {channels} channel(s), {8 * width}-bit, {rate} Hz; "
            f"need mono 16-bit at {' or '.join(map(str, SUPPORTED_RATES))} Hz"
        )
    return pcm, rate


def best_word(result: dict[str, Any], grammar: Sequence[str]) -> Recognition | None:
    """The grammar word of a Vosk result (with ``SetWords``) and its lowest confidence.

    None when nothing was heard, or when several different words were: the grammar has no
    ``[unk]`` to absorb other speech, so a sentence comes out as a string of menu words, and
    guessing one of them would put words in the caller's mouth.
    """
    allowed = set(grammar)
    items = [i for i in result.get("result", []) if i.get("word") in allowed]
    words = {i["word"] for i in items}
    if len(words) != 1:
        return None
    confidence = min(float(i.get("conf", 0.0)) for i in items)
    return Recognition(items[0]["word"], confidence, result.get("text", ""))


class FileRecognizer(Protocol):
    """What the IVR runner needs: recognize a recorded file against a word list."""

    async def recognize_file(
        self,
        path: Path,
        grammar: Sequence[str],
        *,
        timeout_s: float,
        executor: Executor | None = None,
        delete: bool = False,
    ) -> Recognition | None: ...


class SpeechStream:
    """Recognizers of one call, reused across the call's prompts."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self._recognizers: dict[tuple[int, tuple[str, ...]], Any] = {}

    def _recognizer(self, rate: int, grammar: tuple[str, ...]) -> Any:
        key = (rate, grammar)
        recognizer = self._recognizers.get(key)
        if recognizer is None:
            import vosk

            words = json.dumps(list(grammar), ensure_ascii=False)
            recognizer = vosk.KaldiRecognizer(self._model, float(rate), words)
            recognizer.SetWords(True)
            self._recognizers[key] = recognizer
        else:
            recognizer.Reset()
        return recognizer

    def recognize_pcm(self, pcm: bytes, rate: int, grammar: Sequence[str]) -> Recognition | None:
        """Blocking: run in an executor (see ``recognize_file``)."""
        words = tuple(dict.fromkeys(grammar))
        if not words or not pcm:
            return None
        recognizer = self._recognizer(rate, words)
        step = _CHUNK_FRAMES * 2
        for offset in range(0, len(pcm), step):
            recognizer.AcceptWaveform(pcm[offset : offset + step])
        return best_word(json.loads(recognizer.FinalResult()), words)

    def recognize_path(
        self, path: Path, grammar: Sequence[str], delete: bool = False
    ) -> Recognition | None:
        try:
            pcm, rate = read_wav(path)
        finally:
            if delete:
                path.unlink(missing_ok=True)
        return self.recognize_pcm(pcm, rate, grammar)

    async def recognize_file(
        self,
        path: Path,
        grammar: Sequence[str],
        *,
        timeout_s: float,
        executor: Executor | None = None,
        delete: bool = False,
    ) -> Recognition | None:
        """Recognize a recorded WAV off the event loop (deleting it once read if asked), or
        raise TimeoutError."""
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(executor, self.recognize_path, path, tuple(grammar), delete)
        try:
            return await asyncio.wait_for(work, timeout_s)
        except TimeoutError:
            # The worker may still hold a recognizer: never hand that one out again.
            self._recognizers.clear()
            raise
