"""``dasan serve``: run the engine in the foreground until SIGTERM."""

from __future__ import annotations

import asyncio
import logging

import click

from dasan.context import settings_from
from dasan.security.defaults import refusal


@click.command()
@click.option("--log-level", default="INFO", show_default=True)
@click.pass_context
def serve(ctx: click.Context, log_level: str) -> None:
    """Run the engine: FastAGI, AMI, ACD, recordings and the HTTP API."""
    from dasan.app import Engine

    settings = settings_from(ctx)
    refused = refusal(settings)
    if refused:
        raise click.ClickException(refused)
    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(Engine(settings).run())


COMMANDS = [serve]
