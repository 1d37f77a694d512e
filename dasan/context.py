"""Settings for the CLI: the loader the root command installs, and typed access for dasan's verbs.

Invariant: feature packages never import this module; they read the settings through
``common.cliconfig`` and a Protocol of their own, which ``_views`` proves ``Settings`` satisfies.
"""

from __future__ import annotations

from pathlib import Path

import click

from acd.settings import AcdHost
from common import cliconfig
from cti.settings import CtiHost
from dasan.config import ConfigError, Settings, load_settings
from ivr.settings import IvrHost
from recordings.settings import RecordingsHost


def cli_loader(config_path: str | None) -> Settings:
    """Load the settings for one CLI invocation, or a ClickException saying what is wrong."""
    try:
        return load_settings(Path(config_path) if config_path else None)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def settings_from(ctx: click.Context) -> Settings:
    settings = cliconfig.settings_from(ctx)
    if not isinstance(settings, Settings):
        raise click.ClickException(f"the CLI context holds no settings ({type(settings).__name__})")
    return settings


def _views(settings: Settings) -> tuple[AcdHost, CtiHost, IvrHost, RecordingsHost]:
    """Never called: mypy checks here that the settings satisfy every feature's view of them."""
    return settings, settings, settings, settings
