"""`dasan load` audits once the engine has archived the run's recordings: it asks again while
that backlog shrinks (a busy host archives a peak's recordings minutes after its last call),
gives up when the backlog stalls, and stops at once when only gaps waiting cannot close are
left. Seen before: a full seed peak reported 391 gaps, 374 of them files the engine archived
and cataloged a few minutes later."""

from __future__ import annotations

import pytest

from dasan.load.runner import archiving_backlog, audit_after_archiving
from recordings.audit import AuditReport
from recordings.reconcile import Gap, GapKind

pytestmark = pytest.mark.unit


def _report(uncataloged: int, mismatches: int = 0, running: int = 0) -> AuditReport:
    gaps = [Gap(GapKind.UNCATALOGED_FILE, f"file {i}", "not cataloged") for i in range(uncataloged)]
    gaps += [Gap(GapKind.DURATION_MISMATCH, f"call {i}", "short") for i in range(mismatches)]
    return AuditReport(gaps=gaps, in_progress=[f"call-{i}" for i in range(running)])


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def pause(self, seconds: float) -> None:
        self.now += seconds


async def _run(reports: list[AuditReport], stall_s: float) -> tuple[AuditReport, int, list[int]]:
    clock, asked, shown = Clock(), [0], []

    async def audit() -> AuditReport:
        asked[0] += 1
        return reports[min(asked[0], len(reports)) - 1]

    found = await audit_after_archiving(audit, stall_s, shown.append, clock, clock.pause)
    return found, asked[0], shown


def test_the_backlog_counts_running_calls_and_unarchived_recordings_only() -> None:
    assert archiving_backlog(_report(3, mismatches=2, running=1)) == 4
    assert archiving_backlog(_report(0, mismatches=5)) == 0


async def test_a_shrinking_backlog_is_waited_for_past_the_stall_time() -> None:
    # 12 polls of 5 s (60 s) against a stall time of 12 s: each poll shrinks the backlog.
    reports = [_report(n, mismatches=2) for n in range(12, -1, -1)]
    found, asked, shown = await _run(reports, stall_s=12.0)
    assert asked == 13 and shown == list(range(12, 0, -1))
    assert [g.kind for g in found.gaps] == [GapKind.DURATION_MISMATCH] * 2


async def test_a_stalled_backlog_ends_the_wait_with_what_is_left() -> None:
    reports = [_report(5), _report(4), _report(4), _report(4), _report(4), _report(4)]
    found, asked, _ = await _run(reports, stall_s=12.0)
    # Shrunk once (at 5 s), then 4 stays: given up on the first poll past 5 + 12 s.
    assert asked == 5 and archiving_backlog(found) == 4


async def test_gaps_waiting_cannot_close_end_it_at_once() -> None:
    found, asked, shown = await _run([_report(0, mismatches=3)], stall_s=180.0)
    assert asked == 1 and shown == [] and len(found.gaps) == 3
