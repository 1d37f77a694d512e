"""ACD routing-decision latency and simulator speed (issue 4; issue 7, item 4).

1. Decision latency: the shipped roster (471 consultants, all logged in and busy) and 1,000
   waiting calls spread over the Korean queues, the foreign desks and the priority tiers. In
   steady state, repeatedly: a talking consultant's call ends (wrap-up), their wrap-up ends
   (the core makes ONE global choice among the 1,000 calls and offers one), they answer, and a
   new call arrives (joins the 1,000, gets its position and Erlang-style estimate). Every
   ``decide`` is timed on its own, wall clock (``perf_counter_ns``) and this thread's CPU time
   (``thread_time_ns``, which a busy shared machine's preemption does not inflate); reported
   per event type and for the routing decisions (the wrap-up ends), with announcements on (the
   default, each waiting call hears one a minute) and off.
2. Simulator speed: the seed day (35,359 calls) through each policy, calls simulated per second.

Output: benchmarks/results/acd.json. Run: ``python -m benchmarks.acd_decision``.
Invariant: deterministic inputs (fixed seeds); only the timings vary between runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from acd.commands import OfferCall
from acd.core import decide
from acd.events import (
    CallArrived,
    CallEnded,
    ConsultantLoggedIn,
    Event,
    OfferAccepted,
    Tick,
    WrapUpEnded,
)
from acd.model import Language, Priority
from acd.roster import load_roster
from acd.services import ServiceCatalog, load_catalog
from acd.settings import AcdSettings
from acd.sim.engine import Simulation
from acd.sim.scenarios import POLICIES, make_router
from acd.sim.staffing import plan_day
from acd.sim.traffic import TrafficProfile, generate
from acd.state import AcdState
from common.stats import mean, percentiles, rounded

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "acd.json"
WAITING = 1_000
KINDS = (
    (Language.KO, "general", 50),
    (Language.KO, "transport", 16),
    (Language.KO, "documents", 10),
    (Language.KO, "water_tax", 9),
    (Language.KO, "welfare", 9),
    (Language.KO, "care129", 6),
    (Language.EN, "foreign_en", 1),
    (Language.ZH, "foreign_zh", 1),
)


def _percentiles(samples_ns: list[int]) -> dict[str, float | int | None]:
    us = [n / 1000.0 for n in samples_ns]
    return {
        "count": len(us),
        **percentiles(us, (50, 99, 99.9), digits=1, suffix="_us"),
        "max_us": rounded(max(us), 1) if us else None,
        "mean_us": rounded(mean(us), 1),
    }


class Bench:
    """A steady state of 471 busy consultants and 1,000 waiting calls."""

    def __init__(self, settings: AcdSettings, seed: int) -> None:
        catalog = load_catalog()
        self.roster = load_roster(catalog)
        self.state = AcdState.new(catalog, self.roster, settings)
        self.rng = random.Random(seed)
        self.now = 0.0
        self.count = 0
        self.talking: dict[str, str] = {}  # consultant -> call
        self.samples: dict[str, list[int]] = defaultdict(list)  # wall clock, ns
        self.cpu: dict[str, list[int]] = defaultdict(list)  # this thread's CPU time, ns
        for consultant in self.roster:
            self.feed(ConsultantLoggedIn(consultant.id), timed=False)
        self.busy_everybody(catalog)
        for _ in range(WAITING):
            self.now += 0.06  # a minute of arrivals: announcements stay spread over the minute
            self.arrive(timed=False)

    def busy_everybody(self, catalog: ServiceCatalog) -> None:
        """Give every consultant a call of their strongest skill (overflow opens if needed)."""
        while ready := sorted(self.state.pool.ready_ids()):
            consultant = self.state.agents[ready[0]].profile
            service = catalog[consultant.primary_skill() or "general"]
            language = min(service.languages & consultant.languages)
            self.count += 1
            self.feed(CallArrived(f"b{self.count}", language, service.id), timed=False)
            if len(self.state.queues):
                self.now += 61.0
                self.feed(Tick(), timed=False)

    def feed(self, event: Event, *, timed: bool = True) -> list[Any]:
        cpu = time.thread_time_ns()
        started = time.perf_counter_ns()
        self.state, commands = decide(self.state, event, self.now)
        elapsed = time.perf_counter_ns() - started
        cpu = time.thread_time_ns() - cpu
        if timed:
            self.samples[type(event).__name__].append(elapsed)
            self.cpu[type(event).__name__].append(cpu)
        for command in commands:
            if isinstance(command, OfferCall):  # answer at once, in the same instant
                self.state, more = decide(
                    self.state, OfferAccepted(command.call_id, command.consultant_id), self.now
                )
                self.talking[command.consultant_id] = command.call_id
                del more
        return commands

    def arrive(self, *, timed: bool = True) -> None:
        self.count += 1
        language, service, _weight = self.rng.choices(KINDS, weights=[k[2] for k in KINDS])[0]
        priority = Priority.SAFETY_RETURN if self.rng.random() < 0.004 else Priority.NORMAL
        self.feed(CallArrived(f"b{self.count}", language, service, priority), timed=timed)

    def cycle(self) -> None:
        consultant = self.rng.choice(sorted(self.talking))
        call = self.talking.pop(consultant)
        self.now += 0.8  # ~1.2 calls a second, the seed peak
        self.feed(CallEnded(call))
        self.feed(WrapUpEnded(consultant))  # the routing decision among the waiting calls
        self.arrive()

    def waiting(self) -> int:
        return len(self.state.queues)


def decision_latency(cycles: int, settings: AcdSettings) -> dict[str, Any]:
    bench = Bench(settings, seed=4)
    gc.collect()
    for _ in range(cycles):
        bench.cycle()
    return {
        "consultants": len(bench.roster),
        "waiting_calls_at_end": bench.waiting(),
        "routing_decision": _percentiles(bench.samples["WrapUpEnded"]),
        "routing_decision_cpu": _percentiles(bench.cpu["WrapUpEnded"]),
        "by_event": {name: _percentiles(s) for name, s in sorted(bench.samples.items())},
        "by_event_cpu": {name: _percentiles(s) for name, s in sorted(bench.cpu.items())},
    }


def simulator_speed(policies: tuple[str, ...]) -> dict[str, Any]:
    catalog = load_catalog()
    roster = load_roster(catalog)
    profile = TrafficProfile()
    traffic = generate(profile, catalog, 1)
    plans = plan_day(roster, "tue")
    working = tuple(p.consultant for p in plans)
    out: dict[str, Any] = {
        "calls": len(traffic),
        "consultants_on_shift": len(plans),
        "policies": {},
    }
    for policy in policies:
        router = make_router(policy, catalog, working, AcdSettings(), 1)
        started = time.perf_counter()
        Simulation(traffic, plans, router, profile, ring_timeout_s=15.0, seed=1).run()
        wall = time.perf_counter() - started
        out["policies"][policy] = {
            "wall_s": round(wall, 2),
            "calls_per_s": round(len(traffic) / wall),
        }
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=20_000)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    print("decision latency (announcements on)...", file=sys.stderr)
    with_announcements = decision_latency(args.cycles, AcdSettings())
    print("decision latency (announcements off)...", file=sys.stderr)
    without = decision_latency(
        args.cycles, AcdSettings(announce_every_s=None, callback_offer_min_wait_s=None)
    )
    print("simulator speed...", file=sys.stderr)
    result: dict[str, Any] = {
        "benchmark": "acd",
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "decision": with_announcements,
        "decision_without_announcements": without,
        "target_p99_us": 1000,
        "simulator": simulator_speed(POLICIES),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    decision = result["decision"]["routing_decision"]
    print(
        f"routing decision p50 {decision['p50_us']} us, p99 {decision['p99_us']} us; "
        f"written to {args.output}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
