"""Terminal rendering of a load run: a live progress bar (stderr) and the final tables."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from dasan.load.runner import Progress as RunProgress


class ProgressBar:
    """A rich progress bar of placed calls with the live outcome counts beside it."""

    def __init__(self, console: Console, label: str) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} placed"),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._task: TaskID = self._progress.add_task(label, total=None, detail="starting")

    def __enter__(self) -> ProgressBar:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def update(self, p: RunProgress) -> None:
        c = p.counts
        rate = f" stage {p.stage} @ {p.rate:g}/s" if p.stage else ""
        detail = (
            f"{p.phase}{rate} | ivr {c.in_ivr} wait {c.waiting} talk {c.talking} | "
            f"answered {c.answered} abandoned {c.abandoned} unserved {c.unserved} | "
            f"fail {p.failures} retrans {p.retransmissions}"
        )
        self._progress.update(
            self._task, total=p.planned or None, completed=p.placed, detail=detail
        )


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3g}{unit}" if abs(value) < 100 else f"{value:,.0f}{unit}"
    return f"{value}{unit}"


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.1f}%"


def summary_table(r: dict[str, Any]) -> Table:
    table = Table(title=f"dasan load {r['profile']} ({r['elapsed_s']} s)", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    wait = r["speed_of_answer_s"]
    rows = [
        ("offered / planned", f"{r['offered']} / {r['planned_calls']} at {r['rate']:g} calls/s"),
        ("answered", _fmt(r["answered"])),
        (
            "abandoned",
            f"{r['abandoned']} ({r['abandoned_in_queue']} waiting, "
            f"{r['abandoned_in_ivr']} in the IVR)",
        ),
        ("unserved / unfinished", f"{r['unserved']} / {r['unfinished']}"),
        (f"service level ({r['service_level_s']:g} s)", _pct(r["service_level"])),
        (
            "speed of answer (s)",
            f"mean {_fmt(wait['mean'])}  p50 {_fmt(wait['p50'])}  p90 {_fmt(wait['p90'])}  "
            f"max {_fmt(wait['max'])}",
        ),
        (
            "setup INVITE->200 (ms)",
            f"p50 {_fmt(r['setup_ms_p50'])}  p90 {_fmt(r['setup_ms_p90'])}  "
            f"p99 {_fmt(r['setup_ms_p99'])}  max {_fmt(r['setup_ms_max'])}",
        ),
        (
            "SIPp failures / retransmissions",
            f"{r['sipp_failures']} / {r['sipp_retransmissions']}",
        ),
        ("max concurrent (active / talking)", f"{r['max_active']} / {r['max_talking']}"),
        *_resource_rows(r.get("resources") or {}),
        ("recordings audit", _audit_text(r)),
        ("channels left on the PBX", _fmt(r["channels_left"])),
    ]
    for what, value in rows:
        table.add_row(what, value)
    return table


def _resource_rows(res: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for name in ("asterisk", "engine", "sipp"):
        g = res.get(name)
        if not g:
            continue
        rows.append(
            (
                f"{name} CPU / RSS",
                f"mean {_fmt(g['cpu_pct_mean'], '%')} max {_fmt(g['cpu_pct_max'], '%')} "
                f"({_fmt(g['cpu_s'])} CPU-s) / max {_fmt(g['rss_mb_max'])} MB",
            )
        )
    host = res.get("host")
    if host:
        rows.append(
            (
                "host",
                f"{host['cores']} cores, busy {_fmt(host['busy_pct_mean'], '%')} "
                f"(max {_fmt(host['busy_pct_max'], '%')}), iowait "
                f"{_fmt(host['iowait_pct_mean'], '%')}, disk {_fmt(host['disk_write_mb_s_mean'])} MB/s",
            )
        )
    if "engine_to_asterisk_cpu" in res:
        rows.append(("engine CPU / Asterisk CPU", _pct(res["engine_to_asterisk_cpu"])))
    return rows


def _audit_text(r: dict[str, Any]) -> str:
    audit = r.get("audit") or {}
    if audit.get("skipped"):
        return "skipped"
    state = "ok" if r["audit_ok"] else f"GAPS: {audit.get('gap_count', 0)}"
    return f"{state} ({audit.get('calls_checked', 0)} calls, {audit.get('recordings_checked', 0)} recordings)"


def types_table(r: dict[str, Any]) -> Table:
    table = Table(title="by call type")
    columns = (
        "type",
        "offered",
        "answered",
        "abandoned",
        "unserved",
        "SL",
        "wait p50 s",
        "routed to",
    )
    for column in columns:
        table.add_column(column, justify="left" if column in ("type", "routed to") else "right")
    for name, t in (r.get("by_type") or {}).items():
        table.add_row(
            name,
            str(t["offered"]),
            str(t["answered"]),
            str(t["abandoned"]),
            str(t["unserved"]),
            _pct(t["service_level"]),
            _fmt(t["wait_s_p50"]),
            ", ".join(f"{k} {v}" for k, v in (t.get("routed_to") or {}).items()) or "-",
        )
    return table


def stages_table(r: dict[str, Any]) -> Table:
    stress = r.get("stress") or {}
    table = Table(
        title=f"stress: held {stress.get('held_rate')}/s, broke at {stress.get('broke_at_rate')}/s"
    )
    for column in (
        "rate/s",
        "placed",
        "fail",
        "retrans",
        "setup p50",
        "setup p99",
        "unserved",
        "asterisk CPU",
        "host busy",
    ):
        table.add_column(column, justify="right")
    for s in r.get("stages") or []:
        res = s.get("resources") or {}
        table.add_row(
            _fmt(s["rate"]),
            str(s["placed"]),
            str(s["failures"]),
            str(s["retransmissions"]),
            _fmt(s["setup_ms_p50"]),
            _fmt(s["setup_ms_p99"]),
            str(s["unserved"]),
            _fmt((res.get("asterisk") or {}).get("cpu_pct_mean"), "%"),
            _fmt((res.get("host") or {}).get("busy_pct_mean"), "%"),
        )
    return table
