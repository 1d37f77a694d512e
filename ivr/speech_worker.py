"""The speech worker process: Korean recognition beside the engine, never inside it.

Run as ``python -m ivr.speech_worker``; ``ivr.speech_pool`` starts a few and talks to each over
its stdin/stdout, one JSON object per line (the engine never imports vosk):

- engine -> worker: ``{"op": "listen", "id": N, "path": P, "grammar": [...]}`` (the PBX is about
  to record the caller into WAV file P), ``{"op": "finish", "id": N}`` (the recording is
  closed: read it to the end and give the final answer), ``{"op": "cancel", "id": N}``.
- worker -> engine: ``{"ev": "ready"}`` once the model is loaded; ``{"ev": "heard", "id": N,
  ...}`` when the recognizer reports the end of an utterance holding one grammar word (the
  engine then stops the recording early); ``{"ev": "final", "id": N, "word": null | ...}``
  answering ``finish``; ``{"ev": "error", "id": N, "message": ...}``; ``{"ev": "failed",
  "message": ...}`` before exiting when the model cannot be loaded.
- Live transcription (agent assist, ``ivr.speech_live``): ``{"op": "transcribe", "id": N,
  "path": P, "vocabulary": [...]}`` follows the call's recording P from its current end;
  the worker answers ``{"ev": "said", "id": N, "text": ..., "start_s": ..., "end_s": ...}``
  per utterance until ``cancel`` (or one ``error``), after one ``{"ev": "listening", "id": N}``
  when it has opened the recording (audio times count from there).

Invariants:
- The model is loaded once, at start; recognizers are reused with ``Reset()`` per (rate,
  grammar) and never shared by two streams at once.
- The recording is read while Asterisk writes it (a growing WAV with a 44-byte header): audio
  reaches the recognizer within one poll tick of reaching the disk.
- A word is only ever reported for audio whose loudness moves like speech: a steady tone or
  steady noise (frame energy spread under ``STEADY_DB``) is never a word, whatever the
  grammar-forced decoder says (with no ``[unk]`` it maps any sound to menu words).
- Workers run at a lower CPU priority (``NICENESS``) than the engine and the PBX.
- Every ``listen`` ends in exactly one ``heard``, ``final`` or ``error`` unless cancelled; stdin
  closing ends the process (the engine is gone).
- An empty word list is refused with an ``error``: Vosk's recognizer crashes the whole process
  (SIGSEGV while initialising the decoder) on a grammar of ``[]``, ending every other caller's
  menu and transcript on that worker. A crash that still happens leaves its stack on stderr
  (``faulthandler``), which is the engine's log.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import select
import struct
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np

from ivr.speech import SUPPORTED_RATES, Recognition, best_word
from ivr.speech_live import Transcript

TICK_S = 0.05
HEADER_BYTES = 44
FRAME_S = 0.02
# Spread (standard deviation, dB) of 20 ms frame energies below which a sound is steady.
# Measured: a 440 Hz tone 0.1 dB, pink noise 1.4 dB, espeak-ng Korean words 24-28 dB.
STEADY_DB = 6.0
# Workers yield the CPU to call control (the engine, Asterisk) when the machine is busy:
# a late word costs a caller a moment, a late AGI reply costs every call.
NICENESS = 5
# Audio around the words kept for the steadiness check (Vosk's word times are approximate).
_MARGIN_S = 0.2


class Recognizer(Protocol):
    def AcceptWaveform(self, data: bytes) -> bool: ...
    def Result(self) -> str: ...
    def FinalResult(self) -> str: ...
    def Reset(self) -> None: ...


RecognizerFactory = Callable[[int, tuple[str, ...]], Recognizer]


class RecognizerCache:
    """Idle recognizers per (rate, grammar); one is checked out per live stream."""

    def __init__(self, make: RecognizerFactory) -> None:
        self._make = make
        self._idle: dict[tuple[int, tuple[str, ...]], list[Recognizer]] = {}

    def take(self, rate: int, grammar: tuple[str, ...]) -> Recognizer:
        if not grammar:
            raise ValueError("no words to recognize (an empty grammar crashes Vosk)")
        idle = self._idle.get((rate, grammar))
        if idle:
            recognizer = idle.pop()
            recognizer.Reset()
            return recognizer
        return self._make(rate, grammar)

    def give_back(self, rate: int, grammar: tuple[str, ...], recognizer: Recognizer) -> None:
        self._idle.setdefault((rate, grammar), []).append(recognizer)


def wav_rate(header: bytes) -> int:
    """Sample rate of a mono 16-bit PCM WAV header as Asterisk writes it, or ValueError."""
    riff, _, wave_id, fmt_id, fmt_len, tag, channels, rate = struct.unpack_from(
        "<4sI4s4sIHHI", header
    )
    bits = struct.unpack_from("<H", header, 34)[0]
    if (riff, wave_id, fmt_id, header[36:40]) != (b"RIFF", b"WAVE", b"fmt ", b"data"):
        raise ValueError("not a canonical WAV header")
    if (fmt_len, tag, channels, bits) != (16, 1, 1, 16) or rate not in SUPPORTED_RATES:
        raise ValueError(f"need mono 16-bit PCM at 8 or 16 kHz, got {channels} ch {rate} Hz")
    return int(rate)


def steady(pcm: bytes, rate: int) -> bool:
    """True when the loudness of ``pcm`` hardly moves: a tone or steady noise, not speech."""
    frame = int(rate * FRAME_S)
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
    count = len(samples) // frame
    if count < 3:
        return True
    energy = (samples[: count * frame].reshape(count, frame) ** 2).mean(axis=1)
    return float(np.std(10 * np.log10(energy + 1.0))) < STEADY_DB


@dataclass
class Utterance:
    """One caller's recording being recognized as it grows."""

    sid: int
    path: Path
    grammar: tuple[str, ...]
    cache: RecognizerCache
    rate: int | None = None
    pcm: bytearray = field(default_factory=bytearray)
    _file: BinaryIO | None = None
    _recognizer: Recognizer | None = None
    _fed: int = 0

    def poll(self) -> Recognition | None:
        """Feed what was written since the last poll; a word if an utterance just ended."""
        if not self._read():
            return None
        return self._feed(final=False)

    def finish(self) -> Recognition | None:
        """The recording is closed: feed the rest and give the final answer."""
        self._read()
        return self._feed(final=True) if self._recognizer is not None else None

    def close(self) -> None:
        if self._recognizer is not None and self.rate is not None:
            self.cache.give_back(self.rate, self.grammar, self._recognizer)
            self._recognizer = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def _read(self) -> bool:
        if self._file is None:
            try:
                self._file = self.path.open("rb")
            except FileNotFoundError:
                return False  # the PBX has not created it yet
        if self.rate is None:
            header = self._file.read(HEADER_BYTES)
            if len(header) < HEADER_BYTES:
                self._file.seek(0)
                return False
            self.rate = wav_rate(header)
            self._recognizer = self.cache.take(self.rate, self.grammar)
        data = self._file.read()
        if len(data) % 2:  # half a sample: read it again with the rest next time
            self._file.seek(-1, os.SEEK_CUR)
            data = data[:-1]
        self.pcm += data
        return bool(data)

    def _feed(self, *, final: bool) -> Recognition | None:
        assert self._recognizer is not None and self.rate is not None
        chunk = bytes(self.pcm[self._fed :])
        self._fed = len(self.pcm)
        ended = self._recognizer.AcceptWaveform(chunk) if chunk else False
        if final:
            return self._judge(json.loads(self._recognizer.FinalResult()))
        return self._judge(json.loads(self._recognizer.Result())) if ended else None

    def _judge(self, result: dict[str, Any]) -> Recognition | None:
        found = best_word(result, self.grammar)
        if found is None or self.rate is None:
            return None
        times = [(float(i.get("start", 0)), float(i.get("end", 0))) for i in result["result"]]
        start = max(0, int((min(t[0] for t in times) - _MARGIN_S) * self.rate) * 2)
        end = int((max(t[1] for t in times) + _MARGIN_S) * self.rate) * 2
        span = bytes(self.pcm[start:end]) or bytes(self.pcm)
        return None if steady(span, self.rate) else found


