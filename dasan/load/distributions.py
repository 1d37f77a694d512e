"""Time distributions of a load profile, discretized for SIPp scenarios.

SIPp's ``recv`` timeouts are fixed numbers, so a distribution (talk time, patience) becomes
``k`` equally likely bins, each the distribution's quantile at the bin's middle; the scenario
picks a bin per call with chained ``chance`` branches.

Invariants:
- ``quantile_bins`` returns ``k`` non-decreasing, positive values; their mean approaches the
  distribution's mean as ``k`` grows (exactly for ``fixed``; midpoint rule otherwise).
- ``branch_chances(p)`` gives the conditional probabilities for chained SIPp ``chance``
  branches so that branch ``i`` is taken with probability ``p[i]`` (the rest falls through).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import Enum
from statistics import NormalDist

from pydantic import BaseModel, ConfigDict, Field, model_validator

MIN_SECONDS = 0.05


class Shape(Enum):
    FIXED = "fixed"
    UNIFORM = "uniform"
    EXPONENTIAL = "exponential"
    LOGNORMAL = "lognormal"


class Distribution(BaseModel):
    """Seconds: ``fixed`` (value), ``uniform`` (min, max), ``exponential`` (mean, optional
    max), ``lognormal`` (mean and sd of the seconds themselves, optional max)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dist: Shape
    value: float | None = Field(default=None, gt=0)
    min: float | None = Field(default=None, ge=0)
    max: float | None = Field(default=None, gt=0)
    mean: float | None = Field(default=None, gt=0)
    sd: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _parameters(self) -> Distribution:
        needed = {
            Shape.FIXED: ("value",),
            Shape.UNIFORM: ("min", "max"),
            Shape.EXPONENTIAL: ("mean",),
            Shape.LOGNORMAL: ("mean", "sd"),
        }[self.dist]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.dist.value} distribution needs {', '.join(missing)}")
        low, high = self.min, self.max
        if self.dist is Shape.UNIFORM and low is not None and high is not None and low > high:
            raise ValueError("uniform: min must not exceed max")
        return self

    def quantile(self, q: float) -> float:
        """The ``q`` quantile (0 < q < 1) in seconds, capped at ``max`` when given."""
        if not 0.0 < q < 1.0:
            raise ValueError(f"quantile must be inside (0, 1): {q}")
        if self.dist is Shape.FIXED:
            return float(self.value or 0.0)
        if self.dist is Shape.UNIFORM:
            low, high = float(self.min or 0.0), float(self.max or 0.0)
            return low + q * (high - low)
        if self.dist is Shape.EXPONENTIAL:
            raw = -float(self.mean or 0.0) * math.log1p(-q)
        else:
            mean, sd = float(self.mean or 0.0), float(self.sd or 0.0)
            sigma2 = math.log1p((sd / mean) ** 2)
            mu = math.log(mean) - sigma2 / 2
            raw = math.exp(NormalDist(mu, math.sqrt(sigma2)).inv_cdf(q))
        return min(raw, self.max) if self.max is not None else raw

    def nominal_mean(self) -> float:
        """The mean the profile states (before binning and capping)."""
        if self.dist is Shape.FIXED:
            return float(self.value or 0.0)
        if self.dist is Shape.UNIFORM:
            return (float(self.min or 0.0) + float(self.max or 0.0)) / 2
        return float(self.mean or 0.0)


def quantile_bins(dist: Distribution, k: int) -> tuple[float, ...]:
    """``k`` equally likely values (seconds) standing for ``dist``."""
    if k < 1:
        raise ValueError("at least one bin")
    return tuple(max(MIN_SECONDS, dist.quantile((i + 0.5) / k)) for i in range(k))


def branch_chances(probabilities: Sequence[float]) -> tuple[float, ...]:
    """Conditional chances for chained branches taken with these absolute probabilities."""
    total = sum(probabilities)
    if any(p < 0 for p in probabilities) or total > 1.0 + 1e-9:
        raise ValueError(f"probabilities must be >= 0 and sum to at most 1: {probabilities}")
    chances = []
    remaining = 1.0
    for p in probabilities:
        chances.append(0.0 if remaining <= 1e-12 else min(1.0, p / remaining))
        remaining -= p
    return tuple(chances)
