"""``dasan cluster up|down|status [--nodes N] [--json]``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from dasan.cluster.nodes import CONSULTANT_MODES, STATIC
from dasan.cluster.plan import (
    ENGINE_SHARE,
    PHASES,
    SEED_CALLS_PER_S,
    SEED_SECONDS,
    Plan,
    PlanError,
    calls_per_core,
    costs_from_results,
    plan,
)
from dasan.cluster.runtime import Cluster, ClusterError
from dasan.cluster.topology import DOC_NETWORKS, TopologyError
from dasan.context import settings_from
from dasan.paths import project_root


def _cluster(ctx: click.Context) -> Cluster:
    path = ctx.obj.get("config_path") if ctx.obj else None
    return Cluster(settings_from(ctx), Path(path) if path else None)


def _print(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report))
        return
    if "removed" in report:
        click.echo("removed: " + (", ".join(report["removed"]) or "nothing"))
        if report["leftovers"]:
            click.echo("still there: " + ", ".join(report["leftovers"]))
        return
    if not report.get("nodes"):
        click.echo("no cluster here (dasan cluster up)")
        return
    kam = report["kamailio"]
    state = "up" if report["running"] else "DOWN"
    click.echo(
        f"front  kamailio {kam['address']}  {state}  pid {kam['pid']}"
        f"  consultants {report.get('consultants', 'static')}"
    )
    if report.get("consultants") == "registered":
        found = report.get("registered")
        click.echo(
            f"consultants registered at kamailio: {len(found)} {' '.join(found)}"
            if found is not None
            else f"consultants registered: unknown ({report.get('registrar_error')})"
        )
    for node in report["nodes"]:
        click.echo(
            f"{node['name']:<6} {node['address']:<15} health {node['health']:<9}"
            f" calls {node['active_calls']}  asterisk {node['asterisk_pid']}"
            f"  engine {node['engine_pid']}"
        )


@click.group()
def cluster() -> None:
    """Kamailio in front of N PBX nodes, each in its own network namespace (one machine)."""


@cluster.command()
@click.option("--nodes", default=2, show_default=True, type=int)
@click.option(
    "--network",
    default=str(DOC_NETWORKS[0]),
    show_default=True,
    type=click.Choice([str(n) for n in DOC_NETWORKS]),
)
@click.option(
    "--consultants",
    default=STATIC,
    show_default=True,
    type=click.Choice(CONSULTANT_MODES),
    help="static: phones at fixed contacts on the host; registered: phones REGISTER at"
    " Kamailio (registrar, contacts in PostgreSQL) and are reached from every node.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def up(ctx: click.Context, nodes: int, network: str, consultants: str, as_json: bool) -> None:
    """Bring up Kamailio and NODES PBX nodes (Asterisk + engine each); returns when ready."""
    try:
        report = _cluster(ctx).up(nodes, network, consultants)
    except (ClusterError, TopologyError) as exc:
        raise click.ClickException(str(exc)) from exc
    _print(report, as_json)


@cluster.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def down(ctx: click.Context, as_json: bool) -> None:
    """Stop everything and remove the namespaces and links."""
    report = _cluster(ctx).down()
    _print(report, as_json)
    if report["leftovers"]:
        raise SystemExit(1)


@cluster.command()
@click.option("--nodes", type=int, default=None, help="Ignored: the layout is the one brought up.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, nodes: int | None, as_json: bool) -> None:
    """Each node's health as Kamailio sees it, and its calls."""
    _print(_cluster(ctx).status(), as_json)


