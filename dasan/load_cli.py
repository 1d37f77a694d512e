"""``dasan load PROFILE``: seed traffic through the real PBX and engine, measured.

Expects ``dasan pbx up`` and ``dasan serve`` running; ``--up`` starts whatever is missing for
the run (and stops it afterwards). Consultants are ONE SIPp UAS at 127.0.0.1:5090, citizens
SIPp UACs (one per call type and stage). Progress goes to stderr; the report to stdout as
tables, or with ``--json`` as exactly one JSON object. The full report (with the per-second
timeline) and a PNG plot are written to the run folder. The run itself
(``dasan/load/command.py``) needs the ``load`` extra; without it the command says so.

Invariants: exit status 1 on any SIPp failure or recordings-audit gap (and on a run its
deadline cut short), 0 otherwise; ``--json`` prints nothing else on stdout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from common.extras import MissingExtra, require


@click.command("load")
@click.argument("profile_name", metavar="PROFILE")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--calls", type=click.IntRange(min=1), help="Place at most this many calls.")
@click.option(
    "--duration", type=click.FloatRange(min=0, min_open=True), help="Seconds to place calls."
)
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), help="New calls per second.")
@click.option("--scale", type=click.FloatRange(min=0, min_open=True), help="Multiply the rate.")
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="PNG to write (default: load.png in the run folder).",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Run folder (default: <state>/load/<profile>-<time>).",
)
@click.option("--up", is_flag=True, help="Start the PBX and engine if they are not running.")
@click.option("--no-audit", is_flag=True, help="Skip the recordings audit (audit_ok: null).")
@click.pass_context
def load(ctx: click.Context, /, profile_name: str, **given: Any) -> None:
    """Run a traffic PROFILE (smoke, seed-peak, stress or a YAML file) through PBX + engine."""
    try:
        require("load", "`dasan load`")
    except MissingExtra as exc:
        raise click.ClickException(str(exc)) from exc
    from dasan.load.command import LoadOptions, run_command  # needs the load extra

    run_command(ctx, profile_name, LoadOptions(**given))


COMMANDS = [load]
