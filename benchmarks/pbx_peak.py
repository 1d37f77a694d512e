"""One seed-peak run through a fresh PBX and engine, summarized (a helper: no ``main``).

Used by ``pbx_seed_peak`` (the seed peak hour on SQLite and PostgreSQL) and ``pbx_soak``
(the same rates for half an hour, memory growth). The run is ``dasan load``'s ``LoadRun``
against a ``Stack`` that starts Asterisk and ``dasan serve`` for it, in a temporary
installation (``pbx_env.bench_env``), inside the caller's private network namespace.

Invariants:
- The figures the issue asks for are always present (``null`` when not measurable):
  engine exits and exit status, IVR handler crashes, offered / answered / abandoned by the
  caller / unserved / unfinished, audit, service level, setup times, CPU and RSS per
  component.
- The engine ending before the run is over counts as an exit, whatever its status.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks.pbx_env import BenchEnv, Processes
from common.stats import rounded
from dasan.config import load_settings
from dasan.load.profile import Profile
from dasan.load.report import build_report
from dasan.load.runner import LoadRun, RunData, RunOptions
from dasan.load.sampler import ResourceSampler
from dasan.load.stack import Stack

# Seed-peak callers press keys; Korean speech is measured by speech_accuracy, and running
# the recognizer for keys-only callers would only take CPU from the calls.
CALL_PATH = "speech_enabled = false\n"


def handler_crashes(log: Path) -> int | None:
    try:
        return log.read_text(encoding="utf-8", errors="replace").count("handler crashed")
    except FileNotFoundError:
        return None


async def peak_run(env: BenchEnv, profile: Profile) -> tuple[dict[str, Any], RunData]:
    """Run ``profile`` on a fresh stack; returns the summary and the raw run data."""
    config = env.root / "dasan-peak.toml"
    config.write_text(env.config_path.read_text() + CALL_PATH, encoding="utf-8")
    settings = load_settings(config)
    workdir = env.root / "run"
    stack = Stack(settings, start=True, config_path=config, log_dir=workdir)
    started = time.monotonic()
    async with stack:
        options = RunOptions(workdir=workdir, verify_hashes=False)
        data = await LoadRun(settings, profile, Processes(stack), options).run()
        ended_early = stack.engine_ended()
    summary = summarize(data)
    summary |= {
        "storage": "postgresql" if env.database else "sqlite",
        "engine_exits": 0 if ended_early is None else 1,
        "engine_exit_status_during_run": ended_early,
        "engine_exit_status_at_stop": stack.engine_exit,
        "handler_crashes": handler_crashes(workdir / "engine.log"),
        "wall_s": round(time.monotonic() - started, 1),
    }
    return summary, data


def summarize(data: RunData) -> dict[str, Any]:
    report = build_report(data).summary
    res = report["resources"]
    keys = (
        "profile",
        "planned_calls",
        "offered",
        "answered",
        "abandoned",
        "abandoned_in_queue",
        "abandoned_in_ivr",
        "unserved",
        "unfinished",
        "service_level",
        "service_level_s",
        "speed_of_answer_s",
        "sipp_failures",
        "sipp_retransmissions",
        "setup_ms_p50",
        "setup_ms_p90",
        "setup_ms_p99",
        "setup_ms_max",
        "max_active",
        "max_talking",
        "max_waiting",
        "audit_ok",
        "channels_left",
        "timed_out",
        "elapsed_s",
        "by_type",
    )
    out = {k: report.get(k) for k in keys}
    out["audit_gaps"] = (report.get("audit") or {}).get("gap_count")
    out["audit_gap_samples"] = (report.get("audit") or {}).get("gaps", [])[:5]
    out["cpu"] = {
        name: {k: (res.get(name) or {}).get(k) for k in ("cpu_pct_mean", "cpu_pct_max", "cpu_s")}
        for name in ("asterisk", "engine", "sipp")
    }
    out["rss_mb_max"] = {
        name: (res.get(name) or {}).get("rss_mb_max") for name in ("asterisk", "engine")
    }
    out["host"] = res.get("host")
    out["engine_to_asterisk_cpu"] = res.get("engine_to_asterisk_cpu")
    return out


def rss_growth_mb_per_hour(
    sampler: ResourceSampler | None, name: str, since: float, until: float
) -> float | None:
    """Least-squares slope of a component's RSS (MB per hour) between two sampler times."""
    if sampler is None:
        return None
    points = [(s.t, s.rss_mb) for s in sampler.series(name) if since <= s.t <= until and s.rss_mb]
    if len(points) < 10:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_r = sum(r for _, r in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    slope = sum((t - mean_t) * (r - mean_r) for t, r in points) / var
    return rounded(slope * 3600, 1)
