"""A long soak (issue 10): the seed peak's rates for 30 minutes through the real PBX and
engine (default storage, SQLite), with a clean audit and flat memory: RSS growth per hour
of Asterisk and of the engine, a least-squares slope over the steady part of the run (after
the calls in progress have built up, until the last call is placed).

``--minutes`` shortens it (a trial); ``--profile seed-peak-short`` uses that profile's
shorter talk so a trial drains in minutes. Output: benchmarks/results/pbx_soak.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.pbx_env import REPO, bench_env, git_commit, in_own_netns
from benchmarks.pbx_peak import peak_run, rss_growth_mb_per_hour
from dasan.load.machine import describe_machine
from dasan.load.profile import load_profile

RESULTS = REPO / "benchmarks" / "results" / "pbx_soak.json"
TIMEOUT_S = 2 * 3600  # 30 minutes of calls, up to 10 more to drain, the audit
# Memory is judged once the calls in progress have built up (an IVR pass plus a few talk
# times), not while they ramp.
WARMUP_SHARE = 0.25


async def measure(minutes: float, profile_name: str) -> dict[str, Any]:
    base = load_profile(profile_name)
    placing_s = minutes * 60
    profile = base.bounded(duration_s=placing_s, calls=math.ceil(base.rate * placing_s) + 1)
    with bench_env(postgres=False) as env:
        summary, data = await peak_run(env, profile)
    since, until = placing_s * WARMUP_SHARE, placing_s
    growth = {
        name: rss_growth_mb_per_hour(data.sampler, name, since, until)
        for name in ("asterisk", "engine")
    }
    return {
        "benchmark": "pbx_soak",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "machine": describe_machine(),
        "profile": profile_name,
        "minutes": minutes,
        "rss_growth_mb_per_hour": growth,
        "rss_window_s": [since, until],
        "run": summary,
    }


def main(argv: list[str] | None = None) -> None:
    args_in = sys.argv[1:] if argv is None else argv
    rc = in_own_netns("benchmarks.pbx_soak", args_in)
    if rc is not None:
        if rc:
            raise SystemExit(rc)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--profile", default="seed-peak", choices=["seed-peak", "seed-peak-short"])
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(args_in)
    result = asyncio.run(measure(args.minutes, args.profile))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"rss_growth_mb_per_hour": result["rss_growth_mb_per_hour"]}, indent=2))


if __name__ == "__main__":
    main()
