"""One load run: SIPp traffic through the real PBX and engine, watched through AMI.

Order: AMI client and call tracker, the consultant UAS, then the citizen UACs stage by stage
(one stage unless the profile ramps), a monitor tick every second (resources, timeline,
progress), drain, channels left, recordings audit, report.

Invariants:
- Bounded: calls are placed for at most ``duration_s`` and ``calls`` calls; every SIPp
  process is waited for with a deadline (placing time + ``drain_s``) and stopped after it;
  every SIPp process started here is stopped here, whatever happens (Ctrl-C included).
- Outcomes (answered, abandoned, waits) come from AMI through ``CallTracker``; SIPp supplies
  failures, retransmissions and setup times.
- A stress ramp stops starting new stages as soon as a finished window breaks its limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from common.stats import percentile
from cti.ami.client import AmiClient
from cti.ami.messages import AmiConnectionLost, AmiEvent
from dasan.config import Settings
from dasan.load.profile import Profile, split_calls
from dasan.load.sampler import ResourceSampler
from dasan.load.stress import StageFigures, judge
from dasan.load.tracker import CallTracker, CitizenCall, Counts, Outcome
from dasan.load.traffic import (
    Stage,
    classify_caller,
    live_counter,
    placed_calls,
    start_consultants,
    start_stage,
)
from dasan.sipp import SippError, SippProcess, SippResult, ensure_media
from recordings.audit import AuditReport
from recordings.reconcile import GapKind


class Processes(Protocol):
    """Where the measured processes are (``Stack`` for the real engine; benchmarks may pass
    their own, e.g. a trivial FastAGI server as the "engine")."""

    def asterisk_pid(self) -> int | None: ...

    def engine_pid(self) -> int | None: ...

    def asterisk_version(self) -> str | None: ...


@dataclass(frozen=True)
class RunOptions:
    workdir: Path
    pbx: tuple[str, int] = ("127.0.0.1", 5060)
    # The citizens' source address and the PJSIP endpoint it is identified as (the
    # benchmarks' extensions are reached from pbx.bench_source as endpoint "bench").
    citizen_ip: str = "127.0.0.1"
    trunk: str = "citizens"
    consultant_port: int = 5090
    tick_s: float = 1.0
    audit: bool = True
    verify_hashes: bool = True


@dataclass(frozen=True)
class Progress:
    elapsed_s: float
    planned: int
    placed: int
    counts: Counts
    failures: int
    retransmissions: int
    stage: int
    rate: float
    phase: str


@dataclass(frozen=True)
class TimelineRow:
    t: float
    placed: int
    counts: Counts
    failures: int
    retransmissions: int
    cpu_pct: dict[str, float]
    rss_mb: dict[str, float]


@dataclass
class RunData:
    """Everything a run collected, for the report."""

    profile: Profile
    started_at: datetime
    elapsed_s: float = 0.0
    planned: int = 0
    stages: list[Stage] = field(default_factory=list)
    consultants: SippResult | None = None
    timeline: list[TimelineRow] = field(default_factory=list)
    tracker: CallTracker | None = None
    sampler: ResourceSampler | None = None
    channels_left: int | None = None
    audit: dict[str, object] | None = None
    ami_lost: int = 0
    timed_out: bool = False
    stopped_ramp: str | None = None
    asterisk_version: str | None = None
    # uniqueid -> {"service", "language", "consultant"} from the engine's call log
    call_log: dict[str, dict[str, str | None]] = field(default_factory=dict)
    call_log_error: str | None = None
    # (seconds on the sampler's axis, INVITE->200 ms) of every call
    setups: list[tuple[float, float]] = field(default_factory=list)


def stage_plan(profile: Profile) -> list[Stage]:
    """One stage for a plain profile; the ramp's rates (bounded by calls/duration) for stress."""
    if profile.stress is None:
        return [Stage(0, profile.effective_rate, profile.plan())]
    stages, total = [], 0
    for index, base in enumerate(profile.stress.rates()):
        rate = base * profile.scale
        if total >= profile.calls or index * profile.stress.stage_s >= profile.duration_s:
            break
        calls = min(math.ceil(rate * profile.stress.stage_s - 1e-9), profile.calls - total)
        total += calls
        stage = Stage(index, rate, split_calls(profile.mix, calls, rate))
        stage.window_s = profile.stress.stage_s
        stages.append(stage)
    return stages


