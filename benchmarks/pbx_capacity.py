"""PBX capacity (issue 7): calls/s and concurrent calls, engine against the bare PBX.

Measured side by side in one run, each series on a freshly started Asterisk (and engine),
SIPp on the same host, everything in a private network namespace (``benchmarks.pbx_env``):

1. Call-rate ceilings, rate ramped until SIPp failures, retransmissions or setup times
   explode: ``dialplan`` (9001 Answer/Playback/Hangup) vs ``fastagi`` (9003, the same through
   a trivial FastAGI IVR served by Dasan's FastAGI server) vs ``full`` (120: IVR + ACD +
   recording through the engine, consultants answering) vs ``raw`` (9002: MixMonitor + Dial
   from the dialplan, no engine). Target: FastAGI >= 90 % of the dialplan's ceiling.
2. Concurrency: recorded citizen-consultant calls held at once, 3 new calls a second and
   long calls until the overload signal: ``full`` (120) vs ``raw`` (9002). Target >= 90 %;
   the stage where it broke says what limited it (Asterisk CPU, SIPp, disk) and by how much.
3. Engine cost: the engine's CPU per call as a fraction of Asterisk's for the same calls
   (target < 10 %), from the series above.

Output: benchmarks/results/pbx_capacity.json with the machine it ran on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
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
    trivial_agi_server,
)
from dasan.config import load_settings
from dasan.load.distributions import Distribution, Shape
from dasan.load.machine import describe_machine
from dasan.load.profile import CallType, Key, Profile, StressPlan
from dasan.load.report import build_report
from dasan.load.runner import LoadRun, RunData, RunOptions
from dasan.load.stack import Stack

RESULTS = REPO / "benchmarks" / "results" / "pbx_capacity.json"


def _profile(
    name: str, service: str, plan: StressPlan, talk_s: float, keys: tuple[Key, ...]
) -> Profile:
    return Profile(
        name=name,
        service=service,
        rate=plan.start_rate,
        calls=100_000,
        duration_s=plan.stage_s * plan.max_stages,
        drain_s=talk_s + 30,
        ring_s=0.1,
        talk_s=Distribution(dist=Shape.FIXED, value=talk_s),
        # Unanswered or stuck calls give up soon: an overloaded stage must not hold the run.
        citizen_timeout_s=talk_s + 60,
        bins=1,
        # Long enough for the engine to archive what the series recorded (counted as its CPU).
        audit_wait_s=90,
        mix=(CallType(name="bench", share=1.0, keys=keys),),
        stress=plan,
    )


# Korean, general: both keys typed ahead during the welcome (which carries the recording
# notice and is heard out; its keys are kept), handed over as soon as it ends.
FAST_KEYS = (Key(digit="1", after_s=1.0), Key(digit="1", after_s=0.5))


def _ramp(start: float, step: float, stage_s: float, stages: int, unserved: float) -> StressPlan:
    return StressPlan(
        start_rate=start,
        step_rate=step,
        max_rate=1000.0,
        stage_s=stage_s,
        max_stages=stages,
        max_setup_p99_ms=500.0,
        max_unserved_share=unserved,
    )


# The engine's own call path: IVR by keys, ACD, recording guard, call log, AMI. Korean speech
# recognition and the transcription of finished recordings are measured by other benchmarks.
# Appended to the bench configuration, whose last table is [ivr] (benchmarks.pbx_env).
CALL_PATH_ONLY = "speech_enabled = false\n[recordings]\ntranscription_enabled = false\n"


@dataclass(frozen=True)
class Series:
    profile: Profile
    engine: str  # the process measured as "engine": engine | agi | none
    extra_toml: str = ""  # appended to the benchmark's configuration for this series


def series_plans(quick: bool = False) -> dict[str, Series]:
    """Rate series ramp until overload (one-leg calls are never "served": no unserved limit).
    Concurrency series place 3 new calls/s of calls longer than the run, so calls held at
    once grow by 3 a second until the overload signal: a steady build-up like a morning peak,
    where the cost that matters is holding calls, not setting them up at a burst rate (an
    earlier design at 8 calls/s with 80 s calls measured mostly the setup rate). The cost
    series run the 120 flow without Korean speech recognition and transcription, to measure
    the engine's own call path: 4 calls/s of short calls, and seed-length calls."""
    stages = 6 if quick else 30
    conc_stages, conc_talk = (6, 90.0) if quick else (20, 240.0)
    return {
        "rate_dialplan": Series(
            _profile("rate-dialplan", "9001", _ramp(20, 10, 4, stages, 1.0), 2, ()), "none"
        ),
        "rate_fastagi": Series(
            _profile("rate-fastagi", "9003", _ramp(20, 10, 4, stages, 1.0), 2, ()), "agi"
        ),
        "rate_raw": Series(
            _profile("rate-raw", "9002", _ramp(20, 5, 5, stages, 0.02), 2, ()), "none"
        ),
        "rate_full": Series(
            _profile("rate-full", "120", _ramp(4, 4, 5, stages, 0.02), 2, FAST_KEYS), "engine"
        ),
        "concurrency_raw": Series(
            _profile("concurrency-raw", "9002", _ramp(3, 0, 10, conc_stages, 0.02), conc_talk, ()),
            "none",
        ),
        "concurrency_full": Series(
            _profile(
                "concurrency-full",
                "120",
                _ramp(3, 0, 10, conc_stages, 0.02),
                conc_talk,
                FAST_KEYS,
            ),
            "engine",
        ),
        # Seed-length calls (3 minutes of talk after the IVR): what a call costs each side
        # in the center's real traffic, archiving to Opus included.
        "cost_seed_calls": Series(
            _profile(
                "cost-seed-calls",
                "120",
                _ramp(1, 0, 30 if quick else 60, 1, 1.0),
                60.0 if quick else 180.0,
                FAST_KEYS,
            ),
            "engine",
            CALL_PATH_ONLY,
        ),
        "cost_call_path": Series(
            _profile(
                "cost-call-path", "120", _ramp(4, 0, 10, 3 if quick else 4, 1.0), 10, FAST_KEYS
            ),
            "engine",
            CALL_PATH_ONLY,
        ),
    }


