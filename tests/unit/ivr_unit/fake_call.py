"""A scripted stand-in for an AGI session (unit tier only): the caller's answers, in order."""

from __future__ import annotations

import asyncio
import wave
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

from ivr.agi import AgiHangup, RecordingResult
from ivr.speech import Recognition


@dataclass(frozen=True)
class Keys:
    """Keys pressed when the IVR waits (GET DATA, WAIT FOR DIGIT, or during RECORD FILE)."""

    digits: str


@dataclass(frozen=True)
class Barge:
    """A key pressed while an interruptible prompt plays."""

    digit: str


@dataclass(frozen=True)
class Say:
    """Speech during RECORD FILE; the fake recognizer will hear ``word``."""

    word: str
    confidence: float = 0.9


@dataclass(frozen=True)
class Silence:
    pass


@dataclass(frozen=True)
class HangUp:
    pass


Answer = Keys | Barge | Say | Silence | HangUp


class FakeCall:
    """Implements the ``ivr.runner.AgiCall`` protocol from a script of answers."""

    def __init__(
        self,
        answers: Sequence[Answer] = (),
        *,
        uniqueid: str = "1763450000.42",
        native_format: str = "(ulaw)",
        speech_dir: Path | None = None,
    ) -> None:
        self.variables: Mapping[str, str] = {"agi_uniqueid": uniqueid}
        self.hungup = asyncio.Event()
        self.answers: deque[Answer] = deque(answers)
        self.native_format = native_format
        self.speech_dir = speech_dir
        self.commands: list[tuple[str, ...]] = []
        self.channel: dict[str, str] = {}
        self.heard: dict[str, Say] = {}

    @property
    def uniqueid(self) -> str:
        return self.variables["agi_uniqueid"]

    def played(self) -> list[str]:
        return [c[1] for c in self.commands if c[0] in ("STREAM FILE", "GET DATA")]

    def _next(self, *kinds: type) -> Answer | None:
        if self.answers and isinstance(self.answers[0], HangUp):
            self.hungup.set()
            raise AgiHangup("the channel hung up")
        if self.answers and isinstance(self.answers[0], kinds):
            return self.answers.popleft()
        return None

    async def stream_file(
        self, file: str, escape_digits: str = "", offset: int = 0
    ) -> tuple[str | None, int]:
        self.commands.append(("STREAM FILE", file, escape_digits))
        answer = self._next(Barge) if escape_digits else self._next()
        if isinstance(answer, Barge):
            assert answer.digit in escape_digits
            return answer.digit, 800
        return None, 8000

    async def get_data(self, file: str, timeout_ms: int, max_digits: int) -> str | None:
        self.commands.append(("GET DATA", file, str(timeout_ms), str(max_digits)))
        answer = self._next(Keys, Silence)
        return answer.digits if isinstance(answer, Keys) else None

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        self.commands.append(("WAIT FOR DIGIT", str(timeout_ms)))
        answer = self._next(Keys)
        return answer.digits if isinstance(answer, Keys) else None

    async def exec(self, app: str, *args: str) -> int:
        self.commands.append(("EXEC", app, *args))
        return 0

    async def set_variable(self, name: str, value: str) -> None:
        self.commands.append(("SET VARIABLE", name, value))
        self.channel[name] = value

    async def get_variable(self, name: str) -> str | None:
        self.commands.append(("GET VARIABLE", name))
        return self.native_format if name == "CHANNEL(audionativeformat)" else None

    async def record_file(
        self,
        path: str,
        fmt: str,
        escape_digits: str,
        timeout_ms: int,
        silence_s: int | None = None,
    ) -> RecordingResult:
        self.commands.append(
            ("RECORD FILE", path, fmt, escape_digits, str(timeout_ms), str(silence_s))
        )
        answer = self._next(Keys, Say, Silence)
        if isinstance(answer, Keys):
            return RecordingResult("dtmf", answer.digits, 1600)
        assert self.speech_dir is not None
        host = self.speech_dir / f"{Path(path).name}.{fmt}"
        rate = 16000 if fmt == "wav16" else 8000
        with wave.open(str(host), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(b"\0\0" * rate)
        if isinstance(answer, Say):
            self.heard[str(host)] = answer
        return RecordingResult("timeout", None, rate)


def _consume(path: Path, delete: bool) -> None:
    assert path.is_file(), path
    if delete:
        path.unlink()


class FakeRecognizer:
    """Hears what the ``FakeCall`` script said into each recording; deletes like the real one."""

    def __init__(self, call: FakeCall, fail: Exception | None = None) -> None:
        self.call = call
        self.fail = fail
        self.requests: list[tuple[str, tuple[str, ...]]] = []

    async def recognize_file(
        self,
        path: Path,
        grammar: Sequence[str],
        *,
        timeout_s: float,
        executor: Executor | None = None,
        delete: bool = False,
    ) -> Recognition | None:
        self.requests.append((str(path), tuple(grammar)))
        _consume(path, delete)
        if self.fail is not None:
            raise self.fail
        said = self.call.heard.get(str(path))
        if said is None or said.word not in grammar:
            return None
        return Recognition(said.word, said.confidence, said.word)