class Worker:
    """The request loop: commands from the engine, polls of the live recordings."""

    def __init__(self, cache: RecognizerCache, write: Callable[[dict[str, Any]], None]) -> None:
        self.cache = cache
        self.write = write
        self.live: dict[int, Utterance] = {}
        self.transcripts: dict[int, Transcript] = {}

    @property
    def busy(self) -> bool:
        return bool(self.live or self.transcripts)

    def handle(self, request: dict[str, Any]) -> None:
        op, sid = request.get("op"), int(request.get("id", -1))
        if op == "listen":
            grammar = _words(request["grammar"])
            if not grammar:
                self.write({"ev": "error", "id": sid, "message": "listen: empty grammar"})
                return
            self.live[sid] = Utterance(sid, Path(request["path"]), grammar, self.cache)
        elif op == "finish":
            utterance = self.live.pop(sid, None)
            found = utterance.finish() if utterance is not None else None
            self._end(utterance)
            self.write({"ev": "final", "id": sid, **_fields(found)})
        elif op == "transcribe":
            vocabulary = _words(request["vocabulary"])
            if not vocabulary:
                self.write({"ev": "error", "id": sid, "message": "transcribe: empty vocabulary"})
                return
            self.transcripts[sid] = Transcript(sid, Path(request["path"]), vocabulary, self.cache)
        elif op == "cancel":
            self._end(self.live.pop(sid, None))
            transcript = self.transcripts.pop(sid, None)
            if transcript is not None:
                transcript.close()
        else:
            raise ValueError(f"unknown request {request!r}")

    def poll(self) -> None:
        for sid, utterance in list(self.live.items()):
            try:
                found = utterance.poll()
            except (OSError, ValueError) as exc:
                self._end(self.live.pop(sid))
                self.write({"ev": "error", "id": sid, "message": str(exc)})
                continue
            if found is not None:
                self._end(self.live.pop(sid))
                self.write({"ev": "heard", "id": sid, **_fields(found)})
        for sid, transcript in list(self.transcripts.items()):
            try:
                opened = transcript.rate is not None
                said_now = transcript.poll()
                if not opened and transcript.rate is not None:
                    self.write({"ev": "listening", "id": sid})
                for said in said_now:
                    self.write({"ev": "said", "id": sid, **said.as_json()})
            except (OSError, ValueError) as exc:
                self.transcripts.pop(sid).close()
                self.write({"ev": "error", "id": sid, "message": str(exc)})

    def _end(self, utterance: Utterance | None) -> None:
        if utterance is not None:
            utterance.close()


