"""The fake PBX of the ``speech_menu`` benchmark: Asterisk's side of FastAGI for callers in
the Korean speech menu, growing each recording in real time from real audio.

Not a benchmark itself (no ``main``): see ``benchmarks/speech_menu.py`` for what is measured.
Invariants: one ``Line`` per AGI session; a recording ends on its timeout or on the engine's
stop (a channel name on the ``stop_listener`` socket, standing in for AMI PlayDTMF), and is
answered the way Asterisk answers RECORD FILE; time spent listening is counted only inside
the measurement window (``Tally.window``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.ivr_sessions import variable_block

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "speech"
RATE = 8000
TICK_S = 0.1
HEARD_VARIABLE = "DASAN_BENCH_HEARD"


def word_sources() -> list[tuple[str, bytes]]:
    """The committed 8 kHz menu-word clips, each padded 0.5 s before and 1.5 s after."""
    catalog = json.loads((FIXTURES / "fixtures.json").read_text(encoding="utf-8"))
    out = []
    for clip in catalog["clips"]:
        if clip["rate"] != RATE or clip["grammar"] != "main_menu":
            continue
        with wave.open(str(FIXTURES / clip["file"]), "rb") as wav:
            pcm = wav.readframes(wav.getnframes())
        out.append((clip["word"], b"\0\0" * (RATE // 2) + pcm + b"\0\0" * (RATE * 3 // 2)))
    return out


def tone_source() -> bytes:
    t = np.arange(RATE * 2) / RATE
    return (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()


def wav_header() -> bytes:
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI", b"RIFF", 36, b"WAVE", b"fmt ", 16, 1, 1, RATE, RATE * 2, 2, 16,
        b"data", 0,
    )  # fmt: skip


# Commands answered at once (prompts take no time here, see the module docstring).
_INSTANT = {
    "STREAM FILE": b"200 result=0 endpos=8000\n",
    "GET VARIABLE": b"200 result=1 (ulaw)\n",
    "SET VARIABLE": b"200 result=1\n",
}


@dataclass
class Tally:
    window: tuple[float, float] = (0.0, 0.0)
    sessions: int = 0
    errors: int = 0
    turnaround_s: list[float] = field(default_factory=list)
    after_record_s: list[float] = field(default_factory=list)
    speech_listen_s: float = 0.0
    keys_only_listen_s: float = 0.0
    records: int = 0
    keys_only: int = 0
    said: int = 0
    recognized: int = 0
    stopped_early: int = 0
    tone_words: int = 0

    def inside(self, start: float, end: float) -> float:
        return max(0.0, min(end, self.window[1]) - max(start, self.window[0]))

    def counting(self, at: float) -> bool:
        return self.window[0] <= at <= self.window[1]


class Line:
    """One caller's session: answers the engine's AGI commands."""

    def __init__(self, number: int, source: tuple[str, bytes], stops: dict[str, asyncio.Event]):
        self.channel = f"PJSIP/citizen-{number:08x}"
        self.word, self.audio = source
        self.stop = stops.setdefault(self.channel, asyncio.Event())
        self.recorded = False

    async def reply(self, line: str, tally: Tally) -> bytes:
        parts = line.split(" ")
        verb = " ".join(parts[:2]).upper()
        if verb == "RECORD FILE":
            return await self.record(parts[2], parts[3], int(parts[5]), tally)
        if verb == "WAIT FOR":  # WAIT FOR DIGIT: keys only (speech unavailable)
            start = time.perf_counter()
            await asyncio.sleep(int(parts[3]) / 1000)
            tally.keys_only_listen_s += tally.inside(start, time.perf_counter())
            tally.keys_only += tally.counting(start)
            return b"200 result=0\n"
        if verb == "GET DATA" and "language_option" in parts[2]:
            return b"200 result=1\n"  # Korean, at once
        if verb == "GET DATA":
            await asyncio.sleep(int(parts[3]) / 1000)
            return b"200 result= (timeout)\n"
        return _INSTANT.get(verb, b"200 result=0\n")

    async def record(self, path: str, fmt: str, timeout_ms: int, tally: Tally) -> bytes:
        """Grow ``path``.``fmt`` in real time until the timeout or the engine's stop."""
        self.stop.clear()
        self.recorded = True
        chunk = int(RATE * TICK_S) * 2
        looped = self.audio * 2
        start = time.perf_counter()
        ticks = written = 0
        with Path(f"{path}.{fmt}").open("wb") as out:  # noqa: ASYNC230 - small writes, as the PBX
            out.write(wav_header())
            while ticks * TICK_S < timeout_ms / 1000 and not self.stop.is_set():
                offset = (ticks * chunk) % len(self.audio)
                out.write(looped[offset : offset + chunk])
                out.flush()
                written += chunk
                ticks += 1
                wait = start + ticks * TICK_S - time.perf_counter()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), max(wait, 0.0))
        stopped = self.stop.is_set()
        tally.speech_listen_s += tally.inside(start, time.perf_counter())
        if tally.counting(start):
            tally.records += 1
            tally.stopped_early += stopped
        if stopped:
            return f"200 result={ord('D')} (dtmf) endpos={written // 2}\n".encode()
        return f"200 result=0 (timeout) endpos={written // 2}\n".encode()


async def one_call(port: int, line: Line, number: int, tally: Tally) -> None:
    async with asyncio.timeout(10):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    replied_at: float | None = None
    after_record = False
    try:
        writer.write(variable_block(number))
        while command := (await reader.readline()).decode().strip():
            now = time.perf_counter()
            if replied_at is not None and tally.counting(now):
                (tally.after_record_s if after_record else tally.turnaround_s).append(
                    now - replied_at
                )
            if command.startswith("SET VARIABLE " + HEARD_VARIABLE):
                heard = command.split(" ", 3)[3].strip('"')
                if line.recorded and tally.counting(now):
                    tally.said += bool(line.word)
                    tally.recognized += bool(line.word) and heard == line.word
                    tally.tone_words += not line.word and heard != "-"
            after_record = command.upper().startswith("RECORD FILE")
            writer.write(await line.reply(command, tally))
            await writer.drain()
            replied_at = time.perf_counter()
    finally:
        writer.close()


async def caller(
    port: int,
    index: int,
    *,
    sources: list[tuple[str, bytes]],
    tally: Tally,
    stops: dict[str, asyncio.Event],
    until: float,
) -> None:
    number = index
    while time.perf_counter() < until:
        number += 1000
        line = Line(number, sources[number % len(sources)], stops)
        try:
            await one_call(port, line, number, tally)
            tally.sessions += tally.counting(time.perf_counter())
        except (OSError, TimeoutError):
            tally.errors += 1


async def stop_listener(stops: dict[str, asyncio.Event]) -> tuple[asyncio.Server, int]:
    """Where the engine stand-in's early stops arrive (AMI PlayDTMF in production)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while channel := (await reader.readline()).decode().strip():
            event = stops.get(channel)
            if event is not None:
                event.set()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]
