"""Profiles and distributions: shipped data is valid, splits are exact, errors are clear."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dasan.load.distributions import Distribution, Shape, branch_chances, quantile_bins
from dasan.load.profile import (
    CallType,
    ProfileError,
    StressPlan,
    load_profile,
    profile_names,
    split_calls,
)


def test_the_three_shipped_profiles_load() -> None:
    assert {"smoke", "seed-peak", "stress"} <= set(profile_names())
    for name in profile_names():
        profile = load_profile(name)
        assert profile.name == name
        assert sum(t.calls for t in profile.plan()) == profile.planned_calls()


def test_seed_peak_is_the_seed_figures() -> None:
    p = load_profile("seed-peak")
    assert p.rate == pytest.approx(1.15)
    assert p.talk_s.nominal_mean() == pytest.approx(180)
    ivr_keys = [sum(k.after_s for k in t.keys) for t in p.mix if t.keys]
    # Keys come after the prompts they answer (the welcome ~3 s) and inside the 20 s budget.
    assert min(ivr_keys) >= 3 and max(ivr_keys) <= 20


def test_smoke_fits_ci() -> None:
    p = load_profile("smoke")
    assert p.duration_s <= 60
    assert p.effective_rate <= 3
    assert p.stress is None


def test_stress_ramps() -> None:
    p = load_profile("stress")
    assert p.stress is not None
    rates = p.stress.rates()
    assert rates[0] == p.stress.start_rate
    assert all(b > a for a, b in itertools.pairwise(rates))


def test_bounds_override_and_planned_calls() -> None:
    p = load_profile("smoke").bounded(calls=7, duration_s=100, rate=2.0)
    assert (p.calls, p.duration_s, p.rate) == (7, 100, 2.0)
    assert p.planned_calls() == 7
    assert load_profile("smoke").bounded(duration_s=4, rate=1.0).planned_calls() == 4
    assert load_profile("smoke").bounded(scale=2.0).effective_rate == pytest.approx(1.0)


def test_bad_override_is_a_profile_error() -> None:
    with pytest.raises(ProfileError, match="calls"):
        load_profile("smoke").bounded(calls=0)


def test_unknown_profile_names_the_shipped_ones() -> None:
    with pytest.raises(ProfileError, match="smoke"):
        load_profile("no-such-profile")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (
            "name: x\nrate: 0\ncalls: 1\nduration_s: 1\ntalk_s: {dist: fixed, value: 1}\nmix: [{name: a, share: 1}]\n",
            "rate",
        ),
        (
            "name: x\nrate: 1\ncalls: 1\nduration_s: 1\ntalk_s: {dist: uniform, min: 1}\nmix: [{name: a, share: 1}]\n",
            "max",
        ),
        (
            "name: x\nrate: 1\ncalls: 1\nduration_s: 1\ntalk_s: {dist: fixed, value: 1}\nmix: [{name: a, share: 1, keys: [{digit: '12', after_s: 1}]}]\n",
            "DTMF",
        ),
        (
            "name: x\nrate: 1\ncalls: 1\nduration_s: 1\ntalk_s: {dist: fixed, value: 1}\nmix: [{name: a, share: 1, language: fr}]\n",
            "language",
        ),
        (
            "name: x\nrate: 1\ncalls: 1\nduration_s: 1\ntalk_s: {dist: fixed, value: 1}\nmix: [{name: a, share: 0}]\n",
            "shares",
        ),
        (
            "name: x\nrate: 1\ncalls: 1\nduration_s: 1\ntalk_s: {dist: fixed, value: 1}\nmix: []\nbogus: 1\n",
            "bogus",
        ),
        ("- just\n- a list\n", "mapping"),
        ("name: [unclosed\n", "YAML"),
    ],
)
def test_invalid_profile_files_say_what_is_wrong(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError, match=field):
        load_profile(str(path))


def test_missing_profile_file() -> None:
    with pytest.raises(ProfileError, match="no such profile file"):
        load_profile("/nonexistent/profile.yaml")


@given(
    shares=st.lists(st.floats(min_value=0, max_value=10), min_size=1, max_size=12).filter(
        lambda xs: sum(xs) > 0.01
    ),
    total=st.integers(min_value=1, max_value=5000),
)
def test_split_calls_is_exact(shares: list[float], total: int) -> None:
    mix = tuple(CallType(name=f"t{i}", share=s) for i, s in enumerate(shares))
    plans = split_calls(mix, total, 3.0)
    assert sum(p.calls for p in plans) == total
    assert sum(p.rate for p in plans) == pytest.approx(
        3.0 * sum(p.call_type.share for p in plans) / sum(shares)
    )
    for plan in plans:
        exact = total * plan.call_type.share / sum(shares)
        assert abs(plan.calls - exact) < 1 + 1e-9


def test_stress_plan_with_no_step_keeps_the_rate() -> None:
    plan = StressPlan(start_rate=10, step_rate=0, max_rate=10, stage_s=5, max_stages=4)
    assert plan.rates() == (10, 10, 10, 10)
    capped = StressPlan(start_rate=10, step_rate=10, max_rate=1000, stage_s=5, max_stages=3)
    assert capped.rates() == (10, 20, 30)


@pytest.mark.parametrize(
    "dist",
    [
        Distribution(dist=Shape.FIXED, value=3),
        Distribution(dist=Shape.UNIFORM, min=2, max=6),
        Distribution(dist=Shape.EXPONENTIAL, mean=60),
        Distribution(dist=Shape.LOGNORMAL, mean=180, sd=120),
    ],
)
def test_bins_approach_the_mean(dist: Distribution) -> None:
    bins = quantile_bins(dist, 64)
    assert list(bins) == sorted(bins)
    assert sum(bins) / len(bins) == pytest.approx(dist.nominal_mean(), rel=0.05)


def test_max_caps_the_long_tail() -> None:
    dist = Distribution(dist=Shape.EXPONENTIAL, mean=60, max=100)
    assert max(quantile_bins(dist, 16)) == 100


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"dist": "uniform", "min": 5, "max": 1}, "min"),
        ({"dist": "lognormal", "mean": 5}, "sd"),
        ({"dist": "gamma", "mean": 5}, "dist"),
    ],
)
def test_bad_distributions(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Distribution.model_validate(fields)


def test_quantile_outside_the_open_interval() -> None:
    with pytest.raises(ValueError, match="quantile"):
        Distribution(dist=Shape.FIXED, value=1).quantile(1.0)


@given(st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=10))
def test_chained_chances_give_the_absolute_probabilities(raw: list[float]) -> None:
    total = sum(raw)
    probabilities = [p / total * 0.999 for p in raw] if total > 1 else raw
    chances = branch_chances(probabilities)
    remaining = 1.0
    for p, c in zip(probabilities, chances, strict=True):
        assert 0 <= c <= 1
        if remaining > 1e-9:
            assert remaining * c == pytest.approx(p, abs=1e-9)
        remaining *= 1 - c


def test_chances_reject_more_than_certainty() -> None:
    with pytest.raises(ValueError, match="sum"):
        branch_chances([0.7, 0.7])
    assert math.isclose(branch_chances([0.25] * 4)[-1], 1.0)
