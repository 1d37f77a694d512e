"""``dasan conversations`` and ``dasan sms up|down|status|send``.

Invariants:
- The commands are built from a settings getter the composition root passes (no import of
  the root here); none needs a running engine except ``sms send``, which asks Kannel directly
  and writes the outbox like the engine does.
- ``--json`` output is a JSON document; ``conversations`` never prints message text or
  numbers (the transcript is read with the key through the recordings tools).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from channels.listing import last_conversations
from channels.settings import ChannelsSettings
from channels.sms.kannel import Kannel, KannelError
from common.storage import Storage


@dataclass(frozen=True, slots=True)
class CliEnv:
    storage_url: str
    state_dir: Path
    channels: ChannelsSettings


EnvOf = Callable[[click.Context], CliEnv]


def build_commands(env_of: EnvOf) -> list[click.Command]:
    @click.command()
    @click.option("--last", "count", default=20, show_default=True, type=click.IntRange(1, 100_000))
    @click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
    @click.pass_context
    def conversations(ctx: click.Context, count: int, as_json: bool) -> None:
        """The last N conversations of every channel: voice, video, chat, SMS."""
        env = env_of(ctx)

        async def read() -> list[dict[str, Any]]:
            storage = await Storage.open(env.storage_url)
            try:
                return await last_conversations(storage, count)
            finally:
                await storage.close()

        rows = asyncio.run(read())
        if as_json:
            click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        _table(rows)

    @click.group()
    def sms() -> None:
        """The SMS gateway (Kannel: bearerbox, smsbox, fakesmsc as the carrier)."""

    @sms.command()
    @click.pass_context
    def up(ctx: click.Context) -> None:
        """Generate the config under the state dir and start Kannel (idempotent)."""
        env = env_of(ctx)
        gateway = Kannel(env.channels.kannel, env.state_dir)
        try:
            gateway.up()
        except KannelError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(
            f"Kannel up: sendsms on {env.channels.kannel.host}:{env.channels.kannel.sendsms_port}"
        )

    @sms.command()
    @click.pass_context
    def down(ctx: click.Context) -> None:
        """Stop what ``sms up`` started."""
        env = env_of(ctx)
        stopped = Kannel(env.channels.kannel, env.state_dir).down()
        click.echo("stopped: " + (", ".join(stopped) or "nothing was running"))

    @sms.command()
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def status(ctx: click.Context, as_json: bool) -> None:
        """Which Kannel parts run and whether the carrier is connected (exit 1 when down)."""
        env = env_of(ctx)
        report = Kannel(env.channels.kannel, env.state_dir).status()
        if as_json:
            click.echo(json.dumps(report, indent=2))
        else:
            for key, value in report.items():
                click.echo(f"{key}: {value}")
        if not report["running"]:
            ctx.exit(1)

    @sms.command()
    @click.argument("line")
    @click.pass_context
    def carrier(ctx: click.Context, line: str) -> None:
        """Make the fake carrier deliver one message ("from to ucs2|text data")."""
        env = env_of(ctx)
        Kannel(env.channels.kannel, env.state_dir).inject(line)

    return [conversations, sms]


def _table(rows: list[dict[str, Any]]) -> None:
    table = Table(title=f"Last {len(rows)} conversations")
    for column in ("id", "channel", "started", "lang", "service", "consultant", "record"):
        table.add_column(column)
    for row in rows:
        rec = row["record"]
        table.add_row(
            row["id"],
            row["channel"],
            str(row["started_at"])[:19],
            row["language"] or "-",
            row["service"] or "-",
            row["consultant"] or "-",
            f"#{rec['id']} {rec['state']} {rec['format']}" if rec else "-",
        )
    Console().print(table)
