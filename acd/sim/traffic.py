"""Synthetic traffic for a seed day of the 120 contact center.

Invariants:
- :func:`generate` is deterministic for a (profile, seed) pair and returns exactly
  ``profile.calls`` calls sorted by arrival time, each with every random draw the simulator
  will need (handle time, patience, ring delay, ...), so every policy sees the same traffic.
- Arrivals follow the piecewise-linear daily curve (rate at each hh:30), peaks around 10:00
  and 23:00; given the day's count they are the order statistics of that density.
- Foreign-language, sign-language and interpreter calls arrive only within their service
  hours (09:00-22:00); handle times are lognormal with the service's mean ``handle_s``;
  patience is exponential (the Erlang A assumption).
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from dataclasses import dataclass, field, replace
from itertools import accumulate

from acd.model import Language, Priority
from acd.services import ServiceCatalog

DAY_S = 86_400.0
SEED_CALLS = 35_359

# Relative arrival rate at hh:30 of each hour: a morning peak around 10:00, a lunch dip, an
# afternoon plateau, and the late-evening peak around 23:00 (taxis, noise, night services).
SEED_CURVE = (
    2.2, 1.4, 0.9, 0.6, 0.5, 0.6, 1.0, 2.0, 4.6, 8.0, 9.2, 8.4,
    6.2, 7.4, 7.8, 7.4, 6.9, 5.9, 4.3, 3.6, 3.5, 3.9, 4.6, 5.2,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Surge:
    """Between ``start_h`` and ``end_h`` a Korean call is of ``service`` with ``share``."""

    service: str
    start_h: float
    end_h: float
    share: float


@dataclass(frozen=True, slots=True)
class TrafficProfile:
    calls: int = SEED_CALLS
    curve: tuple[float, ...] = SEED_CURVE
    # Share of the day's calls per foreign language (the rest is Korean).
    foreign: tuple[tuple[Language, float], ...] = (
        (Language.EN, 0.005),
        (Language.ZH, 0.005),
        (Language.JA, 0.002),
        (Language.VI, 0.0025),
        (Language.MN, 0.001),
    )
    # Of a foreign language's calls, this share are interpreter requests (interp_<lang>).
    interpreter_share: float = 0.25
    foreign_hours: tuple[float, float] = (9.0, 22.0)
    korean: tuple[tuple[str, float], ...] = (
        ("general", 0.50),
        ("transport", 0.16),
        ("documents", 0.10),
        ("water_tax", 0.09),
        ("welfare", 0.09),
        ("care129", 0.06),
    )
    sign_share: float = 0.003  # of the day's calls, within foreign_hours
    safety_return_share: float = 0.004  # of general calls: priority SAFETY_RETURN
    handle_cv: float = 1.0
    patience_mean_s: float = 180.0
    ring_delay_s: tuple[float, float] = (1.0, 3.0)
    no_answer_prob: float = 0.003
    callback_accept_prob: float = 0.5
    callback_answer_prob: float = 0.9
    surges: tuple[Surge, ...] = field(default_factory=tuple)

    def scaled(self, calls: int) -> TrafficProfile:
        return replace(self, calls=calls)


@dataclass(frozen=True, slots=True)
class SimCall:
    idx: int
    call_id: str
    arrival: float
    language: Language
    service: str
    priority: Priority
    handle_s: float
    patience_s: float
    ring_delay_s: float
    no_answer: bool
    accepts_callback: bool
    answers_callback: bool


def rate_at(curve: tuple[float, ...], t: float) -> float:
    """Relative rate at time of day ``t`` (linear between hh:30 points, wrapping midnight)."""
    hours = len(curve)
    x = (t / 3600.0 - 0.5) % hours
    i = int(x)
    frac = x - i
    return curve[i] * (1 - frac) + curve[(i + 1) % hours] * frac


def _minute_weights(curve: tuple[float, ...]) -> list[float]:
    return [rate_at(curve, m * 60.0 + 30.0) for m in range(1440)]


def _sample_times(rng: random.Random, weights: list[float], count: int) -> list[float]:
    cumulative = list(accumulate(weights))
    total = cumulative[-1]
    times = []
    for _ in range(count):
        minute = bisect_right(cumulative, rng.random() * total)
        times.append(min(minute, 1439) * 60.0 + rng.random() * 60.0)
    return sorted(times)


def _lognormal(rng: random.Random, mean: float, cv: float) -> float:
    sigma = math.sqrt(math.log(1 + cv * cv))
    return rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)


def _pick(rng: random.Random, options: tuple[tuple[str, float], ...]) -> str:
    x = rng.random() * sum(w for _, w in options)
    for name, weight in options:
        x -= weight
        if x < 0:
            return name
    return options[-1][0]


def _korean_service(profile: TrafficProfile, rng: random.Random, t: float) -> str:
    hour = t / 3600.0
    for surge in profile.surges:
        if surge.start_h <= hour < surge.end_h and rng.random() < surge.share:
            return surge.service
    return _pick(rng, profile.korean)


def _in_hours(profile: TrafficProfile, t: float) -> bool:
    return profile.foreign_hours[0] * 3600 <= t < profile.foreign_hours[1] * 3600


def _kind(
    profile: TrafficProfile, rng: random.Random, t: float, scale: float
) -> tuple[Language, str]:
    """Language and service of a call arriving at ``t``; ``scale`` lifts in-hours shares so
    the day's totals match although these calls only arrive within service hours."""
    if _in_hours(profile, t):
        x = rng.random()
        for language, share in profile.foreign:
            x -= share * scale
            if x < 0:
                kind = "interp" if rng.random() < profile.interpreter_share else "foreign"
                return language, f"{kind}_{language.value}"
        if x < profile.sign_share * scale:
            return Language.KO, "sign_language"
    return Language.KO, _korean_service(profile, rng, t)


def generate(profile: TrafficProfile, catalog: ServiceCatalog, seed: int) -> list[SimCall]:
    rng = random.Random(seed)
    weights = _minute_weights(profile.curve)
    times = _sample_times(rng, weights, profile.calls)
    in_hours = sum(w for m, w in enumerate(weights) if _in_hours(profile, m * 60.0 + 30.0))
    scale = sum(weights) / in_hours
    calls = []
    for idx, t in enumerate(times):
        language, service = _kind(profile, rng, t, scale)
        priority = Priority.NORMAL
        if service == "general" and rng.random() < profile.safety_return_share:
            priority = Priority.SAFETY_RETURN
        calls.append(
            SimCall(
                idx=idx,
                call_id=f"s{seed}-{idx:06d}",
                arrival=t,
                language=language,
                service=service,
                priority=priority,
                handle_s=max(10.0, _lognormal(rng, catalog[service].handle_s, profile.handle_cv)),
                patience_s=rng.expovariate(1.0 / profile.patience_mean_s),
                ring_delay_s=rng.uniform(*profile.ring_delay_s),
                no_answer=rng.random() < profile.no_answer_prob,
                accepts_callback=rng.random() < profile.callback_accept_prob,
                answers_callback=rng.random() < profile.callback_answer_prob,
            )
        )
    return calls
