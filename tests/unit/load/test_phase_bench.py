"""The pure parts of the per-phase cost benchmark and the 2-node check (no PBX started)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from benchmarks.pbx_cluster_check import node_of, overlap_s
from benchmarks.pbx_phases import (
    PHASES,
    drops_between,
    hold_s,
    model_costs,
    ms_per_call_s,
    per_core,
    profile_for,
)


def test_cost_per_call_second_takes_the_idle_cpu_off() -> None:
    # 3 CPU-s in a 10 s window, idle 0.05 core: 2.5 s for 400 call-seconds -> 6.25 ms.
    assert ms_per_call_s(3.0, 0.05, 10.0, 400.0) == 6.25
    assert ms_per_call_s(3.0, 0.05, 10.0, 0.0) is None


def test_calls_per_core() -> None:
    assert per_core(4.0) == 250
    assert per_core(4.0, 0.7) == 175
    assert per_core(None) is None and per_core(0.0) is None


def test_every_caller_stays_through_the_window_then_hangs_up() -> None:
    for phase in PHASES:
        profile = profile_for(phase, 40, 10.0, 12.0)
        hold = hold_s(phase, 40, 10.0, 12.0)
        assert profile.citizen_timeout_s == hold
        # The last call placed reaches the phase, and the window fits before the first ends.
        assert hold >= 40 / 10.0 + phase.reach_s + 12.0
        # The consultant never hangs up first.
        assert profile.talk_s.value is not None and profile.talk_s.value > hold
        assert profile.planned_calls() == 40


def test_each_phase_is_measured_raw_and_through_the_engine() -> None:
    keys = {p.key for p in PHASES}
    assert len(keys) == len(PHASES)
    for phase in ("ivr", "waiting", "talking"):
        assert {f"{phase}/raw", f"{phase}/raw_recorded", f"{phase}/engine"} <= keys
    assert {"speech_menu/raw", "speech_menu/raw_recorded"} <= keys


def test_model_costs_prefer_the_engine_then_the_recorded_raw_figure() -> None:
    table: dict[str, dict[str, Any]] = {
        "ivr": {
            "raw": {"ms_per_call_s": 1.0},
            "raw_recorded": {"ms_per_call_s": 4.0},
            "engine": {"ms_per_call_s": 5.0},
        },
        "speech_menu": {"raw": {"ms_per_call_s": 1.5}, "raw_recorded": {"ms_per_call_s": 4.5}},
        "waiting": {"raw_recorded": {"ms_per_call_s": 4.2}, "engine": {"error": "boom"}},
        "talking": {"raw": {"ms_per_call_s": 2.0}},
    }
    assert model_costs(table) == {"ivr": 5.0, "speech_menu": 4.5, "waiting": 4.2}


def test_the_node_of_a_call_and_the_seconds_inside_the_window() -> None:
    assert node_of("dasan-node2-1712345678.12") == "node2"
    assert node_of("1712345678.12") == "?"
    t = datetime(2026, 12, 3, tzinfo=UTC)
    w0, w1 = t + timedelta(seconds=10), t + timedelta(seconds=20)
    assert overlap_s(t, t + timedelta(seconds=15), w0, w1) == pytest.approx(5.0)
    assert overlap_s(t, t + timedelta(seconds=5), w0, w1) == 0.0
    assert overlap_s(t, t + timedelta(seconds=30), w0, w1) == pytest.approx(10.0)


def test_drops_count_only_what_grew_on_the_sockets_still_open() -> None:
    # A socket closed in between (its count gone) does not make the total negative; a new
    # one counts from zero.
    assert drops_between({"1": 5, "2": 100}, {"1": 7, "3": 4}) == 6
    assert drops_between({}, {}) == 0
