"""PNG plot of a simulated day: traffic, service level and waiting per half hour per policy.

Invariant: uses matplotlib's Agg backend through an explicit Figure (no pyplot state, no
display), so it is safe in tests and on servers.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from acd.sim.erlang_day import HALVES
from acd.sim.report import DayReport

_COLORS = {
    "dasan": "#1f77b4",
    "ringall": "#ff7f0e",
    "leastrecent": "#2ca02c",
    "fewestcalls": "#d62728",
}


def plot_day(report: DayReport, path: Path) -> Path:
    hours = [h / 2 + 0.25 for h in range(HALVES)]
    figure = Figure(figsize=(11, 9), dpi=100)
    FigureCanvasAgg(figure)
    traffic, level, waiting = figure.subplots(3, 1, sharex=True)
    first = next(iter(report.policies.values()))
    traffic.bar(hours, [c for c, _s, _a in first.half_hours], width=0.45, color="#999999")
    traffic.set_ylabel("calls / half hour")
    traffic.set_title(
        f"dasan sim: {report.scenario} ({report.calls:,} calls, {report.consultants} consultants)"
    )
    for name, policy in report.policies.items():
        color = _COLORS.get(name)
        label = f"{name} ({policy.service_level:.1%})"
        level.plot(hours, [s for _c, s, _a in policy.half_hours], label=label, color=color, lw=1.4)
        waiting.plot(hours, [a for _c, _s, a in policy.half_hours], label=name, color=color, lw=1.4)
    level.plot(
        hours,
        list(report.erlang.half_hours),
        label=f"Erlang A ({report.erlang.service_level:.1%})",
        color="black",
        ls="--",
        lw=1.0,
    )
    level.set_ylabel("answered within 20 s")
    level.set_ylim(0, 1.02)
    level.legend(loc="lower left", fontsize=8)
    waiting.set_ylabel("mean wait of answered (s)")
    waiting.set_xlabel("hour of day (by arrival)")
    waiting.set_xlim(0, 24)
    waiting.set_xticks(range(0, 25, 2))
    waiting.legend(loc="upper left", fontsize=8)
    for axis in (traffic, level, waiting):
        axis.grid(alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path
