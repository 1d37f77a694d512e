"""When overload began in a run, and how many calls were held until then (pure).

Stage verdicts (``stress``) say which *rate* broke; a concurrency ramp (long calls, steady
arrivals) needs the *moment* instead: the first SIPp failure, the first few retransmissions
(a stray one is a scheduling hiccup, not overload), the first burst of slow setups (``SLOW_BURST`` calls over the limit within ``BURST_S``), or the
first call the PBX ended unserved. Everything is on the sampler's time axis (seconds).

Invariants: pure functions of their inputs; no onset means the run never overloaded, and the
concurrency held is then the most calls talking at once in the whole run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dasan.load.runner import TimelineRow

SLOW_BURST = 3
BURST_S = 2.0


@dataclass(frozen=True)
class Onset:
    t: float
    reason: str

    def as_json(self) -> dict[str, object]:
        return {"t": round(self.t, 1), "reason": self.reason}


def _first_count(rows: Sequence[TimelineRow], what: str, at_least: int) -> Onset | None:
    """The first tick by which ``what`` (cumulative) grew by ``at_least`` since the start."""
    if not rows:
        return None
    start = getattr(rows[0], what)
    for row in rows[1:]:
        grown = getattr(row, what) - start
        if grown >= at_least:
            return Onset(row.t, f"SIPp {what.replace('_', ' ')}: {grown} by then")
    return None


def _slow_setups(setups: Sequence[tuple[float, float]], limit_ms: float) -> Onset | None:
    slow = sorted(t for t, ms in setups if ms > limit_ms)
    for i in range(SLOW_BURST - 1, len(slow)):
        if slow[i] - slow[i - SLOW_BURST + 1] <= BURST_S:
            return Onset(
                slow[i], f"{SLOW_BURST} setups over {limit_ms:.0f} ms within {BURST_S:g} s"
            )
    return None


def overload_onset(
    rows: Sequence[TimelineRow],
    setups: Sequence[tuple[float, float]],
    unserved_at: Sequence[float],
    setup_limit_ms: float,
    min_retransmissions: int = 3,
) -> Onset | None:
    found = [
        _first_count(rows, "failures", 1),
        _first_count(rows, "retransmissions", min_retransmissions),
        _slow_setups(setups, setup_limit_ms),
        Onset(min(unserved_at), "first call ended unserved") if unserved_at else None,
    ]
    onsets = [o for o in found if o is not None]
    return min(onsets, key=lambda o: o.t) if onsets else None


def held_concurrency(rows: Sequence[TimelineRow], onset: Onset | None) -> int:
    """Most citizen calls talking at once before the onset (whole run without one)."""
    before = [r for r in rows if onset is None or r.t < onset.t]
    return max((r.counts.talking for r in before), default=0)
