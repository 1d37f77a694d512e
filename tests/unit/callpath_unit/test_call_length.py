"""A call's length comes from the PBX's answer time and the monotonic clock: a step of the
engine's wall clock during the call (an hour either way) never changes it."""

from __future__ import annotations

import datetime as dt

import pytest

from callpath import callflow

ANSWERED = dt.datetime(2026, 12, 2, 3, 0, 0, tzinfo=dt.UTC)


class Clocks:
    def __init__(self, wall: dt.datetime, mono: float) -> None:
        self.wall, self.mono = wall, mono

    def advance(self, seconds: float, wall_step_s: float = 0.0) -> None:
        self.mono += seconds
        self.wall += dt.timedelta(seconds=seconds + wall_step_s)


@pytest.fixture
def clocks(monkeypatch: pytest.MonkeyPatch) -> Clocks:
    clocks = Clocks(ANSWERED + dt.timedelta(seconds=0.2), 1000.0)
    monkeypatch.setattr(callflow, "utc_now", lambda: clocks.wall)
    monkeypatch.setattr(callflow.time, "monotonic", lambda: clocks.mono)
    return clocks


@pytest.mark.parametrize("wall_step_s", [0.0, -3600.0, 3600.0])
def test_the_end_is_the_answer_plus_the_time_elapsed(clocks: Clocks, wall_step_s: float) -> None:
    elapsed = callflow._Elapsed(ANSWERED)
    clocks.advance(42.0, wall_step_s)
    assert elapsed.end() - ANSWERED == dt.timedelta(seconds=42.2)


def test_a_wall_clock_already_wrong_at_the_start_is_bounded(clocks: Clocks) -> None:
    clocks.wall = ANSWERED - dt.timedelta(hours=1)  # the engine's clock an hour behind the PBX
    elapsed = callflow._Elapsed(ANSWERED)
    clocks.advance(30.0)
    assert elapsed.end() - ANSWERED == dt.timedelta(seconds=30.0)
