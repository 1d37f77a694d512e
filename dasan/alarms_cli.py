"""``dasan alarms``: what is wrong right now (and recently), from the database; no engine needed."""

from __future__ import annotations

import asyncio
import json

import click
from rich.console import Console
from rich.table import Table

from common.alarms import Alarm, AlarmStore
from common.storage import Storage
from dasan.context import settings_from


def alarm_json(alarm: Alarm) -> dict[str, object]:
    return {
        "id": alarm.id,
        "source": alarm.source,
        "key": alarm.key,
        "severity": alarm.severity.value,
        "message": alarm.message,
        "raised_at": alarm.raised_at.isoformat(),
        "cleared_at": alarm.cleared_at.isoformat() if alarm.cleared_at else None,
    }


async def _load(url: str, history: int) -> list[Alarm]:
    storage = await Storage.open(url)
    try:
        store = AlarmStore(storage)
        return await (store.history(history) if history else store.active())
    finally:
        await storage.close()


@click.command()
@click.option("--history", type=int, default=0, help="Show the last N alarms, cleared ones too.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def alarms(ctx: click.Context, history: int, as_json: bool) -> None:
    """Active alarms (recording failures, low disk, ...); exit 1 if any is active."""
    settings = settings_from(ctx)
    found = asyncio.run(_load(settings.storage_url, history))
    if as_json:
        click.echo(json.dumps([alarm_json(a) for a in found], ensure_ascii=False))
    else:
        table = Table("raised", "severity", "source", "key", "message", "cleared")
        for alarm in found:
            table.add_row(
                alarm.raised_at.strftime("%Y-%m-%d %H:%M:%S"),
                alarm.severity.value,
                alarm.source,
                alarm.key,
                alarm.message,
                alarm.cleared_at.strftime("%H:%M:%S") if alarm.cleared_at else "",
            )
        Console().print(table if found else "no alarms")
    ctx.exit(1 if any(a.active for a in found) else 0)


COMMANDS = [alarms]
