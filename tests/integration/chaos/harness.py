"""The chaos harness: a SIPp load through the real PBX and engine, one fault injected mid-load.

A case runs ``dasan load``'s ``LoadRun`` (SIPp citizens and consultants, AMI call tracking,
drain, channels left, recordings audit) while its fault coroutine waits for its moment
(e.g. calls in the IVR), injects the fault and recovers from it. The verdict is built from
what the PBX saw (AMI), the engine process and the recordings audit:

- calls keep being answered: calls are answered after the fault, and no call is lost
  (every offered call answered; the profile has no impatient callers) beyond what the case
  allows (e.g. the calls an Asterisk restart cuts);
- every call recorded and cataloged: ``dasan recordings audit`` of the run is clean;
- no consultant double-booked: no two answered calls of one consultant overlap (AMI);
- resync: after recovery the engine rings a consultant again within ``resync_bound_s``;
- no channel leaked; the engine did not exit on its own; no IVR handler crashed.

Invariants: each case is bounded in calls and time (the profile's bounds, the runner's
deadlines, every wait polls with a deadline); the engine processes a case starts are
stopped by the case; every check's evidence is written to ``<results>/<case>.json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cti.ami.client import AmiClient
from cti.ami.messages import AmiEvent
from dasan.load.distributions import Distribution, Shape
from dasan.load.profile import CallType, Key, Profile
from dasan.load.report import LoadReport, build_report
from dasan.load.runner import LoadRun, Progress, RunData, RunOptions
from dasan.load.tracker import Counts
from dasan.pbx.container import PbxContainer
from tests.integration.support import REPO, EngineProcess, ItEnv, port_open, wait_for

RESULTS_DIR = Path(os.environ.get("CHAOS_RESULTS_DIR", str(REPO / "var" / "chaos")))
KEEP = frozenset(
    {"Newchannel", "QueueCallerJoin", "DialBegin", "DialEnd", "Hangup", "MusicOnHoldStart"}
)
# Few consultants logged in to the engine, so callers also wait (the fallback queues still
# hold every consultant of the roster).
CONSULTANTS = tuple(f"c{n:04d}" for n in range(1, 21))
KOREAN_KEYS = (Key(digit="1", after_s=1.5), Key(digit="1", after_s=7.5))


def chaos_profile(placing_s: float = 70.0, rate: float = 0.5) -> Profile:
    """0.5 calls/s, ~10 s of IVR, 6-12 s of talk on 20 consultants (20 s of wrap-up each, so
    about 75 % busy): at any moment a few calls in the IVR, some waiting, several talking. Nobody hangs up early, so a call
    not answered is a call lost."""
    return Profile(
        name="chaos",
        rate=rate,
        calls=int(rate * placing_s) + 1,
        duration_s=placing_s,
        drain_s=150,
        ring_s=0.3,
        talk_s=Distribution(dist=Shape.UNIFORM, min=6, max=12),
        citizen_timeout_s=150,
        bins=4,
        audit_wait_s=120,
        mix=(
            CallType(
                name="ko-general", share=0.7, language="ko", service="general", keys=KOREAN_KEYS
            ),
            CallType(name="en", share=0.3, language="en", keys=(Key(digit="2", after_s=1.5),)),
        ),
    )


@dataclass
class Marks:
    """Wall-clock moments of a case (epoch seconds, comparable with AMI timestamps)."""

    fault: float | None = None
    recovered: float | None = None
    counts_at_fault: Counts | None = None
    notes: dict[str, Any] = field(default_factory=dict)


class ChaosContext:
    """What a fault coroutine may use: the live counts, the engine, the PBX, marks."""

    def __init__(self, env: ItEnv, pbx: PbxContainer, workdir: Path, engine_env: dict[str, str]):
        self.env = env
        self.settings = env.settings
        self.pbx = pbx
        self.workdir = workdir
        self.engine_env = dict(engine_env)
        self.engines: list[EngineProcess] = []
        self.stopped_on_purpose: set[int] = set()
        self.marks = Marks()
        self.progress: Progress | None = None
        # Whatever a case's ``around`` set up for its fault (e.g. the proxy it controls).
        self.extra: dict[str, Any] = {}

    @property
    def engine(self) -> EngineProcess:
        return self.engines[-1]

    def counts(self) -> Counts:
        return self.progress.counts if self.progress else Counts()

    async def start_engine(self) -> float:
        """Start a (new) engine; returns the seconds it took to listen on FastAGI."""
        proc = EngineProcess(self.env, self.engine_env)
        proc.log_path = self.workdir / f"engine-{len(self.engines)}.log"
        self.engines.append(proc)
        # A killed engine leaves its status file: never take it for the new one's.
        status = self.settings.state_dir / "engine-status.json"
        await asyncio.to_thread(status.unlink, True)
        started = time.monotonic()
        await asyncio.to_thread(proc.start, 90.0)
        # Behind a proxy the PBX's FastAGI port is open before the engine listens.
        port = int(self.engine_env.get("DASAN_AGI__PORT", self.settings.agi.port))
        await asyncio.to_thread(
            wait_for, lambda: port_open("127.0.0.1", port), 60, "the engine's FastAGI port"
        )
        return round(time.monotonic() - started, 2)

    async def stop_engine(self) -> None:
        """A deliberate stop (SIGTERM): the engine's exit is expected, not a crash."""
        if self.engine.proc is not None:
            self.stopped_on_purpose.add(self.engine.proc.pid)
        await asyncio.to_thread(self.engine.stop)

    async def kill_engine(self) -> None:
        if self.engine.proc is not None:
            self.stopped_on_purpose.add(self.engine.proc.pid)
        await asyncio.to_thread(self.engine.kill)

    async def until(self, check: Callable[[Counts], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not check(self.counts()):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
            await asyncio.sleep(0.2)

    def fault(self, **notes: Any) -> None:
        self.marks.fault = time.time()
        self.marks.counts_at_fault = self.counts()
        self.marks.notes.update(notes)

    def recovered(self, **notes: Any) -> None:
        self.marks.recovered = time.time()
        self.marks.notes.update(notes)


Fault = Callable[[ChaosContext], Coroutine[Any, Any, None]]
# What a case needs around the engine for its whole run (e.g. a proxy it talks through).
Around = Callable[[ChaosContext], contextlib.AbstractAsyncContextManager[None]]


@contextlib.asynccontextmanager
async def nothing_around(_ctx: ChaosContext) -> AsyncIterator[None]:
    yield


@dataclass(frozen=True)
class Case:
    name: str
    fault_text: str  # the README's "fault" column
    citizen_text: str  # what the citizen experiences, as designed
    inject: Fault
    resync_bound_s: float = 30.0
    profile: Profile = field(default_factory=chaos_profile)
    engine_env: dict[str, str] = field(default_factory=dict)
    # Calls the case may lose by design, from the counts at the fault (e.g. cut by a restart).
    allowed_lost: Callable[[Counts], int] = lambda _counts: 0
    # Calls the load's own AMI view may miss (placed while the PBX restarts, before it logs
    # back in); SIPp still counts them, so they must then show no SIPp failure.
    unseen_allowed: int = 0
    # Faults that do not stop routing need no resync measurement.
    measures_resync: bool = True
    around: Around = nothing_around
    # Calls not answered on the line but served another way (e.g. called back), by id.
    served_otherwise: Callable[[ChaosContext], set[str]] = lambda _ctx: set()
    # The case's own checks after the run (problems found, [] if none).
    extra_checks: Callable[[ChaosContext], list[str]] = lambda _ctx: []


class _Processes:
    def __init__(self, ctx: ChaosContext) -> None:
        self._ctx = ctx

    def asterisk_pid(self) -> int | None:
        return self._ctx.pbx.pid()

    def engine_pid(self) -> int | None:
        proc = self._ctx.engine.proc if self._ctx.engines else None
        return proc.pid if proc is not None and proc.poll() is None else None

    def asterisk_version(self) -> str | None:
        return None


def base_engine_env() -> dict[str, str]:
    return {
        "DASAN_ACD__LOGGED_IN": json.dumps(list(CONSULTANTS)),
        "DASAN_IVR__SPEECH_ENABLED": "false",
        # A recording a dead engine left behind is finished soon after its call ends.
        "DASAN_RECORDINGS__SETTLE_S": "5",
        "DASAN_RECORDINGS__RESCAN_INTERVAL_S": "5",
    }


async def run_case(case: Case, env: ItEnv, pbx: PbxContainer) -> dict[str, Any]:
    """Run one case end to end; returns its result (also written to RESULTS_DIR, with the
    run's SIPp files, load report and engine logs in RESULTS_DIR/runs/<case>)."""
    workdir = RESULTS_DIR / "runs" / case.name
    await asyncio.to_thread(shutil.rmtree, workdir, True)
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    ctx = ChaosContext(env, pbx, workdir, base_engine_env() | case.engine_env)
    async with case.around(ctx):
        data, events, alive, fault_error = await _run_loaded(case, ctx)
    from tests.integration.chaos.verdict import verdict  # it needs Case and ChaosContext

    report = build_report(data)
    result = verdict(case, ctx, data, events, alive=alive, fault_error=fault_error)
    await asyncio.to_thread(write_result, result, report, workdir)
    return result


Loaded = tuple[RunData, list[AmiEvent], list[bool], BaseException | None]


async def _run_loaded(case: Case, ctx: ChaosContext) -> Loaded:
    """The engine, the load and the fault together; every engine started here is stopped."""
    settings = ctx.settings
    await ctx.start_engine()
    ami = AmiClient(settings.ami)
    await ami.start()
    events: list[AmiEvent] = []
    pump = asyncio.create_task(_record(ami, events))
    try:
        run = LoadRun(
            settings,
            case.profile,
            _Processes(ctx),
            RunOptions(workdir=ctx.workdir / "load", verify_hashes=False),
            on_progress=lambda p: setattr(ctx, "progress", p),
        )
        load = asyncio.create_task(run.run())
        fault = asyncio.create_task(case.inject(ctx))
        data = await load
        fault_error = await _fault_outcome(fault)
        # The next case must not find this one's recordings still to archive in its window.
        ctx.marks.notes["unarchived_at_end"] = await _archived(settings.recordings_dir, 120)
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
        await ami.stop()
        alive = [e.proc.poll() is None for e in ctx.engines if e.proc is not None]
        for proc in ctx.engines:
            await asyncio.to_thread(proc.stop)
    return data, events, alive, fault_error


def write_result(result: dict[str, Any], report: LoadReport, workdir: Path) -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{result['case']}.json"
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    full = report.summary | {"timeline": report.timeline, "calls": list(report.calls)}
    (workdir / "report.json").write_text(json.dumps(full, indent=1) + "\n", encoding="utf-8")


def _unarchived(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.wav*") if not p.name.endswith(".enc")]


async def _archived(folder: Path, timeout_s: float) -> int:
    """Wait until the engine archived every recording in the spool; returns how many were
    still waiting at the deadline (0: all archived)."""
    deadline = time.monotonic() + timeout_s
    left = await asyncio.to_thread(_unarchived, folder)
    while left and time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        left = await asyncio.to_thread(_unarchived, folder)
    return len(left)


async def _fault_outcome(fault: asyncio.Task[None]) -> BaseException | None:
    if not fault.done():
        fault.cancel()
    try:
        await fault
    except asyncio.CancelledError:
        return AssertionError("the fault never fired: the load ended first")
    except (AssertionError, OSError, RuntimeError, subprocess.SubprocessError) as exc:
        return exc
    return None


async def _record(ami: AmiClient, into: list[AmiEvent]) -> None:
    async for item in ami.subscribe(maxsize=200_000, name="chaos-recorder"):
        if isinstance(item, AmiEvent) and item.name in KEEP:
            into.append(item)


def mark_expected_failure(case: str, reason: str) -> None:
    """Record in a case's evidence that it fails for a known, stated reason (the table says
    so instead of only "fails")."""
    path = RESULTS_DIR / f"{case}.json"
    result = json.loads(path.read_text(encoding="utf-8"))
    result["expected_failure"] = reason
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


def record_skipped(case: Case, reason: str) -> None:
    """Evidence of a case that could not run here, so the table names it and why."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    result = {"case": case.name, "fault": case.fault_text, "citizen": case.citizen_text}
    path = RESULTS_DIR / f"{case.name}.json"
    path.write_text(json.dumps(result | {"skipped": reason}, indent=1) + "\n", encoding="utf-8")
