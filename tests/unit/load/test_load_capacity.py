"""Overload onset and concurrency held, on the sampler's time axis."""

from __future__ import annotations

from dasan.load.capacity import held_concurrency, overload_onset
from dasan.load.runner import TimelineRow
from dasan.load.tracker import Counts


def _rows(
    talking: list[int], failures: list[int] | None = None, retrans: list[int] | None = None
) -> list[TimelineRow]:
    n = len(talking)
    failures = failures or [0] * n
    retrans = retrans or [0] * n
    return [
        TimelineRow(float(i + 1), i, Counts(talking=talking[i]), failures[i], retrans[i], {}, {})
        for i in range(n)
    ]


def test_a_quiet_run_has_no_onset_and_holds_its_peak() -> None:
    rows = _rows([10, 20, 30, 25])
    onset = overload_onset(rows, [(1.0, 4.0), (2.0, 9.0)], [], 500)
    assert onset is None
    assert held_concurrency(rows, onset) == 30


def test_the_earliest_signal_wins() -> None:
    rows = _rows([10, 20, 30, 40, 50], retrans=[0, 1, 1, 3, 9], failures=[0, 0, 0, 0, 1])
    onset = overload_onset(rows, [], [], 500)
    assert onset is not None and onset.t == 4.0 and "retransmissions" in onset.reason
    assert held_concurrency(rows, onset) == 30
    unserved_first = overload_onset(rows, [], [2.5], 500)
    assert unserved_first is not None and unserved_first.t == 2.5
    assert held_concurrency(rows, unserved_first) == 20


def test_one_slow_setup_is_noise_a_burst_is_overload() -> None:
    rows = _rows([5, 6, 7, 8, 9, 10])
    lone = [(1.0, 900.0), (5.0, 4.0)]
    assert overload_onset(rows, lone, [], 500) is None
    burst = [(3.0, 800.0), (3.5, 700.0), (4.2, 950.0), (6.0, 4.0)]
    onset = overload_onset(rows, burst, [], 500)
    assert onset is not None and onset.t == 4.2 and "setups" in onset.reason
    assert onset.as_json() == {"t": 4.2, "reason": onset.reason}