def _per_call_ms(cpu_s: Any, calls: int) -> float | None:
    return round(1000 * float(cpu_s) / calls, 2) if calls and isinstance(cpu_s, float) else None


def summarize(data: RunData, engine_kind: str) -> dict[str, Any]:
    report = build_report(data).summary
    stress = report.get("stress") or {}
    res = report["resources"]
    ast, eng = res.get("asterisk", {}), res.get("engine", {})
    calls = report["offered"]
    return {
        "service": data.profile.service,
        "engine_process": engine_kind,
        "held_rate": stress.get("held_rate"),
        "broke_at_rate": stress.get("broke_at_rate"),
        "reasons": stress.get("reasons"),
        "limiter": stress.get("limiter"),
        "held_concurrency": report["overload"]["held_concurrency"],
        "overload_onset": report["overload"]["onset"],
        "limiter_at_onset": report["overload"]["limiter"],
        "ami_connection_lost": report["ami_connection_lost"],
        "max_talking": report["max_talking"],
        "max_active": report["max_active"],
        "offered": calls,
        "answered": report["answered"],
        "unserved": report["unserved"],
        "sipp_failures": report["sipp_failures"],
        "sipp_retransmissions": report["sipp_retransmissions"],
        "setup_ms_p50": report["setup_ms_p50"],
        "setup_ms_p99": report["setup_ms_p99"],
        "asterisk": ast,
        "engine": eng,
        "sipp": res.get("sipp"),
        "host": res.get("host"),
        "asterisk_cpu_ms_per_call": _per_call_ms(ast.get("cpu_s"), calls),
        "engine_cpu_ms_per_call": _per_call_ms(eng.get("cpu_s"), calls),
        "engine_to_asterisk_cpu": res.get("engine_to_asterisk_cpu"),
        "engine_own_to_asterisk_cpu": res.get("engine_own_to_asterisk_cpu"),
        "elapsed_s": report["elapsed_s"],
        "timed_out": report["timed_out"],
        "channels_left": report["channels_left"],
        "service_level": report["service_level"],
        "speed_of_answer_s": report["speed_of_answer_s"],
        "stages": [
            {k: st[k] for k in ("rate", "placed", "failures", "retransmissions", "setup_ms_p99")}
            | {"asterisk_cpu_pct": (st["resources"].get("asterisk") or {}).get("cpu_pct_mean")}
            for st in report.get("stages", [])
        ],
    }


async def run_series(env: BenchEnv, name: str, series: Series) -> dict[str, Any]:
    config = env.config_path
    if series.extra_toml:
        config = env.root / f"dasan-{name}.toml"
        config.write_text(env.config_path.read_text() + series.extra_toml, encoding="utf-8")
    settings = load_settings(config)
    workdir = env.root / "runs" / name
    # A fresh Asterisk (and engine) per series: Asterisk keeps its RSS after an overload burst.
    stack = Stack(
        settings,
        start=True,
        config_path=config,
        log_dir=workdir,
        engine=series.engine == "engine",
    )
    citizen_ip, trunk = caller_of(series.profile.service)
    async with stack:
        options = RunOptions(
            workdir=workdir,
            audit=series.engine == "engine",
            verify_hashes=False,
            citizen_ip=citizen_ip,
            trunk=trunk,
        )
        if series.engine == "agi":
            async with trivial_agi_server() as agi_pid:
                run = LoadRun(settings, series.profile, Processes(stack, agi_pid), options)
                data = await run.run()
        else:
            data = await LoadRun(settings, series.profile, Processes(stack), options).run()
    result = summarize(data, series.engine)
    result["config"] = series.extra_toml.strip() or "defaults"
    result["asterisk_version"] = data.asterisk_version
    if data.audit is not None:
        result["audit_ok"] = bool(data.audit.get("ok"))
        gaps = data.audit.get("gaps")
        result["audit_gaps"] = len(gaps) if isinstance(gaps, list) else None
        result["audit_gap_samples"] = gaps[:5] if isinstance(gaps, list) else None
    return result


