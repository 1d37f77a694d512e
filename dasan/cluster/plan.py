"""How many PBX nodes a center needs: Little's law over the phases of a call (pure).

A call spends a mean time in each phase (IVR prompts, speech menu, waiting with music,
talking); at a peak arrival rate of ``calls_per_s`` the calls in a phase at once are
``calls_per_s x seconds`` (Little's law), and each costs the PBX a measured amount of CPU per
call-second in that phase (``benchmarks/pbx_phases.py``). The sum is the Asterisk cores the
peak needs; the engine beside each Asterisk adds ``engine_share`` of that; a node offers
``cores_per_node x utilisation``; the nodes needed are rounded up, plus ``spare`` nodes so the
center survives losing that many (N+1 by default).

Invariants:
- Pure: inputs in, a ``Plan`` out; no file, clock or network here (the CLI reads defaults).
- Every input is validated: a negative rate or time, a phase with no cost, a utilisation
  outside (0, 1] or a node without cores raises ``PlanError`` naming the input.
- At least one node whenever any call is offered; with no traffic, zero nodes plus the spares.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

PHASES = ("ivr", "speech_menu", "waiting", "talking")
# The engine's CPU (own + Opus archiving children) over Asterisk's for seed-length calls, same
# run (benchmarks/results/pbx_capacity.json): each node runs its engine beside its Asterisk.
ENGINE_SHARE = 1.02

# The seed's peak hour (shared/DESIGN.md section 3, load profile ``seed-peak``): 1.15 calls/s,
# about 45 s in the IVR (here 30 s of prompts and 15 s of speech menus), a short wait (Seoul
# answers 97 % within 15 s: 15 s is the bound taken) and 3 minutes of talk.
SEED_CALLS_PER_S = 1.15
SEED_SECONDS: Mapping[str, float] = {
    "ivr": 30.0,
    "speech_menu": 15.0,
    "waiting": 15.0,
    "talking": 180.0,
}


class PlanError(ValueError):
    """An input of the capacity model is out of range; the message names it."""


@dataclass(frozen=True)
class PhaseLoad:
    phase: str
    seconds: float  # mean seconds a call spends in the phase
    ms_per_call_s: float  # Asterisk CPU per call-second in the phase
    concurrent: float  # calls in the phase at once (Little's law)
    cores: float  # Asterisk cores those calls use

    def as_json(self) -> dict[str, float | str]:
        return {
            "phase": self.phase,
            "seconds": self.seconds,
            "ms_per_call_s": self.ms_per_call_s,
            "concurrent": round(self.concurrent, 1),
            "cores": round(self.cores, 3),
        }


@dataclass(frozen=True)
class Plan:
    calls_per_s: float
    phases: tuple[PhaseLoad, ...]
    engine_share: float
    cores_per_node: float
    utilisation: float
    spare: int
    asterisk_cores: float  # the peak's Asterisk CPU, in cores
    cores_needed: float  # Asterisk + engine, at the planned utilisation
    nodes: int  # nodes carrying the peak
    total_nodes: int  # with the spares

    @property
    def concurrent(self) -> float:
        return sum(p.concurrent for p in self.phases)

    def per_node(self, nodes: int | None = None) -> dict[str, float]:
        """What each of ``nodes`` nodes (default: the nodes carrying the peak) carries."""
        n = nodes if nodes is not None else self.nodes
        if n <= 0:
            raise PlanError("nodes: must be at least 1")
        return {
            "concurrent": round(self.concurrent / n, 1),
            "asterisk_cores": round(self.asterisk_cores / n, 3),
            "node_cores": round(self.asterisk_cores * (1 + self.engine_share) / n, 3),
        }

    def as_json(self) -> dict[str, object]:
        return {
            "calls_per_s": self.calls_per_s,
            "phases": [p.as_json() for p in self.phases],
            "concurrent": round(self.concurrent, 1),
            "asterisk_cores": round(self.asterisk_cores, 3),
            "engine_share": self.engine_share,
            "cores_per_node": self.cores_per_node,
            "utilisation": self.utilisation,
            "cores_needed": round(self.cores_needed, 3),
            "nodes": self.nodes,
            "spare": self.spare,
            "total_nodes": self.total_nodes,
            "per_node": self.per_node() if self.nodes else None,
        }


def _non_negative(name: str, value: float) -> float:
    if not math.isfinite(value) or value < 0:
        raise PlanError(f"{name}: must be a number >= 0, got {value!r}")
    return float(value)


def plan(
    calls_per_s: float,
    seconds: Mapping[str, float],
    costs_ms: Mapping[str, float],
    *,
    cores_per_node: float = 2.0,
    utilisation: float = 0.7,
    spare: int = 1,
    engine_share: float = 0.0,
) -> Plan:
    """The nodes a peak of ``calls_per_s`` needs, each call spending ``seconds[phase]`` in each
    phase at ``costs_ms[phase]`` ms of Asterisk CPU per call-second."""
    rate = _non_negative("calls_per_s", calls_per_s)
    share = _non_negative("engine_share", engine_share)
    if not math.isfinite(cores_per_node) or cores_per_node <= 0:
        raise PlanError(f"cores_per_node: must be > 0, got {cores_per_node!r}")
    if not math.isfinite(utilisation) or not 0 < utilisation <= 1:
        raise PlanError(f"utilisation: must be in (0, 1], got {utilisation!r}")
    if spare < 0:
        raise PlanError(f"spare: must be >= 0, got {spare!r}")
    unknown = sorted(set(seconds) - set(PHASES))
    if unknown:
        raise PlanError(
            f"seconds: unknown phase {', '.join(unknown)} (phases: {', '.join(PHASES)})"
        )
    loads = []
    for phase in PHASES:
        held = _non_negative(f"seconds.{phase}", seconds.get(phase, 0.0))
        if held == 0:
            continue
        if phase not in costs_ms:
            raise PlanError(f"costs.{phase}: no measured cost for a phase calls spend time in")
        cost = _non_negative(f"costs.{phase}", costs_ms[phase])
        concurrent = rate * held
        loads.append(PhaseLoad(phase, held, cost, concurrent, concurrent * cost / 1000))
    asterisk = sum(p.cores for p in loads)
    needed = asterisk * (1 + share) / utilisation
    nodes = math.ceil(needed / cores_per_node - 1e-9) if needed > 0 else 0
    if rate > 0 and any(p.concurrent > 0 for p in loads):
        nodes = max(nodes, 1)
    return Plan(
        calls_per_s=rate,
        phases=tuple(loads),
        engine_share=share,
        cores_per_node=float(cores_per_node),
        utilisation=float(utilisation),
        spare=spare,
        asterisk_cores=asterisk,
        cores_needed=needed,
        nodes=nodes,
        total_nodes=nodes + spare,
    )


def calls_per_core(ms_per_call_s: float, utilisation: float = 1.0) -> int:
    """Calls one core holds in a phase costing ``ms_per_call_s``, at ``utilisation``."""
    if ms_per_call_s <= 0:
        raise PlanError(f"ms_per_call_s: must be > 0, got {ms_per_call_s!r}")
    return math.floor(utilisation * 1000 / ms_per_call_s)


def costs_from_results(data: Mapping[str, object]) -> dict[str, float]:
    """The per-phase costs of a ``pbx_phases`` results file (its ``model_costs``)."""
    costs = data.get("model_costs")
    if not isinstance(costs, Mapping):
        raise PlanError("the results file has no model_costs (not a pbx_phases result?)")
    out = {}
    for phase, value in costs.items():
        if isinstance(value, int | float) and phase in PHASES:
            out[str(phase)] = float(value)
    return out
