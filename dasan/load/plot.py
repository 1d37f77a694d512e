"""A one-page PNG of a load run (matplotlib, Agg backend: no display needed).

Panels: calls in the IVR / waiting / talking over time; cumulative outcomes; CPU of
Asterisk, the engine and SIPp; the distributions of setup time and speed of answer.
Stress stages are marked with their rate. The figure is closed after saving.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dasan.load.runner import RunData
from dasan.load.tracker import Outcome


def write_plot(data: RunData, path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 8), constrained_layout=True)
    try:
        _calls(axes[0][0], data)
        _outcomes(axes[0][1], data)
        _cpu(axes[1][0], data)
        _distributions(axes[1][1], data)
        for ax in (axes[0][0], axes[0][1], axes[1][0]):
            _stages(ax, data)
        fig.suptitle(title)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=90)
    finally:
        plt.close(fig)
    return path


def _series(data: RunData, pick: Any) -> tuple[list[float], list[float]]:
    return [r.t for r in data.timeline], [pick(r) for r in data.timeline]


def _calls(ax: Any, data: RunData) -> None:
    for label, pick in (
        ("in IVR", lambda r: r.counts.in_ivr),
        ("waiting", lambda r: r.counts.waiting),
        ("talking", lambda r: r.counts.talking),
    ):
        ax.plot(*_series(data, pick), label=label)
    ax.set_title("citizen calls in progress (AMI)")
    ax.set_xlabel("s")
    ax.legend(loc="upper left")


def _outcomes(ax: Any, data: RunData) -> None:
    for label, pick in (
        ("placed (SIPp)", lambda r: r.placed),
        ("answered", lambda r: r.counts.answered),
        ("abandoned", lambda r: r.counts.abandoned),
        ("unserved", lambda r: r.counts.unserved),
        ("SIPp failures", lambda r: r.failures),
        ("retransmissions", lambda r: r.retransmissions),
    ):
        ax.plot(*_series(data, pick), label=label)
    ax.set_title("cumulative outcomes")
    ax.set_xlabel("s")
    ax.legend(loc="upper left")


def _cpu(ax: Any, data: RunData) -> None:
    for name in ("asterisk", "engine", "sipp"):
        ax.plot(*_series(data, lambda r, n=name: r.cpu_pct.get(n, 0.0)), label=name)
    ax.set_title("CPU, % of one core")
    ax.set_xlabel("s")
    ax.legend(loc="upper left")
    if data.timeline:
        rss = data.timeline[-1].rss_mb
        ax.text(
            0.99,
            0.97,
            "RSS at end: " + ", ".join(f"{k} {v:.0f} MB" for k, v in rss.items()),
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=8,
        )


def _distributions(ax: Any, data: RunData) -> None:
    setups = [ms for s in data.stages for r in s.results for ms in r.setup_ms]
    calls = data.tracker.calls() if data.tracker else []
    waits = sorted(c.wait_s for c in calls if c.outcome is Outcome.ANSWERED and c.wait_s)
    if setups:
        ax.hist(setups, bins=40)
        ax.set_yscale("log")
    ax.set_title("setup time INVITE->200 (ms)")
    if waits:
        p50, p90 = waits[len(waits) // 2], waits[min(len(waits) - 1, int(len(waits) * 0.9))]
        ax.text(
            0.98,
            0.95,
            f"speed of answer: p50 {p50:.1f} s, p90 {p90:.1f} s, max {waits[-1]:.1f} s",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=9,
        )


def _stages(ax: Any, data: RunData) -> None:
    if len(data.stages) < 2 or data.sampler is None:
        return
    for stage in data.stages:
        t = stage.started - data.sampler.origin
        ax.axvline(t, color="grey", linewidth=0.5, linestyle=":")
        ax.text(t, ax.get_ylim()[1], f"{stage.rate:g}/s", fontsize=7, rotation=90, va="top")
