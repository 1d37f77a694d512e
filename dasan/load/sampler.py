"""CPU and memory of the processes under load (Asterisk, the engine, SIPp), sampled.

Invariants:
- CPU is measured from each process's CPU times as a delta between two samples: its own
  (user + system, all its threads) and that of the children it has reaped (e.g. the
  engine's ffmpeg archivers), kept apart as ``children_cpu_s``. Live children are not
  sampled (their CPU would be counted twice once reaped). A process seen for the first time
  only sets its baseline, so CPU spent before the run is never counted.
- ``cpu_pct`` is percent of ONE core (two busy cores = 200); ``host`` adds the machine's
  busy and iowait share (percent of all cores) and disk writes.
- Processes that vanish are dropped quietly (psutil.NoSuchProcess); nothing here raises
  for a process that ended between two samples.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import psutil

from common.stats import mean, rounded

PidSource = Callable[[], list[int]]


@dataclass(frozen=True)
class Sample:
    t: float  # seconds since the sampler started
    cpu_pct: float
    rss_mb: float
    write_mb_s: float = 0.0
    cpu_s: float = 0.0  # CPU-seconds used since the previous sample (own + reaped children)
    children_cpu_s: float = 0.0  # of which by reaped children


@dataclass
class _Group:
    pids: PidSource
    # pid -> (own, reaped children) CPU seconds at the last sample
    last: dict[int, tuple[float, float]] = field(default_factory=dict)
    last_write: dict[int, int] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)


def _cpu_seconds(proc: psutil.Process) -> tuple[float, float]:
    times = proc.cpu_times()
    return float(times.user + times.system), float(times.children_user + times.children_system)


def _write_bytes(proc: psutil.Process) -> int:
    try:
        return int(proc.io_counters().write_bytes)
    except (psutil.AccessDenied, AttributeError):
        return 0


class ResourceSampler:
    """Call ``sample()`` periodically; read ``series``/``summary`` at the end."""

    def __init__(
        self,
        groups: Mapping[str, PidSource],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._groups = {name: _Group(pids) for name, pids in groups.items()}
        self._clock = clock
        self._t0 = clock()
        self._wall0 = time.time()
        self._last_t = self._t0
        self._host_last = psutil.cpu_times()
        self._disk_last = self._disk_written()
        self.host: list[Sample] = []
        self.host_iowait: list[float] = []

    @staticmethod
    def _disk_written() -> int:
        counters = psutil.disk_io_counters()
        return int(counters.write_bytes) if counters is not None else 0

    def sample(self) -> None:
        now = self._clock()
        dt = max(now - self._last_t, 1e-6)
        self._last_t = now
        t = now - self._t0
        for group in self._groups.values():
            self._sample_group(group, t, dt)
        self._sample_host(t, dt)

    def _sample_group(self, group: _Group, t: float, dt: float) -> None:
        own = children = rss = written = 0.0
        seen: dict[int, tuple[float, float]] = {}
        writes: dict[int, int] = {}
        for pid in group.pids():
            with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess):
                proc = psutil.Process(pid)
                used = _cpu_seconds(proc)
                rss += proc.memory_info().rss
                seen[pid] = used
                writes[pid] = _write_bytes(proc)
                if pid in group.last:
                    before = group.last[pid]
                    own += max(0.0, used[0] - before[0])
                    children += max(0.0, used[1] - before[1])
                    written += max(0, writes[pid] - group.last_write.get(pid, writes[pid]))
        group.last, group.last_write = seen, writes
        cpu = own + children
        group.samples.append(
            Sample(t, 100 * cpu / dt, rss / 2**20, written / 2**20 / dt, cpu, children)
        )

    def _sample_host(self, t: float, dt: float) -> None:
        now = psutil.cpu_times()
        last, self._host_last = self._host_last, now
        total = sum(now) - sum(last)
        idle = (now.idle - last.idle) + (getattr(now, "iowait", 0) - getattr(last, "iowait", 0))
        iowait = getattr(now, "iowait", 0) - getattr(last, "iowait", 0)
        busy = 100 * (1 - idle / total) if total > 0 else 0.0
        disk = self._disk_written()
        written, self._disk_last = disk - self._disk_last, disk
        mem = psutil.virtual_memory()
        self.host.append(Sample(t, busy, (mem.total - mem.available) / 2**20, written / 2**20 / dt))
        self.host_iowait.append(100 * iowait / total if total > 0 else 0.0)

    @property
    def origin(self) -> float:
        """The clock reading of t=0 (samples' ``t`` count from here)."""
        return self._t0

    def from_wall(self, epoch_s: float) -> float:
        """A wall-clock time (e.g. an AMI event's Timestamp) on this sampler's time axis."""
        return epoch_s - self._wall0

    def series(self, name: str) -> list[Sample]:
        return list(self._groups[name].samples)

    def names(self) -> list[str]:
        return list(self._groups)

    def summary(
        self, name: str, since: float = 0.0, until: float | None = None
    ) -> dict[str, object]:
        """CPU (percent of one core: mean, max; CPU-seconds) and RSS of a group in a window."""
        group = self._groups[name]
        window = [s for s in group.samples if s.t >= since and (until is None or s.t <= until)]
        cpu = [s.cpu_pct for s in window[1:]]  # the first sample only set baselines
        rss = [s.rss_mb for s in window if s.rss_mb > 0]
        return {
            "cpu_pct_mean": rounded(mean(cpu), 1),
            "cpu_pct_max": rounded(max(cpu), 1) if cpu else None,
            "cpu_s": round(sum(s.cpu_s for s in window), 2),
            "children_cpu_s": round(sum(s.children_cpu_s for s in window), 2),
            "rss_mb_start": rounded(rss[0], 1) if rss else None,
            "rss_mb_max": rounded(max(rss), 1) if rss else None,
            "rss_mb_end": rounded(rss[-1], 1) if rss else None,
            "write_mb_s_mean": rounded(mean([s.write_mb_s for s in window[1:]]), 2),
        }

    def host_summary(self, since: float = 0.0, until: float | None = None) -> dict[str, object]:
        pairs = [
            (s, w)
            for s, w in zip(self.host, self.host_iowait, strict=True)
            if s.t >= since and (until is None or s.t <= until)
        ]
        return {
            "cores": psutil.cpu_count(),
            "busy_pct_mean": rounded(mean([s.cpu_pct for s, _ in pairs]), 1),
            "busy_pct_max": rounded(max((s.cpu_pct for s, _ in pairs), default=0.0), 1),
            "iowait_pct_mean": rounded(mean([w for _, w in pairs]), 2),
            "disk_write_mb_s_mean": rounded(mean([s.write_mb_s for s, _ in pairs]), 2),
        }
