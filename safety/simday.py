"""The effect of a safety campaign on inbound 120 callers over a seed day (the ACD simulator).

The campaign's Monday (``plan_week`` over ``people`` with windows between 09:00 and 19:00)
is added to the seed day's traffic: each planned call that needs a consultant (the person
presses 2, or is flagged for a personal call) arrives as a ``SAFETY_RETURN`` call about
20 s after its planned time (greeting and check-in), with its own handle time. The same day
is simulated with and without it (policy "dasan") and the inbound calls' service level is
compared. It is an upper bound on the harm: the live pacing places a safety call only while
consultants are free; the simulator's arrivals do not wait for that.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from acd.model import Language, Priority
from acd.roster import load_configured
from acd.services import ServiceCatalog
from acd.settings import AcdSettings
from acd.sim.scenarios import DayInputs, _simulate, scenario
from acd.sim.staffing import plan_day
from acd.sim.traffic import SEED_CALLS, SimCall, generate
from safety.schedule import Enrollee, plan_week

ZONE = ZoneInfo("Asia/Seoul")
MONDAY = dt.date(2026, 12, 7)
WITHIN_S = 20.0


@dataclass(frozen=True, slots=True)
class CampaignLoad:
    people: int = 500
    consultant_share: float = 0.15  # of answered calls: pressed 2 or personal calls
    handle_s: float = 240.0
    seed: int = 1
    inbound_calls: int = SEED_CALLS  # the day's 120 calls (staffing scales with it)


def _campaign_calls(load: CampaignLoad, catalog: ServiceCatalog) -> list[SimCall]:
    rng = random.Random(load.seed)
    people = []
    for n in range(load.people):
        start = rng.randint(9, 17)
        people.append(Enrollee(f"p{n:05d}", dt.time(start), dt.time(start + 2), rng.choice([2, 3])))
    plan = plan_week(people, MONDAY, ZONE, (0, 1, 2, 3, 4), lambda _d: False)
    midnight = dt.datetime.combine(MONDAY, dt.time(0), ZONE)
    calls = []
    for call in plan:
        if call.at.astimezone(ZONE).date() != MONDAY or rng.random() >= load.consultant_share:
            continue
        calls.append(
            SimCall(
                idx=0,
                call_id=f"safety-{call.person_id}",
                arrival=(call.at - midnight).total_seconds() + 20.0,
                language=Language.KO,
                service="general",
                priority=Priority.SAFETY_RETURN,
                handle_s=max(30.0, rng.lognormvariate(0, 0.5) * load.handle_s),
                patience_s=3600.0,  # an elderly person asking for help keeps waiting
                ring_delay_s=rng.uniform(2.0, 6.0),
                no_answer=False,
                accepts_callback=False,
                answers_callback=False,
            )
        )
    assert catalog.get("general") is not None
    return calls


def _inbound_level(result_calls: list[SimCall], outcomes: list[object]) -> dict[str, float]:
    answered = in_time = abandoned = 0
    for call in result_calls:
        if call.call_id.startswith("safety-"):
            continue
        outcome = outcomes[call.idx]
        answered_at = getattr(outcome, "answered_at", None)
        if answered_at is None:
            abandoned += 1
            continue
        answered += 1
        in_time += (answered_at - call.arrival) <= WITHIN_S
    offered = answered + abandoned
    return {
        "inbound_offered": offered,
        "inbound_answered_within_20s": round(in_time / offered, 4),
        "inbound_abandoned": round(abandoned / offered, 4),
    }


def compare_day(settings: AcdSettings, load: CampaignLoad) -> dict[str, object]:
    catalog, roster = load_configured(settings)
    scene = scenario("default")
    profile = replace(scene.traffic, calls=load.inbound_calls)
    inbound = generate(profile, catalog, load.seed)
    plans = plan_day(roster, scene.day, load.inbound_calls / SEED_CALLS)
    day = DayInputs(catalog, settings, load.seed)
    safety = _campaign_calls(load, catalog)
    mixed = sorted([*inbound, *safety], key=lambda c: c.arrival)
    mixed = [replace(c, idx=i) for i, c in enumerate(mixed)]
    without = _simulate("dasan", (inbound, plans, profile), day)
    with_campaign = _simulate("dasan", (mixed, plans, profile), day)
    served = [c for c in mixed if c.call_id.startswith("safety-")]
    safety_waits = [
        with_campaign.outcomes[c.idx].answered_at - c.arrival  # type: ignore[operator]
        for c in served
        if with_campaign.outcomes[c.idx].answered_at is not None
    ]
    return {
        "people": load.people,
        "safety_consultant_calls": len(safety),
        "safety_answered": len(safety_waits),
        "safety_wait_max_s": round(max(safety_waits, default=0.0), 1),
        "without_campaign": _inbound_level(inbound, list(without.outcomes)),
        "with_campaign": _inbound_level(mixed, list(with_campaign.outcomes)),
    }
