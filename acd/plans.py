"""Per-service routing plans, precomputed once from the catalog so a decision does no
string or set work per call.

Invariants: a plan mirrors its :class:`acd.model.Service` exactly (same stages, same order);
``competitors`` are the services whose calls draw on at least one of the same skills, so
their waiting calls may be answered before a call of this service.
"""

from __future__ import annotations

from dataclasses import dataclass

from acd.model import Service
from acd.services import ServiceCatalog

SKILL, OVERFLOW, INTERPRETER = 0, 1, 2


@dataclass(frozen=True, slots=True)
class StagePlan:
    after_s: float
    min_proficiency: int
    skill: str
    kind: int  # SKILL, OVERFLOW or INTERPRETER
    korean: bool  # match Korean speakers (interpreter stage) instead of the call's language
    when_unstaffed: bool = False  # also open while nobody with the service's own skill is staffed


@dataclass(frozen=True, slots=True)
class ServicePlan:
    service: Service
    target_s: float
    per_call_s: float  # handle + wrap-up: the mean time a consultant is taken by one call
    stages: tuple[StagePlan, ...]
    pool_skills: frozenset[str]
    competitors: frozenset[str]


def _stage(service: Service, index: int) -> StagePlan:
    stage = service.stages[index]
    kind = INTERPRETER if stage.with_interpreter else (OVERFLOW if stage.via_service else SKILL)
    return StagePlan(
        stage.after_s,
        stage.min_proficiency,
        stage.via_service or service.id,
        kind,
        stage.with_interpreter,
        stage.when_unstaffed,
    )


def _pool(service: Service) -> frozenset[str]:
    via = {s.via_service for s in service.stages if s.via_service and not s.with_interpreter}
    return frozenset({service.id, *via})


def build_plans(catalog: ServiceCatalog) -> dict[str, ServicePlan]:
    pools = {sid: _pool(s) for sid, s in catalog.items()}
    return {
        sid: ServicePlan(
            service=service,
            target_s=service.target.within_s,
            per_call_s=service.handle_s + service.wrap_up_s,
            stages=tuple(_stage(service, i) for i in range(len(service.stages))),
            pool_skills=pools[sid],
            competitors=frozenset(other for other, pool in pools.items() if pool & pools[sid]),
        )
        for sid, service in catalog.items()
    }