def _phase_results(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise click.ClickException(
            f"{path}: no per-phase costs measured yet (make bench, or give --cost PHASE=MS)"
        ) from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{path}: not a readable results file: {exc}") from exc
    if not isinstance(data, dict):
        raise click.ClickException(f"{path}: not a pbx_phases results file")
    return data


def _pairs(values: tuple[str, ...], what: str) -> dict[str, float]:
    out = {}
    for item in values:
        name, sep, number = item.partition("=")
        if not sep or name not in PHASES:
            raise click.BadParameter(
                f"{item!r}: expected PHASE=NUMBER with PHASE one of {', '.join(PHASES)}",
                param_hint=what,
            )
        try:
            out[name] = float(number)
        except ValueError as exc:
            raise click.BadParameter(
                f"{item!r}: {number!r} is not a number", param_hint=what
            ) from exc
    return out


def _print_plan(result: Plan, source: str) -> None:
    click.echo(f"peak {result.calls_per_s:g} calls/s; costs from {source}")
    click.echo(
        f"{'phase':<12} {'seconds':>8} {'ms/call-s':>10} {'calls':>8} {'cores':>7} {'calls/core':>11}"
    )
    for p in result.phases:
        per_core = calls_per_core(p.ms_per_call_s) if p.ms_per_call_s > 0 else 0
        click.echo(
            f"{p.phase:<12} {p.seconds:>8g} {p.ms_per_call_s:>10.2f} {p.concurrent:>8.1f}"
            f" {p.cores:>7.2f} {per_core:>11}"
        )
    click.echo(
        f"concurrent calls {result.concurrent:.0f}; Asterisk {result.asterisk_cores:.2f} cores"
        f" + engine {result.engine_share:g}x = {result.asterisk_cores * (1 + result.engine_share):.2f}"
        f" cores; at {result.utilisation:.0%} utilisation {result.cores_needed:.2f} cores"
    )
    click.echo(
        f"nodes of {result.cores_per_node:g} cores: {result.nodes} + {result.spare} spare"
        f" = {result.total_nodes}"
    )


@cluster.command("plan")
@click.option(
    "--calls-per-s",
    type=float,
    default=SEED_CALLS_PER_S,
    show_default=True,
    help="Peak arrival rate (the seed's peak hour by default).",
)
@click.option(
    "--seconds",
    "seconds_in",
    multiple=True,
    metavar="PHASE=S",
    help="Mean seconds per call in a phase (repeatable; seed defaults: "
    + ", ".join(f"{k}={v:g}" for k, v in SEED_SECONDS.items())
    + ").",
)
@click.option(
    "--cost",
    "costs_in",
    multiple=True,
    metavar="PHASE=MS",
    help="Asterisk ms of CPU per call-second of a phase (default: the results file).",
)
@click.option(
    "--results",
    type=click.Path(path_type=Path),
    default=None,
    help="A pbx_phases results file [default: benchmarks/results/pbx_phases.json].",
)
@click.option("--cores-per-node", type=float, default=2.0, show_default=True)
@click.option(
    "--utilisation",
    type=float,
    default=0.7,
    show_default=True,
    help="Share of a node's cores the plan may use at peak.",
)
@click.option(
    "--spare",
    type=int,
    default=1,
    show_default=True,
    help="Nodes on top to survive losing that many (N+1).",
)
@click.option(
    "--engine-share",
    type=float,
    default=ENGINE_SHARE,
    show_default=True,
    help="The engine's CPU on a node as a share of Asterisk's (0: Asterisk only). Default:"
    " pbx_capacity's seed-length calls with Opus archiving; every node runs its engine.",
)
@click.option("--json", "as_json", is_flag=True)
def plan_command(**given: Any) -> None:
    """How many PBX nodes a center needs at its peak (Little's law over measured phase costs)."""
    seconds = dict(SEED_SECONDS) | _pairs(given["seconds_in"], "--seconds")
    costs = _pairs(given["costs_in"], "--cost")
    results: Path | None = given["results"]
    source = "--cost"
    missing = [p for p in PHASES if seconds.get(p, 0) > 0 and p not in costs]
    if missing:
        path = results or project_root() / "benchmarks" / "results" / "pbx_phases.json"
        data = _phase_results(path)
        try:
            costs = costs_from_results(data) | costs
        except PlanError as exc:
            raise click.ClickException(f"{path}: {exc}") from exc
        shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
        source = f"{shown} (measured {data.get('measured_at', '?')})"
    try:
        result = plan(
            given["calls_per_s"],
            seconds,
            costs,
            cores_per_node=given["cores_per_node"],
            utilisation=given["utilisation"],
            spare=given["spare"],
            engine_share=given["engine_share"],
        )
    except PlanError as exc:
        raise click.ClickException(str(exc)) from exc
    if given["as_json"]:
        click.echo(json.dumps(result.as_json() | {"costs_from": source}))
        return
    _print_plan(result, source)


COMMANDS = [cluster]