def _words(listed: Iterable[Any]) -> tuple[str, ...]:
    """Distinct non-blank words, in order."""
    return tuple(dict.fromkeys(w for w in (str(x).strip() for x in listed) if w))


def _fields(found: Recognition | None) -> dict[str, Any]:
    if found is None:
        return {"word": None}
    return {"word": found.word, "confidence": found.confidence, "text": found.text}


def serve(worker: Worker, stdin_fd: int) -> None:
    """Until stdin closes: read requests, poll live recordings every ``TICK_S``."""
    buffer = b""
    while True:
        readable, _, _ = select.select([stdin_fd], [], [], TICK_S if worker.busy else None)
        if readable:
            data = os.read(stdin_fd, 65536)
            if not data:
                return
            buffer += data
            *lines, buffer = buffer.split(b"\n")
            for line in _nonblank(lines):
                try:
                    worker.handle(json.loads(line))
                except (ValueError, KeyError, TypeError) as exc:
                    worker.write({"ev": "error", "id": -1, "message": f"bad request: {exc}"})
        worker.poll()


def _nonblank(lines: Iterable[bytes]) -> Iterable[bytes]:
    return (line for line in lines if line.strip())


def vosk_factory(model: Any) -> RecognizerFactory:
    def make(rate: int, grammar: tuple[str, ...]) -> Recognizer:
        import vosk

        recognizer = vosk.KaldiRecognizer(
            model, float(rate), json.dumps(list(grammar), ensure_ascii=False)
        )
        recognizer.SetWords(True)
        return recognizer  # type: ignore[no-any-return]

    return make


def stdout_writer(stream: Any = None) -> Callable[[dict[str, Any]], None]:
    out = stream or sys.stdout

    def write(message: dict[str, Any]) -> None:
        out.write(json.dumps(message, ensure_ascii=False) + "\n")
        out.flush()

    return write


def main(argv: Sequence[str] | None = None, factory: RecognizerFactory | None = None) -> int:
    """Load the model (unless a factory is given, as the unit tier's fake worker does), say
    ready, serve until the engine closes stdin."""
    del argv
    faulthandler.enable()
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    write = stdout_writer()
    if factory is None:
        from ivr.speech_model import load_korean_model

        try:
            factory = vosk_factory(load_korean_model())
        except (OSError, RuntimeError) as exc:
            write({"ev": "failed", "message": str(exc)})
            return 1
    write({"ev": "ready", "pid": os.getpid()})
    with contextlib.suppress(KeyboardInterrupt):
        serve(Worker(RecognizerCache(factory), write), sys.stdin.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
