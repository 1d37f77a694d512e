"""The report of a load run: one JSON object, a terminal table, and the problems that fail it.

Invariants:
- ``LoadReport.summary`` always has ``offered``, ``answered``, ``abandoned``,
  ``sipp_failures``, ``service_level``, ``setup_ms_p50``, ``setup_ms_p99`` and ``audit_ok``
  (``null`` only when the audit was skipped on purpose).
- ``problems`` lists every SIPp failure and audit gap (the run fails, exit status 1), plus a
  run cut short by its deadline; other findings (channels left, unserved calls) are reported
  without failing the run.
- Numbers that could not be measured are ``null``, never zero.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from common.stats import percentile, rounded, summary
from dasan.load.capacity import held_concurrency, overload_onset
from dasan.load.machine import describe_machine
from dasan.load.runner import RunData, TimelineRow
from dasan.load.sampler import ResourceSampler
from dasan.load.stress import StageFigures, limiter, verdict
from dasan.load.tracker import CitizenCall, Outcome, service_level, with_call_log_answers
from dasan.sipp import SippResult

MAX_GAPS = 20


@dataclass(frozen=True)
class LoadReport:
    summary: dict[str, Any]
    timeline: list[dict[str, Any]]
    problems: tuple[str, ...]
    calls: tuple[dict[str, Any], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def _results(data: RunData) -> list[SippResult]:
    return [r for stage in data.stages for r in stage.results]


def _sipp(data: RunData) -> dict[str, Any]:
    results = _results(data)
    uas = data.consultants
    setups = [ms for r in results for ms in r.setup_ms]
    failures = sum(r.failed for r in results) + (uas.failed if uas else 0)
    out: dict[str, Any] = {
        "sipp_failures": failures,
        "sipp_retransmissions": sum(r.retransmissions for r in results)
        + (uas.retransmissions if uas else 0),
        "sipp_successful": sum(r.successful for r in results),
        "sipp_placed": sum(stage.placed for stage in data.stages),
        "sipp_consultant_calls": uas.successful + uas.failed if uas else None,
        "setup_ms_p50": rounded(percentile(setups, 50), 1),
        "setup_ms_p90": rounded(percentile(setups, 90), 1),
        "setup_ms_p99": rounded(percentile(setups, 99), 1),
        "setup_ms_max": rounded(max(setups), 1) if setups else None,
    }
    if failures:
        out["sipp_errors"] = [r.errors[-1500:] for r in [*results, uas] if r and r.failed]
    return out


def _outcomes(calls: list[CitizenCall], threshold_s: float) -> dict[str, Any]:
    tally = dict.fromkeys(Outcome, 0)
    for call in calls:
        tally[call.outcome] += 1
    waits = [c.wait_s for c in calls if c.outcome is Outcome.ANSWERED and c.wait_s is not None]
    sl = service_level(calls, threshold_s)
    return {
        "offered": len(calls),
        "answered": tally[Outcome.ANSWERED],
        "abandoned": tally[Outcome.ABANDONED_QUEUE] + tally[Outcome.ABANDONED_IVR],
        "abandoned_in_queue": tally[Outcome.ABANDONED_QUEUE],
        "abandoned_in_ivr": tally[Outcome.ABANDONED_IVR],
        "unserved": tally[Outcome.UNSERVED],
        "unfinished": tally[Outcome.ACTIVE],
        "service_level": rounded(sl, 4),
        "service_level_s": threshold_s,
        "speed_of_answer_s": summary(waits, 2),
    }


def _by_type(
    calls: list[CitizenCall], threshold_s: float, log: dict[str, dict[str, str | None]]
) -> dict[str, Any]:
    names = sorted({c.call_type for c in calls})
    out = {}
    for name in names:
        mine = [c for c in calls if c.call_type == name]
        result = _outcomes(mine, threshold_s)
        routed = Counter(str(log[c.uniqueid].get("service")) for c in mine if c.uniqueid in log)
        spoken = Counter(str(log[c.uniqueid].get("language")) for c in mine if c.uniqueid in log)
        out[name or "unknown"] = {
            key: result[key]
            for key in ("offered", "answered", "abandoned", "unserved", "service_level")
        } | {
            "wait_s_p50": result["speed_of_answer_s"]["p50"],
            "routed_to": dict(routed.most_common()),
            "languages": dict(spoken.most_common()),
        }
    return out


def _resources(sampler: ResourceSampler | None, answered: int) -> dict[str, Any]:
    if sampler is None:
        return {}
    out: dict[str, Any] = {name: sampler.summary(name) for name in sampler.names()}
    out["host"] = sampler.host_summary()
    asterisk_s = out.get("asterisk", {}).get("cpu_s")
    engine_s = out.get("engine", {}).get("cpu_s")
    if answered and isinstance(asterisk_s, float) and isinstance(engine_s, float):
        out["asterisk_cpu_ms_per_answered_call"] = round(1000 * asterisk_s / answered, 1)
        out["engine_cpu_ms_per_answered_call"] = round(1000 * engine_s / answered, 1)
    if isinstance(asterisk_s, float) and isinstance(engine_s, float) and asterisk_s > 0:
        out["engine_to_asterisk_cpu"] = round(engine_s / asterisk_s, 4)
        children = out.get("engine", {}).get("children_cpu_s") or 0.0
        # Without the engine's reaped children (ffmpeg archiving recordings to Opus).
        out["engine_own_to_asterisk_cpu"] = round((engine_s - children) / asterisk_s, 4)
    return out


def _audit(audit: dict[str, Any] | None) -> dict[str, Any]:
    if audit is None:
        return {"audit_ok": None, "audit": {"skipped": True}}
    gaps = list(audit.get("gaps") or [])
    trimmed = {k: v for k, v in audit.items() if k != "gaps"}
    trimmed["gap_count"] = len(gaps)
    trimmed["gaps"] = gaps[:MAX_GAPS]
    return {"audit_ok": bool(audit.get("ok")), "audit": trimmed}


def stage_figures(data: RunData) -> list[StageFigures]:
    calls = data.tracker.calls() if data.tracker else []
    out = []
    for stage in data.stages:
        mine = [c for c in calls if c.stage == stage.index]
        setups = [ms for r in stage.results for ms in r.setup_ms]
        resources: dict[str, Any] = {}
        if data.sampler is not None:
            t_start = stage.started - data.sampler.origin
            # +2 s: a starved monitor may sample late; the window must hold some samples.
            window = (t_start, t_start + stage.window_s + 2.0)
            resources = {n: data.sampler.summary(n, *window) for n in data.sampler.names()}
            resources["host"] = data.sampler.host_summary(*window)
        out.append(
            StageFigures(
                index=stage.index,
                rate=round(stage.rate, 4),
                placed=stage.placed or sum(r.successful + r.failed for r in stage.results),
                failures=sum(r.failed for r in stage.results),
                retransmissions=sum(r.retransmissions for r in stage.results),
                setup_ms_p50=rounded(percentile(setups, 50), 1),
                setup_ms_p99=rounded(percentile(setups, 99), 1),
                offered=len(mine),
                answered=sum(1 for c in mine if c.outcome is Outcome.ANSWERED),
                unserved=sum(1 for c in mine if c.outcome is Outcome.UNSERVED),
                resources=resources,
            )
        )
    return out


def _concurrency(rows: Iterable[TimelineRow]) -> dict[str, int]:
    rows = list(rows)
    return {
        "max_active": max((r.counts.active for r in rows), default=0),
        "max_talking": max((r.counts.talking for r in rows), default=0),
        "max_waiting": max((r.counts.waiting for r in rows), default=0),
    }


def timeline_json(rows: Iterable[TimelineRow]) -> list[dict[str, Any]]:
    return [
        {
            "t": round(r.t, 2),
            "placed": r.placed,
            "in_ivr": r.counts.in_ivr,
            "waiting": r.counts.waiting,
            "talking": r.counts.talking,
            "answered": r.counts.answered,
            "abandoned": r.counts.abandoned,
            "unserved": r.counts.unserved,
            "failures": r.failures,
            "retransmissions": r.retransmissions,
            "cpu_pct": r.cpu_pct,
            "rss_mb": r.rss_mb,
        }
        for r in rows
    ]


def calls_json(calls: Iterable[CitizenCall], log: dict[str, dict[str, str | None]]) -> list[Any]:
    """Every citizen call (times relative to its start), for the report file."""
    out = []
    for c in calls:
        rel = {
            name: round(value - c.started, 3) if value is not None else None
            for name, value in (
                ("enqueued", c.enqueued),
                ("dialed", c.dialed),
                ("answered", c.answered),
                ("citizen_hung_up", c.citizen_hung_up),
                ("ended", c.ended),
            )
        }
        out.append(
            {"uniqueid": c.uniqueid, "type": c.call_type, "stage": c.stage, "started": c.started}
            | rel
            | {"outcome": c.outcome.value, "consultant": c.consultant}
            | ({"answer_seen_by": "call log"} if c.answer_unseen else {})
            | {"routed_to": (log.get(c.uniqueid) or {}).get("service")}
        )
    return out


def build_report(data: RunData) -> LoadReport:
    profile = data.profile
    calls = with_call_log_answers(
        data.tracker.calls() if data.tracker else [],
        lambda uid: (data.call_log.get(uid) or {}).get("consultant"),
    )
    outcomes = _outcomes(calls, profile.service_level_s)
    out: dict[str, Any] = {
        "profile": profile.name,
        "service": profile.service,
        "started_at": data.started_at.isoformat(timespec="seconds"),
        "elapsed_s": round(data.elapsed_s, 1),
        "rate": round(profile.effective_rate, 4),
        "scale": profile.scale,
        "planned_calls": data.planned,
        **outcomes,
        **_sipp(data),
        **_concurrency(data.timeline),
        **_audit(data.audit),
        "resources": _resources(data.sampler, outcomes["answered"]),
        "by_type": _by_type(calls, profile.service_level_s, data.call_log),
        "call_log_matched": len(data.call_log),
        # Answers this run's AMI link missed (it was down), taken from the engine's call log.
        "answered_per_call_log": sum(1 for c in calls if c.answer_unseen),
        "call_log_error": data.call_log_error,
        "channels_left": data.channels_left,
        "ami_connection_lost": data.ami_lost,
        "timed_out": data.timed_out,
        "machine": describe_machine(data.asterisk_version),
    }
    out["overload"] = _overload(data, calls)
    if profile.stress is not None:
        figures = stage_figures(data)
        out["stages"] = [f.as_json() for f in figures]
        out["stress"] = verdict(figures, profile.stress) | {"ramp_stopped": data.stopped_ramp}
    return LoadReport(
        out,
        timeline_json(data.timeline),
        _problems(out),
        tuple(calls_json(calls, data.call_log)),
    )


def _overload(data: RunData, calls: list[CitizenCall]) -> dict[str, Any]:
    """When the run overloaded, calls held until then, and what ran out at that moment."""
    sampler, stress = data.sampler, data.profile.stress
    counts_unserved = stress is None or stress.max_unserved_share < 1.0
    unserved = [
        sampler.from_wall(c.ended)
        for c in calls
        if sampler is not None
        and counts_unserved
        and c.outcome is Outcome.UNSERVED
        and c.ended is not None
    ]
    limit = stress.max_setup_p99_ms if stress is not None else 1000.0
    retrans = stress.min_retransmissions if stress is not None else 3
    onset = overload_onset(data.timeline, data.setups, unserved, limit, retrans)
    out: dict[str, Any] = {
        "onset": onset.as_json() if onset else None,
        "held_concurrency": held_concurrency(data.timeline, onset),
        "limiter": None,
    }
    if onset is not None and sampler is not None:
        window = (onset.t - 5.0, onset.t + 2.0)
        resources: dict[str, Any] = {n: sampler.summary(n, *window) for n in sampler.names()}
        resources["host"] = sampler.host_summary(*window)
        out["limiter"] = limiter(resources)
    return out


def _problems(out: dict[str, Any]) -> tuple[str, ...]:
    problems = []
    if out["sipp_failures"]:
        problems.append(f"{out['sipp_failures']} SIPp failed calls")
    if out["audit_ok"] is False:
        problems.append(f"recordings audit: {out['audit'].get('gap_count', 0)} gaps")
    if out["timed_out"]:
        problems.append("SIPp did not finish within the run's deadline (calls cut short)")
    return tuple(problems)
