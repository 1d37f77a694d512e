"""The one percentile definition: linear between closest ranks, None for an empty sample."""

from __future__ import annotations

import pytest

from common.stats import percentile, percentiles, summary


def test_percentiles_interpolate_and_empty_is_none() -> None:
    assert percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    assert percentile([4, 1, 3, 2], 0) == 1
    assert percentile([4, 1, 3, 2], 100) == 4
    assert percentile([5], 99) == 5
    assert percentile(list(range(101)), 99) == pytest.approx(99)
    assert percentile([], 50) is None
    assert summary([])["mean"] is None
    with pytest.raises(ValueError, match="percentile"):
        percentile([1], 101)
    with pytest.raises(ValueError, match="percentile"):
        percentile([1], -1)


def test_named_percentiles_scale_round_and_key_tenths_without_a_point() -> None:
    samples = [float(n) for n in range(1, 1001)]  # 1..1000 ns
    got = percentiles(samples, (50, 99, 99.9), scale=1e-3, digits=2, suffix="_us")
    assert got == {"p50_us": 0.5, "p99_us": pytest.approx(0.99), "p999_us": pytest.approx(1.0)}
    assert percentiles([], (50, 99)) == {"p50": None, "p99": None}


def test_summary_keys_in_report_order() -> None:
    figures = summary([3.0, 1.0, 2.0], digits=1)
    assert list(figures) == ["count", "mean", "p50", "p90", "p99", "max"]
    assert figures["count"] == 3
    assert figures["p50"] == 2.0
    assert figures["p90"] == pytest.approx(2.8)
    assert figures["max"] == 3.0
