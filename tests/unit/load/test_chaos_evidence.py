"""The chaos harness's evidence (tests/integration/chaos/evidence.py) is pure: checked here
on made-up calls, events and log lines, so a chaos verdict never rests on an untested rule."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from dasan.load.tracker import CitizenCall
from tests.integration.chaos.evidence import (
    ami_login_after,
    double_bookings,
    engine_log_findings,
    first_engine_dial_after,
)
from tests.unit.load.load_support import event


def _call(uid: str, consultant: str, answered: float, ended: float | None) -> CitizenCall:
    return CitizenCall(uid, "ko", 0.0, answered=answered, ended=ended, consultant=consultant)


def test_overlapping_talk_of_one_consultant_is_a_double_booking() -> None:
    calls = [
        _call("a", "c0001", 10.0, 30.0),
        _call("b", "c0001", 20.0, 40.0),  # while a still talks
        _call("c", "c0001", 40.2, 50.0),  # right after b: fine
        _call("d", "c0002", 20.0, None),  # another consultant
    ]
    assert double_bookings(calls) == [{"consultant": "c0001", "calls": ["a", "b"]}]


def test_a_call_still_talking_blocks_its_consultant() -> None:
    assert double_bookings([_call("a", "c0001", 10.0, None), _call("b", "c0001", 99.0, 120.0)])


def test_resync_counts_only_consultants_rung_by_the_engine() -> None:
    events = [
        event("QueueCallerJoin", 100.0, Uniqueid="q1", Queue="fallback-ko"),
        event("DialBegin", 101.0, Uniqueid="q1"),  # the fallback queue rang it
        event("DialBegin", 95.0, Uniqueid="e0"),  # before the recovery
        event("DialBegin", 112.5, Uniqueid="e1"),
    ]
    assert first_engine_dial_after(events, 100.0) == 12.5
    assert first_engine_dial_after(events, 120.0) is None
    assert first_engine_dial_after(events, None) is None


def test_engine_log_findings_count_crashes_and_keep_errors(tmp_path: Path) -> None:
    log = tmp_path / "engine-0.log"
    since = dt.datetime(2026, 12, 2, 6, 0, 0).timestamp()
    log.write_text(
        "2026-12-02 05:59:59,000 INFO cti.ami.client: AMI logged in to 127.0.0.1:5038\n"
        "2026-12-02 06:00:01,000 ERROR ivr.agi.server: agi x path 'ivr': handler crashed\n"
        "2026-12-02 06:00:07,250 INFO cti.ami.client: AMI logged in to 127.0.0.1:5038\n",
        encoding="utf-8",
    )
    found = engine_log_findings([log, tmp_path / "missing.log"])
    assert found["handler_crashes"] == 1
    assert len(found["errors"]) == 1 and "handler crashed" in found["errors"][0]
    assert ami_login_after([log], since) == 7.2
    assert ami_login_after([log], since + 3600) is None
