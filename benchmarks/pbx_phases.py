"""Asterisk CPU per call-second of each phase of a citizen call, raw and through the engine.

A call to 120 spends its time in phases that cost the PBX differently: the IVR playing
prompts, a speech menu listening (the PBX records what the caller says), waiting with music,
talking to a consultant; the 120 line records all of it. Each phase is measured on its own:
``CALLS`` SIPp calls are held in that one phase at once, the caller streaming RTP the whole
time and the PBX sending prompts, music or the consultant's audio back (media both ways), and
Asterisk's CPU (utime + stime of its process, all threads) is read over a steady window
while every call is in the phase, minus the same PBX's idle CPU just before, divided by the
call-seconds in the window (the sum over the window of calls up, sampled every tick).

Variants, one run, one PBX and engine for all (the engine connected to AMI throughout, as in
production, so the raw figures carry the same AMI cost):
- ``raw``: a benchmark extension that does only that phase (dialplans/bench.conf 9010-9013);
- ``raw_recorded``: the same with MixMonitor from the answer on (9020-9023);
- ``engine``: the real 120 flow through ``dasan serve`` (which always records): callers who
  press nothing are measured in the IVR, callers who chose a service while every consultant
  is away (a second PBX and engine with REGISTER-only consultants, nobody registered) waiting
  with music, callers answered by the SIPp consultants talking.

From each figure, the calls one core holds in that phase (1000 / ms per call-second) and at
a stated utilisation (``HEADROOM``). ``dasan cluster plan`` takes its default costs from this
file (``model_costs``).

Invariants: every call placed here ends (the callers hang up at ``hold_s``, LoadRun stops
every SIPp process it started); a phase whose calls never all reached their state within its
deadline is reported with ``complete: false`` and its purity, never silently averaged in; the
run is bounded by ``TIMEOUT_S``. Output: benchmarks/results/pbx_phases.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.pbx_env import (
    REPO,
    BenchEnv,
    Processes,
    bench_env,
    caller_of,
    git_commit,
    in_own_netns,
    wait_port_free,
)
from dasan.config import load_settings
from dasan.load.distributions import Distribution, Shape
from dasan.load.machine import describe_machine
from dasan.load.profile import CallType, Key, Profile
from dasan.load.runner import LoadRun, Progress, RunOptions
from dasan.load.stack import Stack

TIMEOUT_S = 20 * 60
RESULTS = REPO / "benchmarks" / "results" / "pbx_phases.json"
CALLS = 40
RATE = 10.0  # new calls per second while a phase fills
SETTLE_S = 2.0  # after every call reached the phase, before the window opens
WINDOW_S = 12.0
IDLE_S = 5.0
TICK_S = 0.5
# The utilisation a node is planned at: the concurrency per core is quoted at 100 % and here.
HEADROOM = 0.7
# Korean, general: both keys typed ahead during the welcome (pbx_capacity's FAST_KEYS).
FAST_KEYS = (Key(digit="1", after_s=1.0), Key(digit="1", after_s=0.5))
# The engine's PBX work as in production, minus transcribing finished recordings (post-call
# work of the engine's host, not of the PBX). Appended to the bench configuration ([ivr] last).
ENGINE_TOML = "[recordings]\ntranscription_enabled = false\n"
# Consultants offerable only once registered, and nobody registers: every caller waits.
NOBODY_TOML = ENGINE_TOML + '[consultants]\nstatic_contact = ""\n'


@dataclass(frozen=True)
class Phase:
    phase: str  # ivr | speech_menu | waiting | talking
    variant: str  # raw | raw_recorded | engine
    service: str
    state: str  # the tracker's count the calls must all be in: in_ivr | waiting | talking
    keys: tuple[Key, ...] = ()
    stack: str = "static"  # static: the demo consultants answer; nobody: nobody registered
    # The longest a call may take to reach the phase (the 120 IVR before the queue).
    reach_s: float = 5.0

    @property
    def key(self) -> str:
        return f"{self.phase}/{self.variant}"


PHASES: tuple[Phase, ...] = (
    Phase("ivr", "raw", "9010", "in_ivr"),
    Phase("ivr", "raw_recorded", "9020", "in_ivr"),
    Phase("ivr", "engine", "120", "in_ivr"),
    Phase("speech_menu", "raw", "9011", "in_ivr"),
    Phase("speech_menu", "raw_recorded", "9021", "in_ivr"),
    Phase("waiting", "raw", "9012", "waiting"),
    Phase("waiting", "raw_recorded", "9022", "waiting"),
    Phase("talking", "raw", "9013", "talking"),
    Phase("talking", "raw_recorded", "9023", "talking"),
    Phase("talking", "engine", "120", "talking", FAST_KEYS, reach_s=30.0),
    Phase("waiting", "engine", "120", "waiting", FAST_KEYS, stack="nobody", reach_s=30.0),
)


def hold_s(phase: Phase, calls: int, rate: float, window_s: float) -> float:
    """How long each caller stays: long enough for the last call to reach the phase and the
    whole window to pass, with a margin; then the callers hang up."""
    return math.ceil(calls / rate + phase.reach_s + SETTLE_S + window_s + 6.0)


def profile_for(phase: Phase, calls: int, rate: float, window_s: float) -> Profile:
    hold = hold_s(phase, calls, rate, window_s)
    return Profile(
        name=f"phase-{phase.phase}-{phase.variant}",
        service=phase.service,
        rate=rate,
        calls=calls,
        duration_s=calls / rate,
        drain_s=hold + 20,
        ring_s=0.1,
        # The consultant talks longer than the caller stays: the caller ends every call.
        talk_s=Distribution(dist=Shape.FIXED, value=hold + 60),
        citizen_timeout_s=hold,
        bins=1,
        audit_wait_s=0,
        mix=(CallType(name="phase", share=1.0, keys=phase.keys),),
    )


def cpu_s(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def udp_drops(pid: int) -> dict[str, int]:
    """Datagrams the kernel dropped on each of the process's own UDP sockets (by inode):
    RTP and SIP it never read. A PBX starved of CPU drops media instead of spending CPU on
    it. Sockets come and go with calls: compare two readings with ``drops_between``."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    drops: dict[str, int] = {}
    for table in ("udp", "udp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) >= 13 and fields[9] in inodes:
                drops[fields[9]] = int(fields[12])
    return drops


def drops_between(before: dict[str, int], after: dict[str, int]) -> int:
    """Drops in between, on the sockets open at the end (a new socket counts from zero)."""
    return sum(max(0, count - before.get(inode, 0)) for inode, count in after.items())


def host_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole host since boot (``/proc/stat``)."""
    values = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0.0)
    return sum(values) - idle, sum(values)


async def idle_rate(pid: int, seconds: float) -> float:
    """Asterisk's CPU-seconds per second with no call up."""
    start, t0 = cpu_s(pid), time.monotonic()
    await asyncio.sleep(seconds)
    return (cpu_s(pid) - start) / (time.monotonic() - t0)


def ms_per_call_s(cpu: float, idle_per_s: float, wall_s: float, call_s: float) -> float | None:
    """Asterisk CPU (ms) per call-second: the window's CPU minus the idle rate over it."""
    if call_s <= 0:
        return None
    return round(1000 * (cpu - idle_per_s * wall_s) / call_s, 3)


def per_core(ms: float | None, utilisation: float = 1.0) -> int | None:
    """Calls one core holds in a phase at ``utilisation`` of the core."""
    return None if not ms or ms <= 0 else math.floor(utilisation * 1000 / ms)


class Window:
    """The latest counts LoadRun reported; the window integrates calls up over time."""

    def __init__(self) -> None:
        self.latest: Progress | None = None

    def update(self, progress: Progress) -> None:
        self.latest = progress

    def count(self, state: str) -> int:
        if self.latest is None:
            return 0
        counts = self.latest.counts
        return counts.active if state == "active" else int(getattr(counts, state))

    async def reach(self, state: str, wanted: int, deadline: float) -> bool:
        while self.count(state) < wanted:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.2)
        return True

    async def measure(self, pid: int, state: str, window_s: float) -> dict[str, float]:
        """CPU over ``window_s`` and the call-seconds (all calls up, and in ``state``)."""
        cpu0, t0 = cpu_s(pid), time.monotonic()
        drops0, (busy0, total0) = udp_drops(pid), host_busy()
        active_s = in_state_s = 0.0
        last = t0
        while (now := time.monotonic()) - t0 < window_s:
            await asyncio.sleep(min(TICK_S, window_s - (now - t0)))
            now = time.monotonic()
            active_s += self.count("active") * (now - last)
            in_state_s += self.count(state) * (now - last)
            last = now
        busy1, total1 = host_busy()
        return {
            "cpu_s": cpu_s(pid) - cpu0,
            "wall_s": time.monotonic() - t0,
            "call_s": active_s,
            "in_phase_s": in_state_s,
            "udp_drops": drops_between(drops0, udp_drops(pid)),
            "host_busy": (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0,
        }


async def run_phase(
    env: BenchEnv,
    stack: Stack,
    phase: Phase,
    *,
    calls: int,
    window_s: float,
    log: Callable[[str], None],
) -> dict[str, Any]:
    settings = load_settings(env.config_path)
    pid = stack.asterisk_pid()
    if pid is None:
        raise RuntimeError("the PBX is not running")
    wait_port_free(5090)
    idle = await idle_rate(pid, IDLE_S)
    load_before = os.getloadavg()
    profile = profile_for(phase, calls, RATE, window_s)
    citizen_ip, trunk = caller_of(phase.service)
    window = Window()
    options = RunOptions(
        workdir=env.root / "runs" / f"{phase.phase}-{phase.variant}",
        audit=False,
        verify_hashes=False,
        citizen_ip=citizen_ip,
        trunk=trunk,
        tick_s=TICK_S,
    )
    run = LoadRun(settings, profile, Processes(stack), options, on_progress=window.update)
    task = asyncio.create_task(run.run(), name=f"phase-{phase.key}")
    started = time.monotonic()
    # Every call placed (calls / RATE) and reached the phase: 95 % of them at least.
    wanted = math.ceil(0.95 * calls)
    reached = await window.reach(phase.state, wanted, started + calls / RATE + phase.reach_s + 5.0)
    reached_after = time.monotonic() - started
    await asyncio.sleep(SETTLE_S)
    measured = await window.measure(pid, phase.state, window_s)
    data = await task
    ms = ms_per_call_s(measured["cpu_s"], idle, measured["wall_s"], measured["call_s"])
    purity = measured["in_phase_s"] / measured["call_s"] if measured["call_s"] else 0.0
    result: dict[str, Any] = {
        "service": phase.service,
        "state": phase.state,
        "calls": calls,
        "complete": reached and purity >= 0.95,
        "reached_s": round(reached_after, 1),
        "window_s": round(measured["wall_s"], 2),
        "call_s": round(measured["call_s"], 1),
        "mean_calls_up": round(measured["call_s"] / measured["wall_s"], 1),
        "purity": round(purity, 3),
        "asterisk_cpu_s": round(measured["cpu_s"], 3),
        "asterisk_idle_cpu_per_s": round(idle, 4),
        "ms_per_call_s": ms,
        "calls_per_core": per_core(ms),
        f"calls_per_core_at_{round(HEADROOM * 100)}pct": per_core(ms, HEADROOM),
        # A saturated host starves the PBX: it then drops media instead of spending CPU on
        # it, and the cost comes out low. Both are reported with every figure.
        "host_busy_in_window": round(measured["host_busy"], 3),
        "asterisk_udp_drops_in_window": measured["udp_drops"],
        "host_load_before": [round(x, 2) for x in load_before],
        "host_load_after": [round(x, 2) for x in os.getloadavg()],
        "sipp_failures": sum(r.failed for s in data.stages for r in s.results),
        "timed_out": data.timed_out,
    }
    log(
        f"pbx_phases: {phase.key} ({phase.service}): {ms} ms per call-second, "
        f"{result['mean_calls_up']} calls up, purity {result['purity']}, "
        f"host {result['host_busy_in_window']:.0%} busy, {measured['udp_drops']} UDP drops, "
        f"load {result['host_load_after'][0]}"
    )
    return result


def model_costs(phases: dict[str, dict[str, Any]]) -> dict[str, float]:
    """The cost per phase for the capacity model: a 120 call is recorded from the answer on,
    so the engine's figure where measured, else the recorded raw one."""
    out: dict[str, float] = {}
    for name, variants in phases.items():
        for variant in ("engine", "raw_recorded"):
            figure = (variants.get(variant) or {}).get("ms_per_call_s")
            if isinstance(figure, int | float) and figure > 0:
                out[name] = float(figure)
                break
    return out


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def _on_stack(
    toml: str, name: str, phases: list[Phase], calls: int, window_s: float
) -> tuple[dict[str, dict[str, Any]], str | None]:
    out: dict[str, dict[str, Any]] = {}
    with bench_env(postgres=False) as env:
        config = env.root / f"dasan-{name}.toml"
        config.write_text(env.config_path.read_text() + toml, encoding="utf-8")
        bench = BenchEnv(env.root, config, env.database)
        settings = load_settings(config)
        stack = Stack(settings, start=True, config_path=config, log_dir=env.root / "engine")
        try:
            async with stack:
                version = stack.asterisk_version()
                for phase in phases:
                    try:
                        out[phase.key] = await run_phase(
                            bench, stack, phase, calls=calls, window_s=window_s, log=_log
                        )
                    except Exception as exc:  # reported in the results, the others go on
                        _log(f"pbx_phases: {phase.key} failed: {type(exc).__name__}: {exc}")
                        out[phase.key] = {"error": f"{type(exc).__name__}: {exc}"}
        except subprocess.TimeoutExpired as exc:
            # An engine slow to stop on a saturated host must not lose the figures taken;
            # the PBX container is still stopped (Stack stops it after the engine).
            _log(f"pbx_phases: stopping the {name} stack timed out: {exc}")
            with contextlib.suppress(Exception):
                await asyncio.to_thread(stack.container.down)
    return out, version


async def measure(selected: list[str], calls: int, window_s: float) -> dict[str, Any]:
    wanted = [p for p in PHASES if not selected or p.key in selected or p.phase in selected]
    results: dict[str, dict[str, Any]] = {}
    version = None
    for stack_name, toml in (("static", ENGINE_TOML), ("nobody", NOBODY_TOML)):
        phases = [p for p in wanted if p.stack == stack_name]
        if phases:
            got, found = await _on_stack(toml, stack_name, phases, calls, window_s)
            results |= got
            version = version or found
    table: dict[str, dict[str, Any]] = {}
    for key, result in results.items():
        name, variant = key.split("/")
        table.setdefault(name, {})[variant] = result
    return {
        "benchmark": "pbx_phases",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "machine": describe_machine(version),
        "setup": (
            f"{calls} SIPp calls held in one phase at once (placed at {RATE:g}/s), RTP both ways; "
            f"Asterisk CPU over a {window_s:g} s window once every call is in the phase, minus "
            f"its idle CPU over {IDLE_S:g} s just before, per call-second; one PBX and engine "
            "for the raw and engine phases (a second with nobody registered for the engine's "
            "waiting phase); Asterisk, engine and SIPp on the same host"
        ),
        "headroom": HEADROOM,
        "phases": table,
        "model_costs": model_costs(table),
    }


def main(argv: list[str] | None = None) -> None:
    args_in = sys.argv[1:] if argv is None else argv
    rc = in_own_netns("benchmarks.pbx_phases", args_in)
    if rc is not None:
        if rc:
            raise SystemExit(rc)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phases", nargs="*", default=[], help="e.g. ivr or talking/engine")
    parser.add_argument("--calls", type=int, default=CALLS)
    parser.add_argument("--window", type=float, default=WINDOW_S)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(args_in)
    result = asyncio.run(measure(args.phases, args.calls, args.window))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result["model_costs"], indent=2))


if __name__ == "__main__":
    main()
