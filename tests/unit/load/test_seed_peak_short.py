"""seed-peak-short is seed-peak in 3 minutes: same rate, mix, keys and abandon share."""

from __future__ import annotations

import pytest

from dasan.load.profile import load_profile


def test_seed_peak_short_keeps_the_seed_peak_traffic() -> None:
    peak, short = load_profile("seed-peak"), load_profile("seed-peak-short")
    assert short.rate == peak.rate
    assert short.mix == peak.mix
    assert short.abandon.share == peak.abandon.share
    assert short.duration_s == pytest.approx(180)
    assert short.planned_calls() == pytest.approx(peak.rate * 180, abs=1)


def test_seed_peak_short_bounds_fit_ci() -> None:
    short = load_profile("seed-peak-short")
    # Placing, then the longest call (the no-input slow path plus talk) drains in time.
    assert short.talk_s.max is not None and short.talk_s.max <= 90
    assert short.drain_s + short.duration_s <= 600
