"""Stress ramps: judging each rate step and saying where and why the system broke (pure).

A stage *holds* when SIPp saw no more failures than allowed, retransmissions stayed under
their share of the stage's calls, INVITE->200 p99 stayed under its limit and almost every
call the PBX got was served. The first stage that does not hold is where it broke; the
resources sampled during that stage say why.

Invariants:
- ``judge`` returns the reasons a stage broke (empty: it held); it never looks at other stages.
- ``limiter`` names the resource nearest to saturation from the stage's samples, with numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dasan.load.profile import StressPlan

CPU_SATURATED_PCT = 90.0
IOWAIT_HIGH_PCT = 10.0


@dataclass(frozen=True)
class StageFigures:
    index: int
    rate: float
    placed: int
    failures: int
    retransmissions: int
    setup_ms_p50: float | None
    setup_ms_p99: float | None
    offered: int
    answered: int
    unserved: int
    resources: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "stage": self.index,
            "rate": self.rate,
            "placed": self.placed,
            "failures": self.failures,
            "retransmissions": self.retransmissions,
            "setup_ms_p50": self.setup_ms_p50,
            "setup_ms_p99": self.setup_ms_p99,
            "offered": self.offered,
            "answered": self.answered,
            "unserved": self.unserved,
            "resources": dict(self.resources),
        }


def judge(stage: StageFigures, plan: StressPlan) -> tuple[str, ...]:
    reasons = []
    if stage.failures > plan.max_failures:
        reasons.append(f"{stage.failures} SIPp failed calls (limit {plan.max_failures})")
    retransmitted = stage.retransmissions >= plan.min_retransmissions
    if (
        retransmitted
        and stage.retransmissions / max(1, stage.placed) > plan.max_retransmission_share
    ):
        reasons.append(
            f"{stage.retransmissions} retransmissions for {stage.placed} calls "
            f"(limit {plan.max_retransmission_share:.1%} of calls)"
        )
    if stage.setup_ms_p99 is not None and stage.setup_ms_p99 > plan.max_setup_p99_ms:
        reasons.append(f"setup p99 {stage.setup_ms_p99:.0f} ms > {plan.max_setup_p99_ms:.0f} ms")
    if stage.offered and stage.unserved / stage.offered > plan.max_unserved_share:
        reasons.append(
            f"{stage.unserved} of {stage.offered} calls unserved "
            f"(limit {plan.max_unserved_share:.0%})"
        )
    return tuple(reasons)


def _cpu(resources: Mapping[str, Any], name: str) -> float:
    group = resources.get(name) or {}
    value = group.get("cpu_pct_mean") if isinstance(group, Mapping) else None
    return float(value) if isinstance(value, int | float) else 0.0


def limiter(resources: Mapping[str, Any]) -> str:
    """Which resource ran out, with the numbers that show it."""
    host = resources.get("host") or {}
    cores = int(host.get("cores") or 1)
    busy = float(host.get("busy_pct_mean") or 0.0)
    iowait = float(host.get("iowait_pct_mean") or 0.0)
    users = {name: _cpu(resources, name) for name in ("asterisk", "engine", "sipp")}
    top = max(users, key=lambda name: users[name])
    shares = ", ".join(f"{name} {pct / 100:.2f}" for name, pct in users.items())
    usage = f"cores used: {shares} of {cores} (host {busy:.0f}% busy, iowait {iowait:.1f}%)"
    if iowait >= IOWAIT_HIGH_PCT:
        return f"disk: iowait {iowait:.1f}% ({usage})"
    if busy >= CPU_SATURATED_PCT:
        return f"CPU: host saturated, {top} the largest user ({usage})"
    return f"no resource saturated ({usage})"


def verdict(stages: Sequence[StageFigures], plan: StressPlan) -> dict[str, Any]:
    """Held rate, the rate and reasons it broke at, and the limiting resource there."""
    held: StageFigures | None = None
    for stage in stages:
        reasons = judge(stage, plan)
        if reasons:
            return {
                "held_rate": held.rate if held else None,
                "broke_at_rate": stage.rate,
                "broke_at_stage": stage.index,
                "reasons": list(reasons),
                "limiter": limiter(stage.resources),
            }
        held = stage
    return {
        "held_rate": held.rate if held else None,
        "broke_at_rate": None,
        "broke_at_stage": None,
        "reasons": [],
        "limiter": limiter(held.resources) if held else "",
    }
