"""The seed peak as a benchmark (issue 10): ``dasan load seed-peak`` in full, through the
real PBX and engine, on the default storage (SQLite) and on PostgreSQL.

Each storage gets a freshly started Asterisk and engine in a temporary installation, in a
private network namespace (``benchmarks.pbx_env``). Reported per storage: engine exits
(target 0) and exit status, IVR handler crashes (target 0), calls offered / answered /
abandoned by the caller / unserved, the recordings audit (target clean), service level,
setup times, CPU and RSS per component (Asterisk, engine, SIPp).

Output: benchmarks/results/pbx_seed_peak.json with the machine it ran on.
``--duration`` shortens the placing time and ``--profile seed-peak-short`` the talk, for a
trial (the result says so: ``full_profile: false``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.pbx_env import REPO, bench_env, git_commit, in_own_netns
from benchmarks.pbx_peak import peak_run
from dasan.load.machine import describe_machine
from dasan.load.profile import load_profile

RESULTS = REPO / "benchmarks" / "results" / "pbx_seed_peak.json"
# Two full seed peaks: 10 minutes of calls each, up to 10 more to drain, the audit.
TIMEOUT_S = 4 * 3600
STORAGES = ("sqlite", "postgresql")


def targets(run: dict[str, Any]) -> dict[str, bool]:
    finished = (run.get("answered") or 0) + (run.get("abandoned") or 0)
    return {
        "no_engine_exit": run.get("engine_exits") == 0,
        "no_handler_crash": run.get("handler_crashes") == 0,
        "every_call_answered_or_abandoned": finished == run.get("offered")
        and not run.get("unserved"),
        "audit_clean": run.get("audit_ok") is True,
    }


async def measure(
    storages: list[str], duration_s: float | None, profile_name: str = "seed-peak"
) -> dict[str, Any]:
    profile = load_profile(profile_name).bounded(duration_s=duration_s)
    runs: dict[str, Any] = {}
    for storage in storages:
        print(f"pbx_seed_peak: {storage} ...", file=sys.stderr, flush=True)
        with bench_env(postgres=storage == "postgresql") as env:
            summary, _data = await peak_run(env, profile)
        summary["targets_met"] = targets(summary)
        runs[storage] = summary
        print(
            f"pbx_seed_peak: {storage}: offered {summary['offered']}, answered "
            f"{summary['answered']}, audit {summary['audit_ok']}",
            file=sys.stderr,
            flush=True,
        )
    return {
        "benchmark": "pbx_seed_peak",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "machine": describe_machine(),
        "profile": profile.name,
        "placing_s": profile.duration_s,
        "full_profile": duration_s is None and profile_name == "seed-peak",
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> None:
    args_in = sys.argv[1:] if argv is None else argv
    rc = in_own_netns("benchmarks.pbx_seed_peak", args_in)
    if rc is not None:
        if rc:
            raise SystemExit(rc)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", nargs="*", default=list(STORAGES), choices=STORAGES)
    parser.add_argument("--duration", type=float, help="seconds of placing calls (a trial)")
    parser.add_argument("--profile", default="seed-peak", choices=["seed-peak", "seed-peak-short"])
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(args_in)
    result = asyncio.run(measure(args.storage, args.duration, args.profile))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v["targets_met"] for k, v in result["runs"].items()}, indent=2))


if __name__ == "__main__":
    main()
