"""The capacity model against a real 2-node cluster: predicted vs measured Asterisk CPU per node.

``dasan cluster up --nodes 2`` (Kamailio in front of two PBX nodes, each Asterisk + engine in
its own network namespace, one PostgreSQL), SIPp citizens calling 120 at Kamailio with RTP
the whole call and typing the Korean general line's keys, SIPp consultants answering and
talking ``TALK_S`` (RTP both ways). Calls arrive at ``RATE`` for ``CALLS`` calls, so the
cluster holds a steady mix of calls in the IVR and calls talking; every call is recorded.

Over a steady ``WINDOW_S`` window each node's Asterisk CPU is read (utime + stime of its
process), minus that node's idle CPU just before the calls, and set beside two predictions
from the per-phase costs of ``benchmarks/results/pbx_phases.json``:
- *from the call log*: each call's seconds inside the window before the consultant joined
  (IVR, ringing: the ``ivr`` cost; waiting is ~0 with every consultant free) and after
  (the ``talking`` cost), summed per node (the node is in the call's uniqueid);
- *Little's law*: ``dasan cluster plan``'s model for the planned mix (``RATE`` calls/s, the
  mean IVR and talk seconds the call log shows) split over the two nodes.

Invariants: the cluster is taken down and its database dropped whatever happens; every SIPp
process started here is stopped; bounded by ``TIMEOUT_S``. Needs root (network namespaces)
and PostgreSQL on its Unix socket. Output: benchmarks/results/pbx_cluster_check.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.pbx_env import REPO, bench_env, git_commit, in_own_netns
from benchmarks.pbx_phases import cpu_s, drops_between, host_busy, udp_drops
from common.storage import Storage
from dasan.cluster.plan import PlanError, costs_from_results, plan
from dasan.cluster.runtime import Cluster
from dasan.cluster.topology import DOC_NETWORKS
from dasan.config import load_settings
from dasan.load.machine import describe_machine
from dasan.sipp import CitizenCalls, ConsultantUas, Dtmf, SippError, run_citizens
from recordings.calllog import CallLog
from recordings.models import ParticipantRole

TIMEOUT_S = 20 * 60
# Reads the per-phase costs pbx_phases just measured (benchmarks.run).
RUNS_LAST = True
RESULTS = REPO / "benchmarks" / "results" / "pbx_cluster_check.json"
PHASES_RESULTS = REPO / "benchmarks" / "results" / "pbx_phases.json"
CALLS = 120
RATE = 1.0  # new calls per second, spread by Kamailio over the two nodes
TALK_S = 30.0
WINDOW_START_S = 45.0  # after the first call: calls talking have reached their steady count
WINDOW_S = 70.0
IDLE_S = 5.0
# Korean, general line: keys typed ahead (RFC 2833, in the media).
KEYS = (Dtmf("1", 1500), Dtmf("1", 500))
# Callers type their keys, so Korean speech recognition is off: two engines' recognizers
# on the same 2 cores as both PBXs saturated the host in the first runs (speech_enabled sits
# in [ivr], the bench configuration's last table).
EXTRA_TOML = (
    "speech_enabled = false\n"
    "[recordings]\ntranscription_enabled = false\n[care]\ncallback_dialing = false\n"
)


def node_of(uniqueid: str) -> str:
    """``dasan-node2-1712345678.12`` -> ``node2`` (each node's Asterisk has its own name)."""
    parts = uniqueid.split("-")
    return parts[1] if len(parts) > 2 else "?"


def overlap_s(start: datetime, end: datetime, w0: datetime, w1: datetime) -> float:
    return max(0.0, (min(end, w1) - max(start, w0)).total_seconds())


async def phase_seconds(
    settings: Any, w0: datetime, w1: datetime
) -> tuple[dict[str, dict[str, float]], dict[str, float], int]:
    """Per node: seconds inside [w0, w1] before a consultant joined and after; and the mean
    seconds per call before and after the consultant over all answered calls."""
    storage = await Storage.open(settings.storage_url)
    try:
        records = await CallLog(storage, None).all()
    finally:
        await storage.close()
    per_node: dict[str, dict[str, float]] = defaultdict(lambda: {"ivr": 0.0, "talking": 0.0})
    before, after, answered = [], [], 0
    for record in records:
        end = record.ended_at or w1
        joined = [p.joined_at for p in record.participants if p.role is ParticipantRole.CONSULTANT]
        answer = min(joined) if joined else end
        node = per_node[node_of(record.uniqueid)]
        node["ivr"] += overlap_s(record.started_at, answer, w0, w1)
        node["talking"] += overlap_s(answer, end, w0, w1)
        if joined and record.ended_at:
            answered += 1
            before.append((answer - record.started_at).total_seconds())
            after.append((record.ended_at - answer).total_seconds())
    means = {
        "ivr": sum(before) / len(before) if before else 0.0,
        "talking": sum(after) / len(after) if after else 0.0,
    }
    return dict(per_node), means, answered


async def _idle(pids: dict[str, int], seconds: float) -> dict[str, float]:
    start = {n: cpu_s(p) for n, p in pids.items()}
    t0 = time.monotonic()
    await asyncio.sleep(seconds)
    wall = time.monotonic() - t0
    return {n: (cpu_s(p) - start[n]) / wall for n, p in pids.items()}


async def check(calls: int, rate: float, costs: dict[str, float]) -> dict[str, Any]:
    with bench_env(postgres=True) as env:
        config = env.root / "dasan-cluster.toml"
        config.write_text(env.config_path.read_text() + EXTRA_TOML, encoding="utf-8")
        settings = load_settings(config)
        cluster = Cluster(settings, config)
        try:
            up = await asyncio.to_thread(cluster.up, 2, str(DOC_NETWORKS[0]))
            return await _measure(settings, up, calls=calls, rate=rate, costs=costs, root=env.root)
        finally:
            await asyncio.to_thread(cluster.down)


async def _measure(
    settings: Any,
    up: dict[str, Any],
    *,
    calls: int,
    rate: float,
    costs: dict[str, float],
    root: Path,
) -> dict[str, Any]:
    health = {n["name"]: n["health"] for n in up["nodes"]}
    if set(health.values()) != {"active"}:
        raise RuntimeError(f"the nodes are not all active: {health}")
    asterisk = {n["name"]: int(n["asterisk_pid"]) for n in up["nodes"]}
    engines = {n["name"]: int(n["engine_pid"]) for n in up["nodes"] if n["engine_pid"]}
    kam_ip, kam_port = up["kamailio"]["address"].split(":")
    host = up["host_address"]
    idle = await _idle(asterisk, IDLE_S)
    load_before = os.getloadavg()
    spec = CitizenCalls(
        calls=calls,
        rate=rate,
        # Every call may be up at once: SIPp's own default limit would throttle the rate.
        limit=calls,
        local_ip=host,
        via_proxy=True,
        digits=KEYS,
        hangup_after_ms=int((TALK_S + 30) * 1000),
    )
    async with ConsultantUas(root / "uas", ring_ms=300, talk_ms=int(TALK_S * 1000), local_ip=host):
        started = time.monotonic()
        placing = asyncio.create_task(
            run_citizens(
                spec,
                root / "citizens",
                pbx=(kam_ip, int(kam_port)),
                timeout_s=calls / rate + TALK_S + 240,
            )
        )
        await asyncio.sleep(max(0.0, started + WINDOW_START_S - time.monotonic()))
        w0, t0 = datetime.now(UTC), time.monotonic()
        cpu0 = {n: cpu_s(p) for n, p in asterisk.items()}
        eng0 = {n: cpu_s(p) for n, p in engines.items()}
        drops0 = {n: udp_drops(p) for n, p in asterisk.items()}
        busy0, total0 = host_busy()
        await asyncio.sleep(WINDOW_S)
        wall = time.monotonic() - t0
        cpu = {n: cpu_s(p) - cpu0[n] for n, p in asterisk.items()}
        eng = {n: cpu_s(p) - eng0[n] for n, p in engines.items()}
        drops = {n: drops_between(drops0[n], udp_drops(p)) for n, p in asterisk.items()}
        busy1, total1 = host_busy()
        w1 = datetime.now(UTC)
        load_mid = os.getloadavg()
        # The window is measured: a SIPp straggler (a lost BYE on a saturated host) is
        # reported, not allowed to lose the figures.
        sipp_error = None
        placed: dict[str, int | None]
        try:
            sipp = await placing
            placed = {"successful": sipp.successful, "failed": sipp.failed}
        except SippError as exc:
            sipp_error, placed = str(exc), {"successful": None, "failed": None}
    # The calls end in the log shortly after SIPp; read it once the last has ended.
    deadline = time.monotonic() + 60
    while True:
        per_node, means, answered = await phase_seconds(settings, w0, w1)
        if answered >= (placed["successful"] or calls) or time.monotonic() > deadline:
            break
        await asyncio.sleep(1.0)
    nodes: dict[str, Any] = {}
    for name in asterisk:
        seconds = per_node.get(name, {"ivr": 0.0, "talking": 0.0})
        predicted = sum(seconds[p] * costs[p] for p in seconds) / 1000 / wall
        measured = (cpu[name] - idle[name] * wall) / wall
        nodes[name] = {
            "call_s_in_window": {p: round(s, 1) for p, s in seconds.items()},
            "mean_calls_up": round(sum(seconds.values()) / wall, 1),
            "asterisk_cores_measured": round(measured, 4),
            "asterisk_idle_cores": round(idle[name], 4),
            "asterisk_cores_predicted": round(predicted, 4),
            "measured_vs_predicted": round(measured / predicted, 3) if predicted else None,
            "engine_cores": round(eng[name] / wall, 4) if name in eng else None,
            # A starved PBX drops media instead of spending CPU on it.
            "asterisk_udp_drops_in_window": drops[name],
        }
    model = plan(
        rate,
        {"ivr": means["ivr"], "talking": means["talking"]},
        costs,
        cores_per_node=2.0,
        spare=0,
    )
    measured_mean = sum(n["asterisk_cores_measured"] for n in nodes.values()) / len(nodes)
    littles = model.per_node(2)["asterisk_cores"]
    return {
        "calls": calls,
        "rate": rate,
        "talk_s": TALK_S,
        "window": {"start_s": WINDOW_START_S, "seconds": round(wall, 1)},
        "sipp": placed | {"error": sipp_error},
        "answered_in_log": answered,
        "mean_seconds": {p: round(s, 1) for p, s in means.items()},
        "costs_ms_per_call_s": costs,
        "nodes": nodes,
        "littles_law": {
            "plan": model.as_json(),
            "asterisk_cores_per_node": littles,
            "measured_mean_per_node": round(measured_mean, 4),
            "measured_vs_predicted": round(measured_mean / littles, 3) if littles else None,
        },
        "host_busy_in_window": round((busy1 - busy0) / (total1 - total0), 3)
        if total1 > total0
        else None,
        "host_load": {
            "before": [round(x, 2) for x in load_before],
            "in_window": [round(x, 2) for x in load_mid],
        },
    }


def _costs(path: Path) -> dict[str, float]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        costs = costs_from_results(data)
    except (OSError, json.JSONDecodeError, PlanError) as exc:
        raise SystemExit(f"{path}: no per-phase costs ({exc}); run benchmarks.pbx_phases") from exc
    missing = {"ivr", "talking"} - set(costs)
    if missing:
        raise SystemExit(f"{path}: no cost measured for {', '.join(sorted(missing))}")
    return {p: costs[p] for p in ("ivr", "talking")}


def main(argv: list[str] | None = None) -> None:
    args_in = sys.argv[1:] if argv is None else argv
    rc = in_own_netns("benchmarks.pbx_cluster_check", args_in)
    if rc is not None:
        if rc:
            raise SystemExit(rc)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=CALLS)
    parser.add_argument("--rate", type=float, default=RATE)
    parser.add_argument("--costs", type=Path, default=PHASES_RESULTS)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(args_in)
    costs = _costs(args.costs)
    result = {
        "benchmark": "pbx_cluster_check",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "machine": describe_machine(None),
        "costs_from": str(
            args.costs.relative_to(REPO) if args.costs.is_relative_to(REPO) else args.costs
        ),
    } | asyncio.run(check(args.calls, args.rate, costs))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("nodes", "littles_law")}, indent=2))


if __name__ == "__main__":
    main()
