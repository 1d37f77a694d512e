"""The verdict of a chaos case: the figures of its run and the problems that fail it (pure).

Every problem names what was seen (counts, ids, the first audit gaps), so a failing case
explains itself in its results file and the README table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cti.ami.messages import AmiEvent
from dasan.load.report import build_report
from dasan.load.runner import RunData
from dasan.load.tracker import Counts, Outcome
from tests.integration.chaos.evidence import (
    ami_login_after,
    double_bookings,
    engine_log_findings,
    first_engine_dial_after,
)

if TYPE_CHECKING:
    from tests.integration.chaos.harness import Case, ChaosContext


def verdict(
    case: Case,
    ctx: ChaosContext,
    data: RunData,
    events: list[AmiEvent],
    *,
    alive: list[bool],
    fault_error: BaseException | None,
) -> dict[str, Any]:
    marks = ctx.marks
    logs = engine_log_findings([e.log_path for e in ctx.engines])
    exited = [
        e.proc.returncode
        for e, up in zip(ctx.engines, alive, strict=True)
        if e.proc is not None and not up and e.proc.pid not in ctx.stopped_on_purpose
    ]
    result: dict[str, Any] = {
        "case": case.name,
        "fault": case.fault_text,
        "citizen": case.citizen_text,
        "fault_fired": marks.fault is not None,
        "fault_error": repr(fault_error) if fault_error else None,
        "counts_at_fault": vars(marks.counts_at_fault) if marks.counts_at_fault else None,
        "notes": marks.notes,
        **_load_figures(case, ctx, data, events),
        "ami_login_s": ami_login_after([e.log_path for e in ctx.engines], marks.recovered),
        "engine_exits": exited,
        "handler_crashes": logs["handler_crashes"],
        "engine_errors": logs["errors"],
    }
    result["problems"] = problems(result, case) + case.extra_checks(ctx)
    return result


def _load_figures(
    case: Case, ctx: ChaosContext, data: RunData, events: list[AmiEvent]
) -> dict[str, Any]:
    summary = build_report(data).summary
    marks = ctx.marks
    otherwise = case.served_otherwise(ctx)
    calls = [
        c for c in (data.tracker.calls() if data.tracker else []) if c.uniqueid not in otherwise
    ]
    queues: dict[str, list[str]] = {}
    for event in events:
        if event.name == "QueueCallerJoin":
            queues.setdefault(event.uniqueid, []).append(event.get("Queue"))
    lost = [
        {
            "id": c.uniqueid,
            "type": c.call_type,
            "outcome": c.outcome.value,
            "waited_s": round(c.ended - c.started, 1) if c.ended else None,
            "queues": queues.get(c.uniqueid, []),
        }
        for c in calls
        if c.outcome is not Outcome.ANSWERED
    ]
    answered_after = sum(
        1 for c in calls if c.answered and marks.fault and c.answered > marks.fault
    )
    resync = first_engine_dial_after(events, marks.recovered) if case.measures_resync else None
    return {
        "offered": summary["offered"],
        "served_otherwise": len(otherwise),
        "planned": summary["planned_calls"],
        "answered": summary["answered"],
        "lost": len(lost),
        "lost_allowed": case.allowed_lost(marks.counts_at_fault or Counts()),
        "lost_calls": lost[:20],
        "answered_after_fault": answered_after,
        "sipp_failures": summary["sipp_failures"],
        "audit_ok": summary["audit_ok"],
        "recordings_missing": summary["audit"].get("gap_count"),
        "audit_gaps": summary["audit"].get("gaps", [])[:5],
        "double_booked": double_bookings(calls),
        "resync_s": resync,
        "resync_bound_s": case.resync_bound_s if case.measures_resync else None,
        "channels_left": summary["channels_left"],
        "setup_ms_p99": summary["setup_ms_p99"],
        "sipp_retransmissions": summary["sipp_retransmissions"],
    }


def problems(r: dict[str, Any], case: Case) -> list[str]:
    out = []
    if not r["fault_fired"] or r["fault_error"]:
        out.append(f"fault not injected as planned: {r['fault_error']}")
    unseen = r["planned"] - r["offered"]
    if unseen < 0 or unseen > case.unseen_allowed or (unseen and r["sipp_failures"]):
        out.append(f"{r['offered']} calls offered of {r['planned']} placed")
    if r["lost"] > r["lost_allowed"]:  # calls served otherwise (called back) are not lost
        out.append(f"{r['lost']} calls not answered (allowed {r['lost_allowed']})")
    if not r["answered_after_fault"]:
        out.append("no call answered after the fault")
    if r["audit_ok"] is not True:
        out.append(f"recordings audit not clean: {r['recordings_missing']} gaps {r['audit_gaps']}")
    if r["double_booked"]:
        out.append(f"consultants double-booked: {r['double_booked'][:5]}")
    if case.measures_resync and (r["resync_s"] is None or r["resync_s"] > case.resync_bound_s):
        out.append(f"engine did not ring a consultant within {case.resync_bound_s} s of recovery")
    if r["channels_left"]:
        out.append(f"{r['channels_left']} channels left")
    if r["engine_exits"]:
        out.append(f"engine exited on its own: {r['engine_exits']}")
    if r["handler_crashes"]:
        out.append(f"{r['handler_crashes']} IVR handler crashes")
    return out
