"""Stress verdicts and the report built from a run (no PBX: recorded values)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dasan.load.profile import load_profile
from dasan.load.report import build_report
from dasan.load.runner import RunData
from dasan.load.stress import StageFigures, judge, limiter, verdict
from dasan.load.tracker import CallTracker
from dasan.load.traffic import Stage
from dasan.sipp import SippResult
from tests.unit.load.load_support import citizen_events

REQUIRED = (
    "offered",
    "answered",
    "abandoned",
    "sipp_failures",
    "service_level",
    "setup_ms_p50",
    "setup_ms_p99",
    "audit_ok",
)


def _stage(**changes: Any) -> StageFigures:
    base: dict[str, Any] = {
        "index": 0,
        "rate": 10.0,
        "placed": 100,
        "failures": 0,
        "retransmissions": 0,
        "setup_ms_p50": 4.0,
        "setup_ms_p99": 20.0,
        "offered": 100,
        "answered": 100,
        "unserved": 0,
    }
    return StageFigures(**(base | changes))


def test_a_quiet_stage_holds_and_each_limit_breaks_it() -> None:
    plan = load_profile("stress").stress
    assert plan is not None
    assert judge(_stage(), plan) == ()
    assert "failed" in judge(_stage(failures=1), plan)[0]
    assert judge(_stage(retransmissions=2), plan) == ()  # a stray pair is not overload
    assert "retransmissions" in judge(_stage(retransmissions=3, placed=100), plan)[0]
    assert "setup p99" in judge(_stage(setup_ms_p99=2500.0), plan)[0]
    assert "unserved" in judge(_stage(unserved=10), plan)[0]


def test_verdict_names_the_last_rate_that_held_and_why_the_next_broke() -> None:
    plan = load_profile("stress").stress
    assert plan is not None
    busy = {
        "asterisk": {"cpu_pct_mean": 150.0},
        "engine": {"cpu_pct_mean": 9.0},
        "sipp": {"cpu_pct_mean": 30.0},
        "host": {"cores": 2, "busy_pct_mean": 97.0, "iowait_pct_mean": 0.5},
    }
    stages = [
        _stage(index=0, rate=4.0),
        _stage(index=1, rate=8.0),
        _stage(index=2, rate=12.0, retransmissions=40, resources=busy),
    ]
    result = verdict(stages, plan)
    assert (result["held_rate"], result["broke_at_rate"], result["broke_at_stage"]) == (
        8.0,
        12.0,
        2,
    )
    assert "CPU" in result["limiter"] and "asterisk 1.50" in result["limiter"]
    never = verdict(stages[:2], plan)
    assert never["broke_at_rate"] is None and never["held_rate"] == 8.0


def test_limiter_tells_disk_from_cpu_from_nothing() -> None:
    disk = {"host": {"cores": 2, "busy_pct_mean": 40.0, "iowait_pct_mean": 25.0}}
    assert limiter(disk).startswith("disk")
    idle = {"host": {"cores": 2, "busy_pct_mean": 30.0, "iowait_pct_mean": 0.0}}
    assert limiter(idle).startswith("no resource saturated")


def _run(failed: int = 0, audit: dict[str, Any] | None = None, stress: bool = False) -> RunData:
    profile = load_profile("stress" if stress else "smoke")
    tracker = CallTracker({"120"}, lambda caller: ("ko-general", 0))
    for events in (
        citizen_events("u1", 0.0, moh_at=5.0, dial_at=8.0, answer_at=9.0, end_at=20.0),
        citizen_events("u2", 0.0, moh_at=5.0, citizen_bye_at=40.0, end_at=40.0),
        citizen_events("u3", 0.0, citizen_bye_at=2.0, end_at=2.0),
    ):
        for e in events:
            tracker.feed(e)
    stage = Stage(0, profile.effective_rate, profile.plan())
    stage.results = [SippResult(0, 3 - failed, failed, 3, (4.0, 6.0, 300.0), 30.0, "tail")]
    data = RunData(profile=profile, started_at=datetime(2026, 11, 28, tzinfo=UTC))
    data.stages, data.tracker, data.audit, data.planned = [stage], tracker, audit, 3
    data.consultants = SippResult(0, 1, 0, 0, (), 30.0)
    return data


def test_report_has_the_contract_fields_from_ami_and_sipp() -> None:
    data = _run(audit={"ok": True, "gaps": [], "calls_checked": 2})
    data.call_log = {"u1": {"service": "general", "language": "ko", "consultant": "c0042"}}
    report = build_report(data)
    r = report.summary
    assert all(key in r for key in REQUIRED)
    assert (r["offered"], r["answered"], r["abandoned"], r["abandoned_in_queue"]) == (3, 1, 2, 1)
    assert r["service_level"] == pytest.approx(0.5)  # answered in 1 s; one left the queue
    assert r["sipp_failures"] == 0 and r["sipp_retransmissions"] == 3
    assert r["setup_ms_p99"] is not None and r["setup_ms_p99"] > 200
    assert r["audit_ok"] is True
    assert report.ok and report.problems == ()
    assert r["by_type"]["ko-general"]["routed_to"] == {"general": 1}  # from the call log
    first = next(c for c in report.calls if c["uniqueid"] == "u1")
    assert (first["enqueued"], first["answered"], first["outcome"]) == (5.0, 9.0, "answered")
    assert first["routed_to"] == "general"


def test_sipp_failures_and_audit_gaps_fail_the_run() -> None:
    gaps = [{"kind": "call-without-recording", "subject": "u1", "detail": "-"}] * 30
    report = build_report(_run(failed=1, audit={"ok": False, "gaps": gaps}))
    assert not report.ok
    assert any("SIPp" in p for p in report.problems)
    assert any("audit" in p for p in report.problems)
    assert report.summary["audit"]["gap_count"] == 30
    assert len(report.summary["audit"]["gaps"]) == 20
    assert "sipp_errors" in report.summary


def test_a_skipped_audit_is_null_not_false() -> None:
    report = build_report(_run(audit=None))
    assert report.summary["audit_ok"] is None
    assert report.ok


def test_a_stress_report_carries_stages_and_the_verdict() -> None:
    report = build_report(_run(stress=True, audit=None))
    assert report.summary["stages"][0]["rate"] == 4.0
    stress = report.summary["stress"]
    assert (stress["held_rate"], stress["broke_at_rate"]) == (
        None,
        4.0,
    )  # 3 retransmissions/3 calls
    assert "retransmissions" in stress["reasons"][0]
