"""``dasan cluster up|down|status [--nodes N] [--json]``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from dasan.cluster.nodes import CONSULTANT_MODES, STATIC
from dasan.cluster.runtime import Cluster, ClusterError
from dasan.cluster.topology import DOC_NETWORKS, TopologyError
from dasan.context import settings_from


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


COMMANDS = [cluster]
