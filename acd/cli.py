"""``dasan sim``: replay a day of traffic through our routing core and app_queue-like
strategies, side by side with the Erlang figures for the same traffic and staffing.

Invariant: with ``--json`` stdout carries exactly one JSON object; progress goes to stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import click
from rich.console import Console
from rich.table import Table

from acd.errors import AcdConfigError
from acd.model import Consultant
from acd.roster import load_configured
from acd.services import ServiceCatalog
from acd.settings import AcdHost, AcdSettings
from acd.sim.report import DayReport
from acd.sim.scenarios import ALL_POLICIES, POLICIES, SCENARIOS, run_day, scenario
from acd.sim.traffic import SEED_CALLS
from common.cliconfig import settings_from
from common.extras import MissingExtra, require


def load_acd(settings: AcdSettings) -> tuple[ServiceCatalog, tuple[Consultant, ...]]:
    """The configured (or shipped) catalog and roster, or a ClickException saying why not."""
    try:
        return load_configured(settings)
    except AcdConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _settings(ctx: click.Context) -> AcdSettings:
    host = cast(AcdHost, settings_from(ctx))  # the root proves the type (dasan.context)
    return host.acd


def _require_plotting() -> None:
    """Fail before simulating when ``--plot`` cannot be honored."""
    try:
        require("load", "`dasan sim --plot`")
    except MissingExtra as exc:
        raise click.ClickException(str(exc)) from exc


def _pct(x: float) -> str:
    return f"{x:.1%}"


def summary_rows(report: DayReport) -> list[list[str]]:
    rows = []
    for name, p in report.policies.items():
        rows.append(
            [
                name,
                _pct(p.service_level),
                f"{p.asa_s:.1f}",
                _pct(p.abandon_rate),
                _pct(p.occupancy),
                f"{p.fairness_gini:.3f}",
                f"{p.occupancy_cv:.3f}",
            ]
        )
    e = report.erlang
    rows.append(
        [
            "Erlang A (same staffing)",
            _pct(e.service_level),
            f"{e.asa_s:.1f}",
            _pct(e.abandon_rate),
            _pct(e.occupancy),
            "",
            "",
        ]
    )
    rows.append(["Erlang C (no abandonment)", _pct(e.service_level_c), "", "", "", "", ""])
    rows.append(["Erlang A, one pool of all", _pct(e.pooled_service_level), "", "", "", "", ""])
    return rows


HEADERS = [
    "policy",
    "answered ≤ 20 s",
    "ASA (s)",
    "abandoned",
    "occupancy",
    "Gini calls/h",
    "CV occupancy",
]


def queue_rows(report: DayReport) -> tuple[list[str], list[list[str]]]:
    names = list(report.policies)
    first = report.policies[names[0]]
    rows = []
    for service, q in first.queues.items():
        if q.calls:
            rows.append(
                [
                    service,
                    f"{q.calls:,}",
                    *(_pct(report.policies[n].queues[service].service_level) for n in names),
                ]
            )
    return ["queue", "calls", *names], rows


TEXT_HEADERS = ["policy", "channel", "threads", "answered ≤ 60 s", "ASA (s)", "abandoned"]


def text_rows(report: DayReport) -> list[list[str]]:
    """Per policy and channel, the text threads' figures (none when the day had no texts)."""
    rows = []
    for name, p in report.policies.items():
        for channel, t in p.texts.items():
            if t.threads:
                rows.append(
                    [
                        name,
                        channel,
                        f"{t.threads:,}",
                        _pct(t.service_level),
                        f"{t.asa_s:.1f}",
                        f"{t.abandoned:,}",
                    ]
                )
    return rows


def markdown(report: DayReport) -> str:
    def table(headers: list[str], rows: list[list[str]]) -> list[str]:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        return lines + ["| " + " | ".join(r) + " |" for r in rows]

    title = f"`dasan sim --scenario {report.scenario} --seed {report.seed}`: {report.description}; "
    title += f"{report.calls:,} calls, {report.consultants} consultants on shift"
    headers, rows = queue_rows(report)
    texts = text_rows(report)
    return "\n".join(
        [
            title,
            "",
            *table(HEADERS, summary_rows(report)),
            "",
            *table(headers, rows),
            "",
            *((*table(TEXT_HEADERS, texts), "") if texts else ()),
        ]
    )


def _print_tables(report: DayReport, console: Console) -> None:
    table = Table(
        title=f"{report.scenario}: {report.calls:,} calls, {report.consultants} consultants"
    )
    for header in HEADERS:
        table.add_column(header, justify="left" if header == "policy" else "right")
    for row in summary_rows(report):
        table.add_row(*row)
    console.print(table)
    headers, rows = queue_rows(report)
    queues = Table(title="service level by queue")
    for header in headers:
        queues.add_column(header, justify="left" if header == "queue" else "right")
    for row in rows:
        queues.add_row(*row)
    console.print(queues)
    texts = text_rows(report)
    if texts:
        chats = Table(title="chat and SMS threads (the same consultants, at most 3 threads each)")
        for header in TEXT_HEADERS:
            chats.add_column(header, justify="left" if header in ("policy", "channel") else "right")
        for row in texts:
            chats.add_row(*row)
        console.print(chats)


@click.command("sim")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option(
    "--markdown", "as_markdown", is_flag=True, help="Print Markdown tables (for the README)."
)
@click.option("--seed", type=int, default=1, show_default=True, help="Traffic seed.")
@click.option(
    "--calls",
    type=click.IntRange(1, 2_000_000),
    default=SEED_CALLS,
    show_default=True,
    help="Calls in the day; the staffing scales with them.",
)
@click.option(
    "--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), help="Write a PNG plot."
)
@click.option(
    "--scenario",
    "scenario_name",
    type=click.Choice(SCENARIOS),
    default="default",
    show_default=True,
)
@click.option(
    "--policy",
    "policies",
    type=click.Choice(ALL_POLICIES),
    multiple=True,
    help="Only these (repeatable); dasan_callback adds ours with call-back offers.",
)
@click.pass_context
def sim(
    ctx: click.Context,
    *,
    as_json: bool,
    as_markdown: bool,
    seed: int,
    calls: int,
    plot_path: Path | None,
    scenario_name: str,
    policies: tuple[str, ...],
) -> None:
    """Replay a day of traffic through the routing core and app_queue-like strategies."""
    if plot_path is not None:
        _require_plotting()
    settings = _settings(ctx)
    catalog, roster = load_acd(settings)
    err = Console(stderr=True)
    with err.status("simulating") as status:
        report = run_day(
            scenario(scenario_name),
            catalog,
            roster,
            settings,
            seed=seed,
            calls=calls,
            policies=policies or POLICIES,
            progress=status.update,
        )
    if plot_path is not None:
        from acd.sim.plot import plot_day  # matplotlib: the load extra

        plot_day(report, plot_path)
        err.print(f"plot written to {plot_path}")
    if as_json:
        body = report.to_json()
        if plot_path is not None:
            body["plot"] = str(plot_path)
        click.echo(json.dumps(body, ensure_ascii=False))
    elif as_markdown:
        click.echo(markdown(report))
    else:
        _print_tables(report, Console())


COMMANDS = [sim]
