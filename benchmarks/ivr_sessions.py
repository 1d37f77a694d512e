"""IVR sessions per second and CPU per call through the real FastAGI server (issue 3, item 8).

The server under test runs in its own process: ``ivr.agi.AgiServer`` on a free loopback port
with a handler that runs ``ivr.runner.run_menu`` over the shipped 120 menu (no speech), then
reports the routing target with SET VARIABLE. The load generator plays Asterisk over real TCP
sockets: it writes the variable block and answers every AGI command the way Asterisk 22 does
(STREAM FILE ``result=0 endpos=...``, GET DATA with the scenario's key or ``(timeout)``, ...),
for a mix of callers: Korean services by keypad, each foreign language, a caller who barges in
during the greeting, and a silent caller who is re-prompted and then handed to a consultant.
No audio is played, so this measures the engine's cost per call, not call duration.

Reported: sessions/s, AGI commands/s, server CPU seconds per session and per 1,000 sessions
(its process's user+system time), server CPU share of one core, session turnaround p50/p99,
routing mistakes (a target other than the scenario's), and the pure stepper alone for scale.
Output: benchmarks/results/ivr_sessions.json.

Invariants: the server process is always terminated and awaited; a run takes ~40 s.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from benchmarks.drive import drive
from common.stats import percentiles
from ivr.hours import load_service_hours
from ivr.menu.events import (
    Collect,
    DigitsReceived,
    Event,
    NoInput,
    PlayPrompts,
    PromptFinished,
    Started,
)
from ivr.menu.loader import Menu, load_menu
from ivr.menu.stepper import initial_state, step
from ivr.prompts.manifest import load_manifest

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "ivr_sessions.json"
IO_TIMEOUT_S = 10.0
TARGET_VARIABLE = "DASAN_BENCH_TARGET"
SEOUL_NOON = dt.datetime(2026, 11, 18, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))


@dataclass(frozen=True)
class Scenario:
    name: str
    keys: tuple[str | None, ...]  # answers to GET DATA in order (None: timeout)
    barge: str | None  # key pressed during the first interruptible prompt
    target: str


SCENARIOS = (
    Scenario("ko_transport", ("1", "2"), None, "transport"),
    Scenario("ko_documents", ("1", "3"), None, "documents"),
    Scenario("ko_care129", ("1", "6"), None, "care129"),
    Scenario("ko_invalid_then_welfare", ("1", "#", "5"), None, "welfare"),
    Scenario("en", ("2",), None, "foreign_en"),
    Scenario("zh_barge_in", (), "3", "foreign_zh"),
    Scenario("ja", ("4",), None, "foreign_ja"),
    Scenario("vi", ("5",), None, "foreign_vi"),
    Scenario("mn", ("6",), None, "foreign_mn"),
    Scenario("silent", (), None, "general"),
)


# -- the server under test (``python -m benchmarks.ivr_sessions --serve``) ------------------


async def serve() -> None:
    from ivr.agi import AgiServer, AgiSession
    from ivr.menu.loader import MenuStore, menu_loader
    from ivr.runner import PromptPaths, run_menu
    from ivr.settings import AgiSettings, IvrSettings

    ivr = IvrSettings()
    store = MenuStore(menu_loader(ivr))
    prompts = PromptPaths(ivr.prompts_pbx_dir)

    def clock() -> dt.datetime:  # foreign-language hours open: every scenario is routable
        return SEOUL_NOON

    async def handler(session: AgiSession) -> None:
        outcome = await run_menu(session, store.current, prompts, None, clock)
        await session.set_variable(TARGET_VARIABLE, outcome.target or "end")

    # The fake PBX models waits as WAIT FOR DIGIT: no silence to fill.
    server = AgiServer(AgiSettings(port=0, silence_fill=""), {"ivr": handler})
    await server.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(server.bound_port, flush=True)
    await stop.wait()
    await server.stop(grace_s=1.0)


# -- the fake Asterisk ------------------------------------------------------------------------


def variable_block(number: int) -> bytes:
    lines = [
        "agi_network: yes",
        "agi_network_script: ivr",
        "agi_request: agi://127.0.0.1:4573/ivr",
        f"agi_channel: PJSIP/citizen-{number:08x}",
        "agi_language: en",
        "agi_type: PJSIP",
        f"agi_uniqueid: 1763450000.{number}",
        "agi_version: 22.10.1",
        "agi_callerid: 01012345678",
        "agi_dnid: 120",
        "agi_context: dasan-citizen",
        "agi_extension: 120",
        "agi_priority: 3",
    ]
    return ("\n".join(lines) + "\n\n").encode()


@dataclass
class Tally:
    sessions: int = 0
    commands: int = 0
    errors: int = 0
    misrouted: int = 0
    turnaround_s: list[float] = field(default_factory=list)


class CallerScript:
    """Answers one session's commands like Asterisk would for this scenario's caller."""

    def __init__(self, scenario: Scenario) -> None:
        self.keys = list(scenario.keys)
        self.barge = scenario.barge
        self.target: str | None = None

    def reply(self, line: str) -> bytes:
        command = line.split(" ", 2)
        verb = " ".join(command[:2]).upper()
        if verb == "STREAM FILE":
            escape = line.rsplit(" ", 1)[-1].strip('"')
            if self.barge and self.barge in escape:
                digit, self.barge = self.barge, None
                return f"200 result={ord(digit)} endpos=1200\n".encode()
            return b"200 result=0 endpos=16000\n"
        if verb == "GET DATA":
            key = self.keys.pop(0) if self.keys else None
            return b"200 result= (timeout)\n" if key is None else f"200 result={key}\n".encode()
        if verb == "SET VARIABLE":
            name, _, value = line[len("SET VARIABLE ") :].partition(" ")
            if name.strip('"') == TARGET_VARIABLE:
                self.target = value.strip().strip('"')
            return b"200 result=1\n"
        if verb == "GET VARIABLE":
            return b"200 result=1 (ulaw)\n"
        return b"200 result=0\n"


async def one_call(port: int, number: int, tally: Tally) -> None:
    scenario = SCENARIOS[number % len(SCENARIOS)]
    script = CallerScript(scenario)
    started = time.perf_counter()
    async with asyncio.timeout(IO_TIMEOUT_S):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(variable_block(number))
        while True:
            async with asyncio.timeout(IO_TIMEOUT_S):
                line = await reader.readline()
            if not line:
                break  # the server closed the session: the IVR is done
            writer.write(script.reply(line.decode().strip()))
            await writer.drain()
            tally.commands += 1
    finally:
        writer.close()
    tally.turnaround_s.append(time.perf_counter() - started)
    if script.target != scenario.target:
        tally.misrouted += 1


async def run_load(port: int, concurrency: int, duration_s: float) -> tuple[Tally, float]:
    tally = Tally()

    async def session(number: int, tally: Tally) -> None:
        await one_call(port, number, tally)

    return tally, await drive(session, tally, concurrency, duration_s)


async def measure(concurrency: int, duration_s: float) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.ivr_sessions", "--serve",
        stdout=asyncio.subprocess.PIPE, cwd=str(REPO),
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(30):
            line = (await proc.stdout.readline()).decode().strip()
        if not line.isdigit():
            raise RuntimeError("the IVR server process did not start (see its traceback)")
        port = int(line)
        server = psutil.Process(proc.pid)
        await run_load(port, 4, 2.0)  # warm-up: imports, menu caches, socket paths
        cpu_before = sum(server.cpu_times()[:2])
        client_before = time.process_time()
        tally, wall = await run_load(port, concurrency, duration_s)
        server_cpu = sum(server.cpu_times()[:2]) - cpu_before
        client_cpu = time.process_time() - client_before
        rss_mb = server.memory_info().rss / 2**20
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            await proc.wait()
    return summarize(
        concurrency, tally, wall, server_cpu=server_cpu, client_cpu=client_cpu, rss_mb=rss_mb
    )


def summarize(
    concurrency: int,
    tally: Tally,
    wall: float,
    *,
    server_cpu: float,
    client_cpu: float,
    rss_mb: float,
) -> dict[str, Any]:
    sessions = max(tally.sessions, 1)
    return {
        "concurrency": concurrency,
        "sessions": tally.sessions,
        "errors": tally.errors,
        "misrouted": tally.misrouted,
        "wall_s": round(wall, 2),
        "sessions_per_s": round(tally.sessions / wall, 1),
        "commands_per_session": round(tally.commands / sessions, 1),
        "commands_per_s": round(tally.commands / wall, 1),
        "server_cpu_ms_per_session": round(1000 * server_cpu / sessions, 3),
        "server_cpu_s_per_1000_sessions": round(1000 * server_cpu / sessions, 2),
        "server_cpu_share_of_one_core": round(server_cpu / wall, 3),
        "client_cpu_share_of_one_core": round(client_cpu / wall, 3),
        "server_rss_mb": round(rss_mb, 1),
        "session_turnaround_ms": percentiles(tally.turnaround_s, (50, 99), scale=1000, digits=2),
    }


def _walk(menu: Menu, scenario: Scenario) -> int:
    """One scenario through the pure stepper; returns the number of steps."""
    keys, barge = list(scenario.keys), scenario.barge
    state, actions = step(menu, initial_state(menu), Started(), SEOUL_NOON)
    steps = 0
    while actions and isinstance(actions[-1], PlayPrompts | Collect):
        last = actions[-1]
        event: Event
        if isinstance(last, PlayPrompts) and barge and last.interruptible:
            event, barge = DigitsReceived(barge), None
        elif isinstance(last, PlayPrompts):
            event = PromptFinished()
        else:
            key = keys.pop(0) if keys else None
            event = DigitsReceived(key) if key else NoInput()
        state, actions = step(menu, state, event, SEOUL_NOON)
        steps += 1
    return steps


def stepper_only(seconds: float) -> dict[str, Any]:
    """The pure stepper on the same scenarios, in this process: the menu logic's own cost."""
    menu = load_menu(None, load_manifest(), load_service_hours())
    sessions = steps = 0
    deadline = time.perf_counter() + seconds
    cpu0 = time.process_time()
    while time.perf_counter() < deadline:
        steps += _walk(menu, SCENARIOS[sessions % len(SCENARIOS)])
        sessions += 1
    cpu = time.process_time() - cpu0
    return {
        "sessions_per_cpu_s": round(sessions / cpu, 1),
        "steps_per_cpu_s": round(steps / cpu, 1),
        "cpu_us_per_session": round(1e6 * cpu / sessions, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=float, default=12.0)
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 16, 64])
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve())
        return
    load_before = [round(x, 2) for x in os.getloadavg()]
    runs = [asyncio.run(measure(c, args.duration)) for c in args.concurrency]
    for run in runs:
        print(
            f"concurrency {run['concurrency']:>3}: {run['sessions_per_s']} sessions/s, "
            f"{run['server_cpu_ms_per_session']} server CPU-ms/session, "
            f"misrouted {run['misrouted']}, errors {run['errors']}",
            flush=True,
        )
    result = {
        "benchmark": "ivr_sessions",
        "driver": "real ivr.agi.AgiServer over loopback TCP, fake Asterisk client (no PBX)",
        "menu": "ivr/menus/dasan120.yaml, keypad only, no audio",
        "scenarios": [s.name for s in SCENARIOS],
        "runs": runs,
        "stepper_only": stepper_only(3.0),
        "host": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
        },
        "note": "2 shared cores: the load generator runs on the same host as the server",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
