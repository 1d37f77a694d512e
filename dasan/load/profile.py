"""Load profiles: traffic as data (YAML in ``dasan/load/profiles/``), validated once.

A profile says how fast citizens call, what they press in the IVR (one *call type* per
language/service choice, with its share), how long consultants talk, who hangs up while
waiting, and the bounds of the run. ``stress`` profiles add a rate ramp.

Invariants:
- A loaded profile is valid: shares are non-negative with a positive sum, keys are DTMF
  digits, languages are ISO 639-1 codes Dasan serves, bounds are positive.
- ``plan()`` splits the bounded number of calls over the call types by largest remainder,
  so the per-type counts add up to exactly ``planned_calls()``.
- Overrides (``bounded``) return a new profile; a profile is never mutated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dasan.config import LANGUAGES
from dasan.load.distributions import Distribution, Shape

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"


class ProfileError(ValueError):
    """A profile cannot be found or is invalid; the message names the file and the field."""


class Key(BaseModel):
    """A key press ``after_s`` seconds after the previous one (or after the answer)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    digit: str
    after_s: float = Field(gt=0, le=600)

    @field_validator("digit")
    @classmethod
    def _dtmf(cls, value: str) -> str:
        if len(value) != 1 or value not in "0123456789*#":
            raise ValueError(f"not a DTMF digit: {value!r}")
        return value


class CallType(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    share: float = Field(ge=0)
    language: str = "ko"
    service: str | None = None
    keys: tuple[Key, ...] = ()
    # None: the profile's DTMF mode.
    dtmf: Literal["rfc2833", "info"] | None = None

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
        return value


class Abandon(BaseModel):
    """``share`` of citizens hang up ``patience_s`` after their last key unless answered."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    share: float = Field(default=0.0, ge=0, le=1)
    patience_s: Distribution = Distribution(dist=Shape.EXPONENTIAL, mean=60.0)


class StressPlan(BaseModel):
    """Ramp: ``start_rate``, then ``+step_rate`` every ``stage_s`` up to ``max_rate`` (at most
    ``max_stages`` stages; a step of 0 keeps the rate, so concurrency grows with long calls).
    A stage breaks on SIPp failures, retransmissions, setup times or unserved calls beyond
    these limits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start_rate: float = Field(gt=0)
    step_rate: float = Field(ge=0)
    max_rate: float = Field(gt=0)
    stage_s: float = Field(gt=0)
    max_stages: int = Field(default=100, ge=1, le=1000)
    max_failures: int = Field(default=0, ge=0)
    max_retransmission_share: float = Field(default=0.01, ge=0)
    # A stray retransmission or two (a scheduling hiccup on a shared host) is not overload.
    min_retransmissions: int = Field(default=3, ge=1)
    max_setup_p99_ms: float = Field(default=1000.0, gt=0)
    max_unserved_share: float = Field(default=0.02, ge=0, le=1)

    def rates(self) -> tuple[float, ...]:
        if self.step_rate == 0:
            return (self.start_rate,) * self.max_stages
        count = math.floor((self.max_rate - self.start_rate) / self.step_rate + 1e-9) + 1
        count = max(1, min(count, self.max_stages))
        return tuple(round(self.start_rate + i * self.step_rate, 6) for i in range(count))


class Profile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str = ""
    service: str = Field(default="120", pattern=r"^[0-9A-Za-z*#+]+$")
    rate: float = Field(gt=0, description="new calls per second (all call types)")
    scale: float = Field(default=1.0, gt=0, description="multiplies the rate")
    calls: int = Field(ge=1, description="at most this many calls are placed")
    duration_s: float = Field(gt=0, description="calls are placed for at most this long")
    drain_s: float = Field(
        default=60.0, ge=0, description="time for calls to end (at least the longest call)"
    )
    service_level_s: float = Field(default=20.0, gt=0)
    ring_s: float = Field(default=0.5, ge=0)
    talk_s: Distribution
    citizen_timeout_s: float = Field(default=900.0, gt=0)
    abandon: Abandon = Abandon()
    dtmf: Literal["rfc2833", "info"] = "rfc2833"
    bins: int = Field(default=8, ge=1, le=32)
    audit_wait_s: float = Field(default=60.0, ge=0)
    mix: tuple[CallType, ...] = Field(min_length=1)
    stress: StressPlan | None = None

    @field_validator("mix")
    @classmethod
    def _shares(cls, value: tuple[CallType, ...]) -> tuple[CallType, ...]:
        if sum(t.share for t in value) <= 0:
            raise ValueError("the call types' shares must add up to more than 0")
        names = [t.name for t in value]
        if len(set(names)) != len(names):
            raise ValueError("call type names must be unique")
        return value

    @property
    def effective_rate(self) -> float:
        return self.rate * self.scale

    def bounded(
        self,
        calls: int | None = None,
        duration_s: float | None = None,
        rate: float | None = None,
        scale: float | None = None,
    ) -> Profile:
        """A copy with the given bounds replaced (``None`` keeps the profile's)."""
        update: dict[str, object] = {}
        for key, value in (("calls", calls), ("duration_s", duration_s), ("rate", rate)):
            if value is not None:
                update[key] = value
        if scale is not None:
            update["scale"] = scale
        try:
            return Profile.model_validate({**self.model_dump(), **update})
        except ValidationError as exc:
            raise ProfileError(_problems(self.name, exc)) from exc

    def longest_call_s(self) -> float:
        """The longest a citizen can stay: its keys, then at most ``citizen_timeout_s``."""
        keys = max((sum(k.after_s for k in t.keys) for t in self.mix), default=0.0)
        return keys + self.citizen_timeout_s + 15.0

    def planned_calls(self) -> int:
        by_time = math.ceil(self.effective_rate * self.duration_s - 1e-9)
        return max(1, min(self.calls, by_time))

    def plan(self) -> tuple[TypePlan, ...]:
        """Calls and rate per call type (types with no call are left out)."""
        return split_calls(self.mix, self.planned_calls(), self.effective_rate)


@dataclass(frozen=True)
class TypePlan:
    call_type: CallType
    calls: int
    rate: float


def split_calls(mix: tuple[CallType, ...], total: int, rate: float) -> tuple[TypePlan, ...]:
    weight = sum(t.share for t in mix)
    exact = [total * t.share / weight for t in mix]
    counts = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(mix)), key=lambda i: (counts[i] - exact[i], i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return tuple(
        TypePlan(t, n, rate * t.share / weight) for t, n in zip(mix, counts, strict=True) if n > 0
    )


def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def load_profile(name_or_path: str) -> Profile:
    """A shipped profile by name (``smoke``, ``seed-peak``, ``stress``) or a YAML file."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PROFILES_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            raise ProfileError(
                f"no profile {name_or_path!r}; shipped: {', '.join(profile_names())}"
            )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ProfileError(f"{path}: no such profile file") from exc
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a profile is a mapping of settings")
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(_problems(str(path), exc)) from exc


def _problems(where: str, exc: ValidationError) -> str:
    details = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors()
    )
    return f"{where}: invalid profile: {details}"
