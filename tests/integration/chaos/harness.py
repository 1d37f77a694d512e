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
from dasan.load.tracker import Counts, Outcome
from dasan.pbx.container import PbxContainer
from tests.integration.chaos.evidence import (
    ami_login_after,
    double_bookings,
    engine_log_findings,
    first_engine_dial_after,
)
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


def verdict(
    case: Case,
    ctx: ChaosContext,
    data: RunData,
    events: list[AmiEvent],
    *,
    alive: list[bool],
    fault_error: BaseException | None,
) -> dict[str, Any]:
    marks = ctx.marks
    logs = engine_log_findings([e.log_path for e in ctx.engines])
    exited = [
        e.proc.returncode
        for e, up in zip(ctx.engines, alive, strict=True)
        if e.proc is not None and not up and e.proc.pid not in ctx.stopped_on_purpose
    ]
    result: dict[str, Any] = {
        "case": case.name,
        "fault": case.fault_text,
        "citizen": case.citizen_text,
        "fault_fired": marks.fault is not None,
        "fault_error": repr(fault_error) if fault_error else None,
        "counts_at_fault": vars(marks.counts_at_fault) if marks.counts_at_fault else None,
        "notes": marks.notes,
        **_load_figures(case, ctx, data, events),
        "ami_login_s": ami_login_after([e.log_path for e in ctx.engines], marks.recovered),
        "engine_exits": exited,
        "handler_crashes": logs["handler_crashes"],
        "engine_errors": logs["errors"],
    }
    result["problems"] = problems(result, case) + case.extra_checks(ctx)
    return result


def _load_figures(
    case: Case, ctx: ChaosContext, data: RunData, events: list[AmiEvent]
) -> dict[str, Any]:
    summary = build_report(data).summary
    marks = ctx.marks
    otherwise = case.served_otherwise(ctx)
    calls = [
        c for c in (data.tracker.calls() if data.tracker else []) if c.uniqueid not in otherwise
    ]
    lost = [
        {"id": c.uniqueid, "type": c.call_type, "outcome": c.outcome.value, "started": c.started}
        for c in calls
        if c.outcome is not Outcome.ANSWERED
    ]
    answered_after = sum(
        1 for c in calls if c.answered and marks.fault and c.answered > marks.fault
    )
    resync = first_engine_dial_after(events, marks.recovered) if case.measures_resync else None
    return {
        "offered": summary["offered"],
        "served_otherwise": len(otherwise),
        "planned": summary["planned_calls"],
        "answered": summary["answered"],
        "lost": len(lost),
        "lost_allowed": case.allowed_lost(marks.counts_at_fault or Counts()),
        "lost_calls": lost[:20],
        "answered_after_fault": answered_after,
        "sipp_failures": summary["sipp_failures"],
        "audit_ok": summary["audit_ok"],
        "recordings_missing": summary["audit"].get("gap_count"),
        "audit_gaps": summary["audit"].get("gaps", [])[:5],
        "double_booked": double_bookings(calls),
        "resync_s": resync,
        "resync_bound_s": case.resync_bound_s if case.measures_resync else None,
        "channels_left": summary["channels_left"],
        "setup_ms_p99": summary["setup_ms_p99"],
        "sipp_retransmissions": summary["sipp_retransmissions"],
    }


def problems(r: dict[str, Any], case: Case) -> list[str]:
    out = []
    if not r["fault_fired"] or r["fault_error"]:
        out.append(f"fault not injected as planned: {r['fault_error']}")
    unseen = r["planned"] - r["offered"]
    if unseen < 0 or unseen > case.unseen_allowed or (unseen and r["sipp_failures"]):
        out.append(f"{r['offered']} calls offered of {r['planned']} placed")
    if r["lost"] > r["lost_allowed"]:  # calls served otherwise (called back) are not lost
        out.append(f"{r['lost']} calls not answered (allowed {r['lost_allowed']})")
    if not r["answered_after_fault"]:
        out.append("no call answered after the fault")
    if r["audit_ok"] is not True:
        out.append(f"recordings audit not clean: {r['recordings_missing']} gaps {r['audit_gaps']}")
    if r["double_booked"]:
        out.append(f"consultants double-booked: {r['double_booked'][:5]}")
    if case.measures_resync and (r["resync_s"] is None or r["resync_s"] > case.resync_bound_s):
        out.append(f"engine did not ring a consultant within {case.resync_bound_s} s of recovery")
    if r["channels_left"]:
        out.append(f"{r['channels_left']} channels left")
    if r["engine_exits"]:
        out.append(f"engine exited on its own: {r['engine_exits']}")
    if r["handler_crashes"]:
        out.append(f"{r['handler_crashes']} IVR handler crashes")
    return out
