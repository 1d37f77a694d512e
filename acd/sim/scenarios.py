"""Scenarios and the side-by-side run of every policy on the same traffic.

Invariants:
- One traffic draw per run, shared by every policy; the Erlang figure uses the same traffic
  (arrivals per half hour, mean handle + wrap-up + ring) and the same work plans.
- ``default`` is the seed weekday (35,359 calls, the shipped roster's tuesday shifts);
  ``unbalanced`` is the same day with a transport surge (a subway strike: half of the Korean
  calls between 07:00 and 13:00 are about transport), so one queue outgrows its own team;
  ``texts`` is the seed weekday with chat and SMS threads mixed in (``acd.sim.texts``: 1,500
  threads between 09:00 and 22:00, an assumption: the seed gives no count), handled by the same
  consultants under the product's capacity rule.
- ``--calls N`` scales the traffic and, per team, the staffing by the same ratio.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from acd.commands import Command
from acd.core import decide
from acd.events import Event
from acd.model import Consultant
from acd.services import ServiceCatalog
from acd.settings import AcdSettings
from acd.sim.appqueue import STRATEGIES, AppQueueRouter
from acd.sim.engine import Router, SimResult, Simulation
from acd.sim.erlang_day import erlang_report
from acd.sim.report import DayReport, policy_report
from acd.sim.staffing import WorkPlan, plan_day
from acd.sim.texts import TextProfile, TextThread, generate_texts
from acd.sim.traffic import SEED_CALLS, SimCall, Surge, TrafficProfile, generate
from acd.state import AcdState

SCENARIOS = ("default", "unbalanced", "texts")
POLICIES = ("dasan", *STRATEGIES)
# Ours with call-back offers (virtual hold) on: callers who would abandon are kept and served
# late, which changes caller behaviour, so it is not part of the like-for-like comparison.
WITH_CALLBACKS = "dasan_callback"
ALL_POLICIES = (*POLICIES, WITH_CALLBACKS)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    traffic: TrafficProfile
    day: str = "tue"
    texts: TextProfile | None = None  # chat and SMS threads of the day; None: voice only


def scenario(name: str) -> Scenario:
    if name == "default":
        return Scenario("default", "seed weekday, pooled staffing", TrafficProfile())
    if name == "unbalanced":
        surge = Surge("transport", 7.0, 13.0, 0.5)
        return Scenario(
            "unbalanced",
            "seed weekday with a transport surge 07:00-13:00 (half of the Korean calls)",
            TrafficProfile(surges=(surge,)),
        )
    if name == "texts":
        return Scenario(
            "texts",
            "seed weekday with chat and SMS threads mixed in (09:00-22:00)",
            TrafficProfile(),
            texts=TextProfile(),
        )
    raise ValueError(f"unknown scenario {name!r} (expected one of {', '.join(SCENARIOS)})")


class DasanRouter:
    """Our policy: exactly :func:`acd.core.decide` over an :class:`AcdState`."""

    def __init__(
        self, catalog: ServiceCatalog, roster: Sequence[Consultant], settings: AcdSettings
    ) -> None:
        self.name = "dasan"
        self.state = AcdState.new(catalog, roster, settings)

    def handle(self, event: Event, now: float) -> list[Command]:
        self.state, commands = decide(self.state, event, now)
        return commands


def make_router(
    policy: str,
    catalog: ServiceCatalog,
    roster: Sequence[Consultant],
    settings: AcdSettings,
    seed: int,
) -> Router:
    if policy == "dasan":
        plain = settings.model_copy(update={"callback_offer_min_wait_s": None})
        return DasanRouter(catalog, roster, plain)
    if policy == WITH_CALLBACKS:
        router = DasanRouter(catalog, roster, settings)
        router.name = WITH_CALLBACKS
        return router
    return AppQueueRouter(catalog, roster, policy, float(settings.ring_timeout_s), seed)


@dataclass(frozen=True, slots=True)
class DayInputs:
    catalog: ServiceCatalog
    settings: AcdSettings
    seed: int


def _simulate(
    policy: str,
    setup: tuple[list[SimCall], list[WorkPlan], TrafficProfile],
    day: DayInputs,
    texts: list[TextThread] | None = None,
) -> SimResult:
    traffic, plans, profile = setup
    working = tuple(p.consultant for p in plans)
    router = make_router(policy, day.catalog, working, day.settings, day.seed)
    ring_timeout_s = float(day.settings.ring_timeout_s)
    started = time.perf_counter()
    result = Simulation(
        traffic, plans, router, profile, ring_timeout_s=ring_timeout_s, seed=day.seed, texts=texts
    ).run()
    result.wall_s = time.perf_counter() - started
    return result


def run_day(
    scene: Scenario,
    catalog: ServiceCatalog,
    roster: tuple[Consultant, ...],
    settings: AcdSettings,
    *,
    seed: int = 1,
    calls: int = SEED_CALLS,
    policies: Sequence[str] = POLICIES,
    progress: Callable[[str], None] | None = None,
) -> DayReport:
    """Simulate the day once per policy on one traffic draw; report side by side."""
    profile = replace(scene.traffic, calls=calls)
    traffic = generate(profile, catalog, seed)
    plans = plan_day(roster, scene.day, calls / SEED_CALLS)
    texts = None
    if scene.texts is not None:
        texts = generate_texts(scene.texts.scaled(calls / SEED_CALLS), seed)
    day = DayInputs(catalog, settings, seed)
    results: list[SimResult] = []
    for policy in policies:
        if progress is not None:
            progress(f"simulating {policy} ({len(traffic)} calls, {len(plans)} consultants)")
        results.append(_simulate(policy, (traffic, plans, profile), day, texts))
    if progress is not None:
        progress("computing the Erlang figures")
    by_id = {p.consultant.id: p.consultant for p in plans}
    return DayReport(
        scenario=scene.name,
        description=scene.description,
        seed=seed,
        calls=len(traffic),
        consultants=len(plans),
        policies={r.policy: policy_report(r, catalog, by_id) for r in results},
        erlang=erlang_report(traffic, plans, catalog, profile),
    )
