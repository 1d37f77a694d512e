"""``dasan conversations`` and ``dasan sms ...``: the text channels' commands, given settings."""

from __future__ import annotations

import click

from channels.cli import CliEnv, build_commands
from dasan.context import settings_from


def _env(ctx: click.Context) -> CliEnv:
    settings = settings_from(ctx)
    return CliEnv(settings.storage_url, settings.state_dir, settings.channels)


COMMANDS = build_commands(_env)
