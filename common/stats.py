"""Small statistics of samples: percentiles and summaries, one definition for the whole tree.

Invariants: pure functions of their inputs; an empty sample gives ``None`` (JSON null), never
a made-up zero; percentiles interpolate linearly between closest ranks (so p50 of an even
sample is the mean of its middle two, and p100 is the maximum).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


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


def percentiles(
    values: Sequence[float],
    qs: Iterable[float] = (50, 90, 99),
    *,
    scale: float = 1.0,
    digits: int = 3,
    suffix: str = "",
) -> dict[str, float | None]:
    """``{"p50": ..., "p99.9" -> "p999": ...}`` of ``values`` times ``scale``, rounded.

    The key of ``q`` is ``p`` and its digits without the point (99.9 -> ``p999``), then
    ``suffix`` (a unit such as ``_us``); an empty sample gives None for every key.
    """
    out: dict[str, float | None] = {}
    for q in qs:
        value = percentile(values, q)
        key = "p" + f"{q:g}".replace(".", "") + suffix
        out[key] = rounded(None if value is None else value * scale, digits)
    return out


def summary(values: Sequence[float], digits: int = 3) -> dict[str, float | int | None]:
    """count, mean, p50, p90, p99 and max of a sample (None where empty)."""
    return {
        "count": len(values),
        "mean": rounded(mean(values), digits),
        **percentiles(values, digits=digits),
        "max": rounded(max(values), digits) if values else None,
    }