def _ratio(a: Any, b: Any) -> float | None:
    return round(float(a) / float(b), 3) if isinstance(a, int | float) and b else None


def ratios(series: dict[str, dict[str, Any]]) -> dict[str, Any]:
    def get(name: str, key: str) -> Any:
        return (series.get(name) or {}).get(key)

    out = {
        "fastagi_vs_dialplan_calls_per_s": _ratio(
            get("rate_fastagi", "held_rate"), get("rate_dialplan", "held_rate")
        ),
        "full_vs_raw_calls_per_s": _ratio(
            get("rate_full", "held_rate"), get("rate_raw", "held_rate")
        ),
        "full_vs_dialplan_calls_per_s": _ratio(
            get("rate_full", "held_rate"), get("rate_dialplan", "held_rate")
        ),
        "full_vs_raw_concurrency": _ratio(
            get("concurrency_full", "held_concurrency"), get("concurrency_raw", "held_concurrency")
        ),
        "fastagi_server_cpu_vs_asterisk": get("rate_fastagi", "engine_to_asterisk_cpu"),
        "engine_cpu_vs_asterisk_rate_run": get("rate_full", "engine_to_asterisk_cpu"),
        "engine_cpu_vs_asterisk_concurrency_run": get("concurrency_full", "engine_to_asterisk_cpu"),
        "engine_cpu_vs_asterisk_call_path": get("cost_call_path", "engine_to_asterisk_cpu"),
        "engine_cpu_vs_asterisk_call_path_without_archiving": get(
            "cost_call_path", "engine_own_to_asterisk_cpu"
        ),
        "engine_cpu_vs_asterisk_seed_calls": get("cost_seed_calls", "engine_to_asterisk_cpu"),
        "engine_cpu_vs_asterisk_seed_calls_without_archiving": get(
            "cost_seed_calls", "engine_own_to_asterisk_cpu"
        ),
    }
    return out


def targets(r: dict[str, Any]) -> dict[str, bool | None]:
    def at_least(value: Any, limit: float) -> bool | None:
        return None if value is None else value >= limit

    def below(value: Any, limit: float) -> bool | None:
        return None if value is None else value < limit

    return {
        "fastagi_at_least_90pct_of_dialplan_ceiling": at_least(
            r["fastagi_vs_dialplan_calls_per_s"], 0.9
        ),
        "full_concurrency_at_least_90pct_of_raw": at_least(r["full_vs_raw_concurrency"], 0.9),
        "engine_cpu_below_10pct_of_asterisk": below(
            r["engine_cpu_vs_asterisk_concurrency_run"], 0.1
        ),
        "engine_call_path_cpu_below_10pct_of_asterisk": below(
            r["engine_cpu_vs_asterisk_call_path"], 0.1
        ),
        "engine_cpu_below_10pct_of_asterisk_seed_calls": below(
            r["engine_cpu_vs_asterisk_seed_calls"], 0.1
        ),
        "engine_call_path_below_10pct_of_asterisk_seed_calls": below(
            r["engine_cpu_vs_asterisk_seed_calls_without_archiving"], 0.1
        ),
    }


async def measure(names: list[str], quick: bool) -> dict[str, Any]:
    plans = series_plans(quick)
    series: dict[str, dict[str, Any]] = {}
    version = None
    for name in names:
        plan = plans[name]
        started = time.monotonic()
        print(f"pbx_capacity: {name} ({plan.profile.service}) ...", file=sys.stderr, flush=True)
        # A fresh state, spool and database per series: the recordings a series leaves to
        # archive must not be archived (and counted) in the next one.
        with bench_env() as env:
            series[name] = await run_series(env, name, plan)
            version = series[name].pop("asterisk_version", None) or version
            print(
                f"pbx_capacity: {name}: held {series[name]['held_rate']}/s, "
                f"held concurrency {series[name]['held_concurrency']}, "
                f"{time.monotonic() - started:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    r = ratios(series)
    return {
        "benchmark": "pbx_capacity",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "machine": describe_machine(version),
        "quick": quick,
        "setup": "Asterisk, engine and SIPp on the same host, private network namespace; "
        "overload = SIPp failures, retransmissions > 1 % of a stage's calls or setup p99 > 500 ms",
        "series": series,
        "ratios": r,
        "targets_met": targets(r),
    }


def main(argv: list[str] | None = None) -> None:
    args_in = sys.argv[1:] if argv is None else argv
    rc = in_own_netns("benchmarks.pbx_capacity", args_in)
    if rc is not None:
        if rc:
            raise SystemExit(rc)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", nargs="*", default=list(series_plans()))
    parser.add_argument("--quick", action="store_true", help="fewer, shorter stages (a trial)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(args_in)
    result = asyncio.run(measure(args.series, args.quick))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("ratios", "targets_met")}, indent=2))


if __name__ == "__main__":
    main()
