"""A caller's line for listening tests (unit tier only): RECORD FILE writes the caller's audio
into the speech folder in real time, the way Asterisk grows a WAV file while it records.

The file gets Asterisk's 44-byte header first (sizes zero until the end), then one 20 ms frame
per 20 ms of wall clock: the caller's audio, then silence once it runs out. The recording ends
on the engine's stop digit (``stop_recording``), a key the caller presses at ``key_at_s``, or
its timeout, and says which like Asterisk's reply does.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ivr.agi import RecordingResult
from ivr.listen import STOP_DIGIT

FRAME_S = 0.02


def wav_header(rate: int) -> bytes:
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI", b"RIFF", 36, b"WAVE", b"fmt ", 16, 1, 1, rate, rate * 2, 2, 16,
        b"data", 0,
    )  # fmt: skip


def tone(seconds: float, rate: int, hz: float = 440.0, level: float = 8000.0) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * hz * t)).astype("<i2").tobytes()


def syllables(seconds: float, rate: int, level: float = 8000.0) -> bytes:
    """Noise switched on and off four times a second: loud, and moving like speech."""
    rng = np.random.default_rng(7)
    n = int(seconds * rate)
    gate = (np.arange(n) / rate * 4 % 1.0) < 0.6
    return (rng.normal(0, level / 2, n) * gate).clip(-32000, 32000).astype("<i2").tobytes()


class RecordingLine:
    """Implements ``ivr.listen.ListeningCall``."""

    def __init__(
        self,
        speech_dir: Path,
        audio: bytes,
        rate: int,
        *,
        key_at_s: tuple[float, str] | None = None,
        keys_only_digit: str | None = None,
    ) -> None:
        self.variables: Mapping[str, str] = {
            "agi_uniqueid": "1763450000.7",
            "agi_channel": "PJSIP/citizen-00000007",
        }
        self.speech_dir, self.audio, self.rate = speech_dir, audio, rate
        self.key_at_s = key_at_s
        self.keys_only_digit = keys_only_digit
        self.stop = asyncio.Event()
        self.commands: list[tuple[str, ...]] = []
        self.stopped_on: list[str] = []
        self.recorded_s = 0.0

    @property
    def uniqueid(self) -> str:
        return self.variables["agi_uniqueid"]

    async def stop_recording(self, channel: str) -> bool:
        self.stopped_on.append(channel)
        self.stop.set()
        return True

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        self.commands.append(("WAIT FOR DIGIT", str(timeout_ms)))
        return self.keys_only_digit

    async def record_file(
        self,
        path: str,
        fmt: str,
        escape_digits: str,
        timeout_ms: int,
        silence_s: int | None = None,
    ) -> RecordingResult:
        self.commands.append(("RECORD FILE", path, fmt, escape_digits, str(timeout_ms)))
        host = self.speech_dir / f"{Path(path).name}.{fmt}"
        frame = int(self.rate * FRAME_S) * 2
        loop = asyncio.get_running_loop()
        start = loop.time()
        with host.open("wb") as out:
            out.write(wav_header(self.rate))
            out.flush()
            for index in range(int(timeout_ms / 1000 / FRAME_S)):
                elapsed = index * FRAME_S
                self.recorded_s = elapsed
                if self.stop.is_set() and STOP_DIGIT in escape_digits:
                    return RecordingResult("dtmf", STOP_DIGIT, index * frame // 2)
                if self.key_at_s and elapsed >= self.key_at_s[0]:
                    return RecordingResult("dtmf", self.key_at_s[1], index * frame // 2)
                chunk = self.audio[index * frame : (index + 1) * frame]
                out.write(chunk.ljust(frame, b"\0"))
                out.flush()
                # Paced on an absolute schedule: the file grows at the speed of a real call.
                await asyncio.sleep(max(0.0, start + elapsed + FRAME_S - loop.time()))
        self.recorded_s = timeout_ms / 1000
        return RecordingResult("timeout", None, int(timeout_ms / 1000 * self.rate))
