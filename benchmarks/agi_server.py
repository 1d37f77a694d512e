"""FastAGI servers side by side on the same synthetic load, without Asterisk (issue 7, item 2).

A load generator plays Asterisk: per session it connects, writes a variable block and answers
each of N commands with ``200 result=0``; sessions run concurrently for a fixed time. Compared:
  (a) our ``ivr.agi.AgiServer`` (subprocess), (b) panoramisk 1.4's FastAGI ``Application``
  (subprocess, constructed inside the running loop), (c) pyst2 0.5.1's stdio ``asterisk.agi.AGI``
  with one process per call, the way Asterisk runs a local AGI script.
Reported: sessions/s, commands/s, commands per CPU-second of the server side (its processes'
user+system time: that is commands/s per core), and the server turnaround per command
(from the generator's reply to the next command; p50/p99). Two probes show panoramisk's
defects next to ours: a reply written after an unsolicited HANGUP, and a client that closes
before the variable block. Output: benchmarks/results/agi_server.json.

Invariants: servers under test run in their own processes (their CPU is measured apart from
the generator's); every process started here is stopped here; a run takes about a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from benchmarks.drive import drive
from common.stats import percentiles

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "agi_server.json"
IO_TIMEOUT_S = 10.0
PYST_SCRIPT = (
    "import sys\nfrom asterisk.agi import AGI\nagi = AGI()\n"
    "for _ in range(int(sys.argv[1])):\n    agi.execute('NOOP')\n"
)


BLOCK = (
    "agi_network: yes\nagi_network_script: {script}\nagi_request: agi://127.0.0.1:4573/{script}\n"
    "agi_channel: PJSIP/citizen-{n:08x}\nagi_language: ko\nagi_type: PJSIP\n"
    "agi_uniqueid: 1764355829.{n}\nagi_version: 22.10.1\nagi_callerid: 01012345678\n"
    "agi_calleridname: unknown\nagi_callingpres: 0\nagi_callingani2: 0\nagi_callington: 0\n"
    "agi_callingtns: 0\nagi_dnid: 120\nagi_rdnis: unknown\nagi_context: from-citizens\n"
    "agi_extension: 120\nagi_priority: 7\nagi_enhanced: 0.0\nagi_accountcode: \n"
    "agi_threadid: 140704341169856\n\n"
)


def variable_block(script: str, n: int) -> bytes:
    """The block as Asterisk 22 writes it (all of setup_env's variables, recorded)."""
    return BLOCK.format(script=script, n=n).encode()


# -- servers under test (run in a subprocess: ``python -m benchmarks.agi_server --serve X``) --


async def serve(kind: str, commands: int) -> None:
    if kind == "dasan":
        from ivr.agi import AgiServer, AgiSession
        from ivr.settings import AgiSettings

        async def dasan_handler(session: AgiSession) -> None:
            for _ in range(commands):
                await session.command("NOOP")

        server = AgiServer(AgiSettings(port=0), {"bench": dasan_handler})
        await server.start()
        port = server.bound_port
    else:
        from panoramisk.fast_agi import Application

        async def panoramisk_handler(request: Any) -> None:
            for _ in range(commands):
                await request.send_command("NOOP")

        app = Application()  # inside the running loop: it captures the loop at construction
        app.add_route("bench", panoramisk_handler)
        raw = await asyncio.start_server(app.handler, "127.0.0.1", 0, backlog=511)
        port = raw.sockets[0].getsockname()[1]
    print(port, flush=True)
    await asyncio.Event().wait()  # until the benchmark terminates this process


@dataclass
class Tally:
    sessions: int = 0
    commands: int = 0
    errors: int = 0
    setup: list[float] = field(default_factory=list)  # variable block -> first command
    latencies: list[float] = field(default_factory=list)  # reply -> next command


async def play_asterisk(
    reader: asyncio.StreamReader, write: Callable[[bytes], Awaitable[None]], n: int, tally: Tally
) -> None:
    """Answer ``n`` commands with ``200 result=0``; the block was just written."""
    sent = time.perf_counter()
    for i in range(n):
        async with asyncio.timeout(IO_TIMEOUT_S):
            line = await reader.readline()
        if not line.endswith(b"\n"):
            raise ConnectionError(f"closed before a command: {line!r}")
        (tally.latencies if i else tally.setup).append(time.perf_counter() - sent)
        await write(b"200 result=0\n")
        sent = time.perf_counter()
        tally.commands += 1


async def tcp_session(port: int, n: int, number: int, tally: Tally) -> None:
    async with asyncio.timeout(IO_TIMEOUT_S):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def write(data: bytes) -> None:
        writer.write(data)
        await writer.drain()

    try:
        block = variable_block("bench", number)
        cut = block.index(b"agi_accountcode")  # Asterisk's block came in two segments
        await write(block[:cut])
        await write(block[cut:])
        await play_asterisk(reader, write, n, tally)
        async with asyncio.timeout(IO_TIMEOUT_S):
            rest = await reader.read()  # the server closes the socket when the handler ends
        if rest:
            raise ConnectionError(f"unexpected data after the last reply: {rest[:80]!r}")
    finally:
        writer.close()


async def process_session(n: int, number: int, tally: Tally) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PYST_SCRIPT,
        str(n),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,  # pyst2 dumps the environment on stderr
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdin = proc.stdin

    async def write(data: bytes) -> None:
        stdin.write(data)
        await stdin.drain()

    try:
        await write(variable_block("bench", number))
        await play_asterisk(proc.stdout, write, n, tally)
    finally:
        stdin.close()
        async with asyncio.timeout(IO_TIMEOUT_S):
            await proc.wait()


async def run_load(
    session: Callable[[int, Tally], Awaitable[None]],
    concurrency: int,
    duration_s: float,
    tally: Tally | None = None,
) -> tuple[Tally, float]:
    """Run sessions from ``concurrency`` workers for ``duration_s``; adds to ``tally``."""
    tally = Tally() if tally is None else tally
    return tally, await drive(session, tally, concurrency, duration_s)


def summarize(tally: Tally, wall_s: float, cpu_s: float) -> dict[str, Any]:
    return {
        "sessions": tally.sessions,
        "errors": tally.errors,
        "wall_s": round(wall_s, 2),
        "sessions_per_s": round(tally.sessions / wall_s, 1),
        "commands": tally.commands,
        "commands_per_s": round(tally.commands / wall_s, 1),
        "server_cpu_s": round(cpu_s, 3),
        "commands_per_cpu_s": round(tally.commands / cpu_s, 1) if cpu_s else None,
        "sessions_per_cpu_s": round(tally.sessions / cpu_s, 1) if cpu_s else None,
        "turnaround_ms": percentiles(tally.latencies, (50, 99), scale=1000, digits=3),
        "setup_ms": percentiles(tally.setup, (50, 99), scale=1000, digits=3),
    }


async def start_server(kind: str, commands: int) -> tuple[asyncio.subprocess.Process, int]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.agi_server",
        "--serve",
        kind,
        "--commands",
        str(commands),
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO,
    )
    assert proc.stdout is not None
    async with asyncio.timeout(IO_TIMEOUT_S):
        port = int(await proc.stdout.readline())
    return proc, port


