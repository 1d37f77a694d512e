"""Small statistics for load reports: percentiles and summaries of samples.

Invariants: pure functions of their inputs; an empty sample gives ``None`` (JSON null), never
a made-up zero; percentiles interpolate linearly between closest ranks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) of ``values``, or None when there are none."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100: {q}")
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    if low == high:
        return float(ordered[low])
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def summary(values: Sequence[float], digits: int = 3) -> dict[str, float | int | None]:
    """count, mean, p50, p90, p99 and max of a sample (None where empty)."""
    return {
        "count": len(values),
        "mean": rounded(mean(values), digits),
        "p50": rounded(percentile(values, 50), digits),
        "p90": rounded(percentile(values, 90), digits),
        "p99": rounded(percentile(values, 99), digits),
        "max": rounded(max(values), digits) if values else None,
    }