class LoadRun:
    def __init__(
        self,
        settings: Settings,
        profile: Profile,
        stack: Processes,
        options: RunOptions,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self._settings = settings
        self._profile = profile
        self._stack = stack
        self._options = options
        self._on_progress = on_progress or (lambda _p: None)
        self._data = RunData(profile=profile, started_at=datetime.now(UTC))
        self._uacs: list[SippProcess] = []
        self._uas: SippProcess | None = None
        self._phase = "starting"
        self._current: Stage | None = None

    async def run(self) -> RunData:
        data = self._data
        data.asterisk_version = await asyncio.to_thread(self._stack.asterisk_version)
        started = time.monotonic()
        ami = AmiClient(self._settings.ami)
        await ami.start()
        tracker = CallTracker(
            {self._profile.service},
            lambda caller: classify_caller(self._profile, caller),
            trunk=self._options.trunk,
        )
        data.tracker = tracker
        pump = asyncio.create_task(self._pump(ami, tracker), name="load-ami-pump")
        try:
            await self._traffic(tracker)
            data.channels_left = await self._channels_left(ami)
        finally:
            await self._stop_sipp()
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            await ami.stop()
        data.elapsed_s = time.monotonic() - started
        await self._read_call_log(tracker)
        if self._options.audit:
            self._phase = "audit"
            data.audit = await self._audit()
            if data.sampler is not None:
                # The audit waits for the engine to archive the last recordings: one more
                # sample counts that post-call work (ffmpeg) in the engine's CPU per call.
                await asyncio.to_thread(data.sampler.sample)
        return data

    async def _pump(self, ami: AmiClient, tracker: CallTracker) -> None:
        async for item in ami.subscribe(maxsize=200_000, name="load-tracker"):
            if isinstance(item, AmiEvent):
                tracker.feed(item)
            elif isinstance(item, AmiConnectionLost):
                self._data.ami_lost += 1

    async def _traffic(self, tracker: CallTracker) -> None:
        opts, profile = self._options, self._profile
        citizen_audio, consultant_audio = await asyncio.to_thread(
            ensure_media, opts.workdir.parent / "media"
        )
        self._uas = await start_consultants(
            profile, opts.workdir, consultant_audio, opts.consultant_port
        )
        sampler = ResourceSampler(
            {
                "asterisk": lambda: _pids(self._stack.asterisk_pid()),
                "engine": lambda: _pids(self._stack.engine_pid()),
                "sipp": self._sipp_pids,
            }
        )
        self._data.sampler = sampler
        monitor = asyncio.create_task(self._monitor(sampler, tracker), name="load-monitor")
        try:
            await self._place(citizen_audio)
            await self._drain(tracker)
        finally:
            monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await monitor
            sampler.sample()

    def _sipp_pids(self) -> list[int]:
        procs = [*self._uacs, *([self._uas] if self._uas else [])]
        return [p.pid for p in procs if p.pid is not None and p.running]

    async def _place(self, audio: Path) -> None:
        profile, data = self._profile, self._data
        stages = stage_plan(profile)
        data.planned = sum(s.calls for s in stages)
        t0 = time.monotonic()
        for stage in stages:
            wait = t0 + sum(s.window_s for s in data.stages) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if data.stages and profile.stress is not None:
                reasons = judge(self.live_figures(data.stages[-1]), profile.stress)
                if reasons:
                    data.stopped_ramp = "; ".join(reasons)
                    break
            self._phase = "placing"
            self._current = stage
            await start_stage(
                profile,
                stage,
                self._options.workdir,
                audio,
                self._options.pbx,
                local_ip=self._options.citizen_ip,
            )
            if not stage.window_s:
                stage.window_s = stage.calls / stage.rate
            data.stages.append(stage)
            self._uacs.extend(stage.uacs)

    def live_figures(self, stage: Stage) -> StageFigures:
        """What is known of a stage so far (its SIPp files and the calls AMI saw)."""
        results = [u.snapshot() for u in stage.uacs]
        setups = [ms for r in results for ms in r.setup_ms]
        calls = self._stage_calls(stage.index)
        return StageFigures(
            index=stage.index,
            rate=stage.rate,
            placed=live_counter(stage.uacs, "OutgoingCall(C)"),
            failures=sum(r.failed for r in results),
            retransmissions=sum(r.retransmissions for r in results),
            setup_ms_p50=percentile(setups, 50),
            setup_ms_p99=percentile(setups, 99),
            offered=len(calls),
            answered=sum(1 for c in calls if c.answered is not None),
            unserved=sum(1 for c in calls if c.outcome is Outcome.UNSERVED),
        )

    def _stage_calls(self, index: int) -> list[CitizenCall]:
        tracker = self._data.tracker
        if tracker is None:
            return []
        return [c for c in tracker.calls() if c.stage == index]

    async def _drain(self, tracker: CallTracker) -> None:
        self._phase = "draining"
        profile, data = self._profile, self._data
        placing = sum(s.window_s for s in data.stages)
        deadline = (data.stages[0].started if data.stages else time.monotonic()) + placing
        deadline += max(profile.drain_s, profile.longest_call_s())
        for stage in data.stages:
            for uac in stage.uacs:
                budget = max(1.0, deadline - time.monotonic())
                try:
                    stage.results.append(await uac.wait(budget))
                except SippError:
                    data.timed_out = True
                    stage.results.append(await uac.stop())
            stage.placed = live_counter(stage.uacs, "OutgoingCall(C)")
            origin = data.sampler.origin if data.sampler is not None else 0.0
            for uac in stage.uacs:
                offset = uac.started_at - origin
                data.setups += [(offset + t, ms) for t, ms in uac.setup_times()]
        await _until(lambda: tracker.counts().active == 0, 15.0)

    async def _monitor(self, sampler: ResourceSampler, tracker: CallTracker) -> None:
        t0 = time.monotonic()
        while True:
            await asyncio.sleep(self._options.tick_s)
            await asyncio.to_thread(sampler.sample)
            row = self._timeline_row(sampler, tracker)
            self._data.timeline.append(row)
            stage = self._current
            self._on_progress(
                Progress(
                    elapsed_s=time.monotonic() - t0,
                    planned=self._data.planned,
                    placed=row.placed,
                    counts=row.counts,
                    failures=row.failures,
                    retransmissions=row.retransmissions,
                    stage=stage.index if stage else 0,
                    rate=stage.rate if stage else 0.0,
                    phase=self._phase,
                )
            )

    def _timeline_row(self, sampler: ResourceSampler, tracker: CallTracker) -> TimelineRow:
        last = {name: sampler.series(name)[-1] for name in sampler.names()}
        return TimelineRow(
            t=last["asterisk"].t,
            placed=placed_calls(self._uacs),
            counts=tracker.counts(),
            failures=live_counter(self._uacs, "FailedCall(C)"),
            retransmissions=live_counter(self._uacs, "Retransmissions(C)"),
            cpu_pct={name: round(s.cpu_pct, 1) for name, s in last.items()},
            rss_mb={name: round(s.rss_mb, 1) for name, s in last.items()},
        )

    async def _stop_sipp(self) -> None:
        for proc in self._uacs:
            if proc.running:
                with contextlib.suppress(SippError):
                    await proc.stop()
        if self._uas is not None:
            with contextlib.suppress(SippError):
                self._data.consultants = await self._uas.stop()

    async def _channels_left(self, ami: AmiClient) -> int:
        async def count() -> int:
            items = await ami.action_list("CoreShowChannels", timeout=10.0)
            return sum(1 for e in items if e.name == "CoreShowChannel")

        left = await count()
        deadline = time.monotonic() + 15.0
        while left and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            left = await count()
        return left

    async def _read_call_log(self, tracker: CallTracker) -> None:
        """Where the engine routed each call (its call log), to check the menu choices."""
        from sqlalchemy.exc import SQLAlchemyError

        from dasan.calls_cli import last_calls

        wanted = {c.uniqueid for c in tracker.calls()}
        try:
            rows = await asyncio.wait_for(last_calls(self._settings, len(wanted) + 100), 60.0)
        except (OSError, SQLAlchemyError, TimeoutError) as exc:
            self._data.call_log_error = f"{type(exc).__name__}: {exc}"
            return
        self._data.call_log = {
            str(r["uniqueid"]): {k: r.get(k) for k in ("service", "language", "consultant")}
            for r in rows
            if r.get("uniqueid") in wanted
        }

    async def _audit(self) -> dict[str, object]:
        from recordings.audit import audit_async

        since = self._data.started_at - timedelta(seconds=5)

        async def audit() -> AuditReport:
            return await audit_async(
                self._settings, verify_hashes=self._options.verify_hashes, since=since
            )

        def progress(backlog: int) -> None:
            self._phase = f"audit: {backlog} recordings still being archived"

        report = await audit_after_archiving(audit, self._profile.audit_wait_s, progress)
        return report.as_json()


# Gaps that the engine's archiving of the last recordings closes by itself.
_ARCHIVING = frozenset(
    {GapKind.UNCATALOGED_FILE, GapKind.CALL_WITHOUT_RECORDING, GapKind.PLAINTEXT_LEFT}
)
AUDIT_POLL_S = 5.0


def archiving_backlog(report: AuditReport) -> int:
    """Calls still running and recordings the engine has not archived yet."""
    return len(report.in_progress) + sum(1 for g in report.gaps if g.kind in _ARCHIVING)


async def audit_after_archiving(
    audit: Callable[[], Awaitable[AuditReport]],
    stall_s: float,
    progress: Callable[[int], None] = lambda _n: None,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AuditReport:
    """The audit once the engine has archived what the run recorded: asked again while
    recordings are still being archived, for as long as that backlog keeps shrinking (a
    busy host archives a peak's recordings minutes after its last call); given up when it
    has not shrunk for ``stall_s``. Other gaps never close by waiting and end it at once."""
    report = await audit()
    backlog = archiving_backlog(report)
    deadline = clock() + stall_s
    while backlog and clock() < deadline:
        progress(backlog)
        await pause(AUDIT_POLL_S)
        report = await audit()
        now = archiving_backlog(report)
        if now < backlog:
            deadline = clock() + stall_s
        backlog = now
    return report


def _pids(pid: int | None) -> list[int]:
    return [pid] if pid is not None else []


async def _until(predicate: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True