async def stop_process(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
    try:
        async with asyncio.timeout(IO_TIMEOUT_S):
            await proc.wait()
    except TimeoutError:
        proc.kill()
        await proc.wait()


def cpu_of(proc: asyncio.subprocess.Process) -> float:
    times = psutil.Process(proc.pid).cpu_times()
    return float(times.user + times.system)


async def bench_servers(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Both TCP servers up at once, measured in alternating rounds so that load from other
    processes on the machine falls on both alike."""
    kinds = ("dasan", "panoramisk")
    procs = {kind: await start_server(kind, args.commands) for kind in kinds}
    tallies = {kind: Tally() for kind in kinds}
    wall = dict.fromkeys(kinds, 0.0)
    cpu = dict.fromkeys(kinds, 0.0)
    by_round: dict[str, list[float]] = {kind: [] for kind in kinds}
    try:
        for r in range(args.rounds + 1):
            for kind in kinds if r % 2 else kinds[::-1]:
                proc, port = procs[kind]

                async def one(number: int, tally: Tally, port: int = port) -> None:
                    await tcp_session(port, args.commands, number, tally)

                if r == 0:  # warm-up
                    await run_load(one, 4, 0.5)
                    continue
                before, cpu0 = tallies[kind].commands, cpu_of(proc)
                _, seconds = await run_load(one, args.concurrency, args.duration, tallies[kind])
                used = cpu_of(proc) - cpu0
                wall[kind] += seconds
                cpu[kind] += used
                by_round[kind].append(round((tallies[kind].commands - before) / used))
    finally:
        for proc, _ in procs.values():
            await stop_process(proc)
    return {
        kind: summarize(tallies[kind], wall[kind], cpu[kind])
        | {"commands_per_cpu_s_by_round": by_round[kind]}
        for kind in kinds
    }


async def bench_process_per_call(args: argparse.Namespace) -> dict[str, Any]:
    async def one(number: int, tally: Tally) -> None:
        await process_session(args.commands, number, tally)

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    tally, wall = await run_load(one, args.process_concurrency, 2 * args.duration)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return summarize(tally, wall, cpu)


# -- defect probes ----------------------------------------------------------------------------


async def hangup_probe(port: int) -> None:
    """Asterisk side: HANGUP, then the late reply to the first command, then one more reply."""
    async with asyncio.timeout(IO_TIMEOUT_S):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(variable_block("probe", 1))
    replies = [b"HANGUP\n200 result=1 (value-of-A)\n", b"200 result=1 (value-of-B)\n"]
    try:
        async with asyncio.timeout(IO_TIMEOUT_S):
            while await reader.readline():
                writer.write(replies.pop(0) if replies else b"200 result=0\n")
    finally:
        writer.close()


async def probe_hangup_then_reply() -> dict[str, Any]:
    """Each server's handler asks GET VARIABLE A, then B; what did each one get?"""
    from panoramisk.fast_agi import Application

    from ivr.agi import AgiError, AgiServer, AgiSession
    from ivr.settings import AgiSettings

    seen: dict[str, list[str]] = {"dasan": [], "panoramisk": []}

    async def dasan_handler(session: AgiSession) -> None:
        for name in ("A", "B"):
            try:
                seen["dasan"].append(f"{name} -> {await session.get_variable(name)!r}")
            except AgiError as exc:
                seen["dasan"].append(f"{name} -> {type(exc).__name__}")

    async def panoramisk_handler(request: Any) -> None:
        for name in ("A", "B"):
            reply = await request.send_command(f"GET VARIABLE {name}")
            got = reply.get("error") or reply.get("result", ("", ""))[1]
            seen["panoramisk"].append(f"{name} -> {got!r}")

    ours = AgiServer(AgiSettings(port=0), {"probe": dasan_handler})
    await ours.start()
    app = Application()
    app.add_route("probe", panoramisk_handler)
    theirs = await asyncio.start_server(app.handler, "127.0.0.1", 0)
    try:
        await hangup_probe(ours.bound_port)
        await hangup_probe(theirs.sockets[0].getsockname()[1])
    finally:
        await ours.stop(1.0)
        theirs.close()
    misread = {k: any("value-of-A" in s and s.startswith("B") for s in v) for k, v in seen.items()}
    return {"sequence": seen, "b_got_a_reply": misread}


async def probe_early_close(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """A client closes before the variable block; then is the next call served? At what CPU?"""
    proc, port = await start_server(kind, args.commands)
    try:
        async with asyncio.timeout(IO_TIMEOUT_S):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()
        cpu0, t0 = cpu_of(proc), time.perf_counter()
        tally = Tally()
        try:
            async with asyncio.timeout(2.0):
                await tcp_session(port, args.commands, 2, tally)
            served = True
        except TimeoutError:
            served = False
        await asyncio.sleep(max(0.0, 2.0 - (time.perf_counter() - t0)))  # a fixed CPU window
        cpu_percent = 100 * (cpu_of(proc) - cpu0) / (time.perf_counter() - t0)
        return {"next_call_served": served, "server_cpu_percent": round(cpu_percent, 1)}
    finally:
        await stop_process(proc)


def compare(results: dict[str, dict[str, Any]]) -> tuple[dict[str, float], dict[str, bool]]:
    """Ratios of ours to the others; targets on per-core (CPU-normalised) figures, since wall
    throughput here is bounded by the load generator sharing the same cores."""
    ours, pano, ppc = (results[k] for k in ("dasan", "panoramisk", "pyst2_process_per_call"))

    def ratio(other: dict[str, Any], key: str) -> float:
        return round(float(ours[key]) / float(other[key]), 2)

    ratios = {
        "commands_per_cpu_s_vs_panoramisk": ratio(pano, "commands_per_cpu_s"),
        "commands_per_cpu_s_vs_process_per_call": ratio(ppc, "commands_per_cpu_s"),
        "sessions_per_cpu_s_vs_process_per_call": ratio(ppc, "sessions_per_cpu_s"),
        "sessions_per_s_wall_vs_process_per_call": ratio(ppc, "sessions_per_s"),
    }
    targets = {
        "commands_per_cpu_s_at_least_5000": ours["commands_per_cpu_s"] >= 5000,
        "not_slower_than_panoramisk": ratios["commands_per_cpu_s_vs_panoramisk"] >= 1.0,
        "at_least_20x_process_per_call": min(
            ratios["commands_per_cpu_s_vs_process_per_call"],
            ratios["sessions_per_cpu_s_vs_process_per_call"],
        )
        >= 20,
    }
    return ratios, targets


async def run(args: argparse.Namespace) -> dict[str, Any]:
    machine = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    results = await bench_servers(args)
    results["pyst2_process_per_call"] = await bench_process_per_call(args)
    defects = {
        "hangup_then_reply": await probe_hangup_then_reply(),
        "client_closes_before_variable_block": {
            kind: await probe_early_close(kind, args) for kind in ("dasan", "panoramisk")
        },
    }
    ratios, targets = compare(results)
    load = {
        "commands_per_session": args.commands,
        "concurrent_sessions": args.concurrency,
        "concurrent_processes": args.process_concurrency,
        "rounds": args.rounds,
        "seconds_per_round": args.duration,
    }
    return {
        "benchmark": "agi_server",
        "machine": machine,
        "load": load,
        "results": results,
        "ratios": ratios,
        "targets_met": targets,
        "defects": defects,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.agi_server", description=__doc__)
    parser.add_argument("--serve", choices=["dasan", "panoramisk"], help=argparse.SUPPRESS)
    parser.add_argument("--commands", type=int, default=20, help="commands per session")
    parser.add_argument("--concurrency", type=int, default=50, help="concurrent TCP sessions")
    parser.add_argument("--process-concurrency", type=int, default=4, help="concurrent processes")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds per server")
    parser.add_argument("--output", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.serve:
        asyncio.run(serve(args.serve, args.commands))
        return
    report = asyncio.run(run(args))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(
        json.dumps(
            {k: report[k] for k in ("results", "ratios", "targets_met", "defects")}, indent=2
        )
    )


if __name__ == "__main__":
    main()
