"""The ``dasan`` command line.

Each area contributes its verbs from its own ``cli`` module (a ``COMMANDS`` list of click
commands); this root only assembles them, so no command is registered at import time.
"""

from __future__ import annotations

import importlib
import sys

import click

from common import cliconfig

# Area modules that contribute commands, in help order.
_COMMAND_MODULES = (
    "dasan.pbx.cli",
    "dasan.serve_cli",
    "dasan.demo_cli",
    "dasan.calls_cli",
    "dasan.alarms_cli",
    "ivr.cli",
    "acd.cli",
    "cti.cli",
    "recordings.cli",
    "safety.cli",
    "dasan.knowledge_cli",
    "dasan.channels_cli",
    "dasan.load_cli",
    "dasan.security.cli",
    "dasan.care_cli",
    "dasan.cluster.cli",
)


def build_cli() -> click.Group:
    @click.group()
    @click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        envvar="DASAN_CONFIG",
        help="TOML configuration file (default: the shipped demo setup).",
    )
    @click.pass_context
    def root(ctx: click.Context, config_path: str | None) -> None:
        """Dasan: citizen contact-center engine beside Asterisk 22."""
        from dasan.context import cli_loader  # loads pydantic and every settings model

        cliconfig.install(ctx, lambda: cli_loader(config_path))
        ctx.obj["config_path"] = config_path  # for verbs that start an engine process

    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # area not built yet
                continue
            raise
        for command in module.COMMANDS:
            root.add_command(command)
    return root


def main() -> None:
    sys.exit(build_cli().main(standalone_mode=True))
