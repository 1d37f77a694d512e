"""Helpers for CLI commands: load settings once from the root --config option."""

from __future__ import annotations

from pathlib import Path

import click

from dasan.config import ConfigError, Settings, load_settings


def settings_from(ctx: click.Context) -> Settings:
    root = ctx.find_root()
    obj = root.obj if isinstance(root.obj, dict) else {}
    cached = obj.get("settings")
    if isinstance(cached, Settings):
        return cached
    path = obj.get("config_path")
    try:
        settings = load_settings(Path(path) if path else None)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    obj["settings"] = settings
    return settings
