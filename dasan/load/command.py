"""What ``dasan load`` runs once its options are read (see ``dasan/load_cli.py``).

Imported only after the ``load`` extra (psutil, matplotlib) is known to be installed.

Invariants: exit status 1 on any SIPp failure or recordings-audit gap (and on a run its
deadline cut short), 0 otherwise; ``--json`` prints nothing else on stdout.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from cti.ami.messages import AmiError
from dasan.context import settings_from
from dasan.load.plot import write_plot
from dasan.load.profile import Profile, ProfileError, load_profile, profile_names
from dasan.load.report import LoadReport, build_report
from dasan.load.runner import LoadRun, RunData, RunOptions
from dasan.load.stack import Stack, StackError
from dasan.load.view import ProgressBar, stages_table, summary_table, types_table
from dasan.sipp import SippError


@dataclass(frozen=True)
class LoadOptions:
    as_json: bool = False
    calls: int | None = None
    duration: float | None = None
    rate: float | None = None
    scale: float | None = None
    plot_path: Path | None = None
    workdir: Path | None = None
    up: bool = False
    no_audit: bool = False


async def run_load(
    ctx: click.Context, profile: Profile, folder: Path, opts: LoadOptions, err: Console
) -> tuple[LoadReport, RunData]:
    settings = settings_from(ctx)
    root = ctx.find_root().obj or {}
    config = Path(root["config_path"]) if root.get("config_path") else None
    async with Stack(settings, start=opts.up, config_path=config, log_dir=folder) as stack:
        pbx = (settings.pbx.sip_host, settings.pbx.sip_port)
        options = RunOptions(workdir=folder, pbx=pbx, audit=not opts.no_audit)
        with ProgressBar(err, f"load {profile.name}") as bar:
            data = await LoadRun(settings, profile, stack, options, bar.update).run()
    return build_report(data), data


def _print(summary: dict[str, Any], folder: Path, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(summary))
        return
    console = Console()
    console.print(summary_table(summary))
    console.print(types_table(summary))
    if "stages" in summary:
        console.print(stages_table(summary))
    console.print(f"plot: {summary['plot']}\nreport: {folder / 'report.json'}")


def run_command(ctx: click.Context, profile_name: str, opts: LoadOptions) -> None:
    """Run the profile, write the report and plot to the run folder, print the summary."""
    err = Console(stderr=True)
    try:
        profile = load_profile(profile_name).bounded(
            opts.calls, opts.duration, opts.rate, opts.scale
        )
    except ProfileError as exc:
        raise click.ClickException(f"{exc} (shipped: {', '.join(profile_names())})") from exc
    stamp = time.strftime("%Y%m%d-%H%M%S")
    # Absolute: SIPp runs in the run folder, and reads its scenario by the path given.
    folder = (
        opts.workdir or settings_from(ctx).state_dir / "load" / f"{profile.name}-{stamp}"
    ).resolve()
    try:
        report, data = asyncio.run(run_load(ctx, profile, folder, opts, err))
    except (StackError, SippError, AmiError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    png = write_plot(data, opts.plot_path or folder / "load.png", f"dasan load {profile.name}")
    summary = report.summary | {"plot": str(png), "report_file": str(folder / "report.json")}
    (folder / "report.json").write_text(
        json.dumps(summary | {"timeline": report.timeline, "calls": list(report.calls)}, indent=1)
        + "\n",
        encoding="utf-8",
    )
    _print(summary, folder, opts.as_json)
    for problem in report.problems:
        err.print(f"[red]FAILED:[/red] {problem}")
    if not report.ok:
        ctx.exit(1)
