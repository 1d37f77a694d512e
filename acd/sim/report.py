"""Statistics of a simulated day, per policy, side by side with the Erlang figures.

Definitions (the same for every policy, and for Erlang in :mod:`acd.sim.erlang_day`):
- service level: answered within 20 s over all arriving calls (an abandoned call counts as
  not answered in time); ASA: mean wait of answered calls; abandon rate: abandoned (including
  failed call-backs) over all calls.
- occupancy: (ringing + talking + wrap-up) over (that + ready) time within the day; per queue,
  of the team whose primary skill is that queue. Fairness: Gini of handled calls per available
  hour and coefficient of variation of occupancy, over consultants available at least an hour.
- estimate error: mean |first announced estimate - actual wait| of answered calls that waited.
- text threads (scenario ``texts``), per channel: service level is answered within 60 s over
  all threads; an SMS is never abandoned, a chat is when its citizen's patience runs out.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from acd.model import Consultant, ConsultantState
from acd.services import ServiceCatalog
from acd.sim.engine import AgentLog, SimResult
from acd.sim.erlang_day import HALF_S, HALVES, WITHIN_S, ErlangReport, rounded
from acd.sim.texts import CHANNELS, TEXT_WITHIN_S, TextDesk
from acd.sim.traffic import SimCall

_BUSY = (ConsultantState.RINGING, ConsultantState.TALKING, ConsultantState.WRAP_UP)


@dataclass(frozen=True, slots=True)
class QueueReport:
    calls: int
    service_level: float
    asa_s: float
    abandon_rate: float
    occupancy: float  # of the team whose primary skill is this queue
    team: int


@dataclass(frozen=True, slots=True)
class TextReport:
    threads: int
    answered: int
    abandoned: int
    service_level: float  # answered within TEXT_WITHIN_S over all threads
    asa_s: float


@dataclass(frozen=True, slots=True)
class PolicyReport:
    service_level: float
    asa_s: float
    abandon_rate: float
    occupancy: float
    answered: int
    abandoned: int
    callbacks: int
    fairness_gini: float
    occupancy_cv: float
    estimate_error_s: float | None
    decisions: int
    wall_s: float
    queues: dict[str, QueueReport]
    half_hours: tuple[tuple[int, float, float], ...]  # (calls, service level, asa) by arrival
    texts: dict[str, TextReport] = field(default_factory=dict)  # by channel; empty: voice only

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["half_hours"] = [
            {"calls": c, "service_level": s, "asa_s": a} for c, s, a in self.half_hours
        ]
        result: dict[str, Any] = rounded(body)
        return result


@dataclass(frozen=True, slots=True)
class DayReport:
    scenario: str
    description: str
    seed: int
    calls: int
    consultants: int
    policies: dict[str, PolicyReport]
    erlang: ErlangReport

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "description": self.description,
            "seed": self.seed,
            "calls": self.calls,
            "consultants": self.consultants,
            "policies": {k: v.to_json() for k, v in self.policies.items()},
            "erlang": self.erlang.to_json(),
        }


def gini(values: list[float]) -> float:
    xs = sorted(values)
    total = sum(xs)
    if not xs or total <= 0:
        return 0.0
    n = len(xs)
    return sum((2 * i - n + 1) * x for i, x in enumerate(xs)) / (n * total)


def _calls_stats(calls: list[SimCall], result: SimResult) -> tuple[int, int, int, float]:
    """(answered, abandoned, answered within 20 s, total wait of answered) over ``calls``."""
    answered = abandoned = in_time = 0
    waited = 0.0
    for call in calls:
        outcome = result.outcomes[call.idx]
        if outcome.answered_at is None:
            abandoned += 1
            continue
        answered += 1
        wait = outcome.answered_at - call.arrival
        waited += wait
        in_time += wait <= WITHIN_S
    return answered, abandoned, in_time, waited


def _occupancy(logs: list[AgentLog]) -> float:
    busy = sum(log.seconds.get(s, 0.0) for log in logs for s in _BUSY)
    ready = sum(log.seconds.get(ConsultantState.READY, 0.0) for log in logs)
    return busy / (busy + ready) if busy + ready > 0 else 0.0


def _queues(
    result: SimResult, catalog: ServiceCatalog, roster: dict[str, Consultant]
) -> dict[str, QueueReport]:
    by_service: dict[str, list[SimCall]] = defaultdict(list)
    for call in result.calls:
        by_service[call.service].append(call)
    queues = {}
    for service_id in catalog:
        team = [
            log for cid, log in result.agents.items() if roster[cid].primary_skill() == service_id
        ]
        group = by_service.get(service_id, [])
        answered, abandoned, in_time, waited = _calls_stats(group, result)
        n = max(len(group), 1)
        queues[service_id] = QueueReport(
            len(group),
            in_time / n,
            waited / max(answered, 1),
            abandoned / n,
            _occupancy(team),
            len(team),
        )
    return queues


def _half_hours(result: SimResult) -> tuple[tuple[int, float, float], ...]:
    by_half: list[list[SimCall]] = [[] for _ in range(HALVES)]
    for call in result.calls:
        by_half[min(HALVES - 1, int(call.arrival // HALF_S))].append(call)
    halves = []
    for group in by_half:
        answered, _abandoned, in_time, waited = _calls_stats(group, result)
        halves.append((len(group), in_time / max(len(group), 1), waited / max(answered, 1)))
    return tuple(halves)


def _fairness(result: SimResult) -> tuple[float, float]:
    """(Gini of calls per available hour, CV of occupancy) over consultants on for an hour."""
    per_hour, occupancies = [], []
    for log in result.agents.values():
        available = sum(log.seconds.get(s, 0.0) for s in (*_BUSY, ConsultantState.READY))
        if available >= 3600:
            per_hour.append(log.handled / (available / 3600))
            occupancies.append(_occupancy([log]))
    if not occupancies:
        return 0.0, 0.0
    return gini(per_hour), statistics.pstdev(occupancies) / max(statistics.fmean(occupancies), 1e-9)


def text_reports(desk: TextDesk | None) -> dict[str, TextReport]:
    if desk is None:
        return {}
    reports = {}
    for channel in CHANNELS:
        pairs = [
            (t, o) for t, o in zip(desk.threads, desk.outcomes, strict=True) if t.channel == channel
        ]
        waits = [o.answered_at - t.arrival for t, o in pairs if o.answered_at is not None]
        reports[channel] = TextReport(
            threads=len(pairs),
            answered=len(waits),
            abandoned=sum(1 for _t, o in pairs if o.abandoned_at is not None),
            service_level=sum(w <= TEXT_WITHIN_S for w in waits) / max(len(pairs), 1),
            asa_s=sum(waits) / max(len(waits), 1),
        )
    return reports


def policy_report(
    result: SimResult, catalog: ServiceCatalog, roster: dict[str, Consultant]
) -> PolicyReport:
    answered, abandoned, in_time, waited = _calls_stats(result.calls, result)
    errors = [
        abs(o.answered_at - c.arrival - o.first_estimate_s)
        for c, o in zip(result.calls, result.outcomes, strict=True)
        if o.answered_at is not None and o.first_estimate_s is not None
    ]
    fairness, occupancy_cv = _fairness(result)
    total = max(len(result.calls), 1)
    return PolicyReport(
        service_level=in_time / total,
        asa_s=waited / max(answered, 1),
        abandon_rate=abandoned / total,
        occupancy=_occupancy(list(result.agents.values())),
        answered=answered,
        abandoned=abandoned,
        callbacks=sum(1 for o in result.outcomes if o.callback),
        fairness_gini=fairness,
        occupancy_cv=occupancy_cv,
        estimate_error_s=statistics.fmean(errors) if errors else None,
        decisions=result.decisions,
        wall_s=result.wall_s,
        queues=_queues(result, catalog, roster),
        half_hours=_half_hours(result),
        texts=text_reports(result.texts),
    )
