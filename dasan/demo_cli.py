"""``dasan demo``: a handful of real calls through the PBX and engine, and what happened."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from dasan.context import settings_from
from dasan.demo import DemoEngine, DemoRow, collect_records, place_calls
from dasan.demo_sms import DemoSms, sms_round_trip
from dasan.pbx.container import PbxError
from dasan.pbx.service import pbx_container

_err = Console(stderr=True)


def _row_json(row: DemoRow) -> dict[str, Any]:
    return {
        "call": row.call.label,
        "caller": row.call.caller,
        "keys": row.call.keys,
        "dtmf": row.call.dtmf,
        "uniqueid": row.uniqueid,
        "sipp_ok": bool(row.sipp and row.sipp.ok),
        "answered_by": row.answered_by,
        "wait_s": round(row.wait_s, 1) if row.wait_s is not None else None,
        **row.record,
    }


def _table(rows: list[DemoRow]) -> Table:
    table = Table(title="Dasan demo: citizen calls to 120")
    for name in ("call", "lang", "service", "consultant", "answered after", "recording", "length"):
        table.add_column(name)
    for row in rows:
        rec = row.record
        table.add_row(
            row.call.label,
            str(rec.get("language") or "-"),
            str(rec.get("service") or "-"),
            row.answered_by or "not answered",
            f"{row.wait_s:.1f} s" if row.wait_s is not None else "-",
            str(rec.get("file") or "-"),
            f"{rec['duration_s']:.1f} s" if "duration_s" in rec else "-",
        )
    return table


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list instead of a table.")
@click.pass_context
def demo(ctx: click.Context, as_json: bool) -> None:
    """Place six calls (six languages' worth of menus, RFC 2833 and SIP INFO keys) to the 120
    line and report who answered, the language, service and each call's recording."""
    settings = settings_from(ctx)
    say = _err.print
    try:
        status = pbx_container(settings).status()
    except PbxError as exc:
        raise click.ClickException(str(exc)) from exc
    if not status.running:
        raise click.ClickException("the PBX is not running: start it with `dasan pbx up`")
    root = ctx.find_root().obj or {}
    engine = DemoEngine(settings, root.get("config_path"), settings.state_dir / "demo-engine.log")
    try:
        engine.start(say)
        rows = asyncio.run(place_calls(settings, settings.state_dir / "demo-sipp", say))
        sms = asyncio.run(sms_round_trip(settings, say))
        say("waiting for the recordings to be cataloged and archived")
        asyncio.run(collect_records(settings, rows))
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        engine.stop()
    if as_json:
        sms_row = {"call": _SMS_LABEL, **sms.as_json()}
        click.echo(json.dumps([*(_row_json(r) for r in rows), sms_row], ensure_ascii=False))
    else:
        Console().print(_table(rows))
        Console().print(_sms_line(sms))
        answered = sum(1 for r in rows if r.answered_by)
        Console().print(
            f"{answered}/{len(rows)} calls answered by consultants; every call recorded. "
            "The PBX stays up: `dasan pbx status`, `dasan calls`, `dasan recordings audit`; "
            "stop it with `dasan pbx down`."
        )
    if not all(r.answered_by and r.sipp and r.sipp.ok for r in rows):
        ctx.exit(1)
    if not sms.gateway_up:
        return  # `dasan demo` without `dasan sms up`: the calls are the demo
    if not sms.ok:
        ctx.exit(1)


_SMS_LABEL = "SMS in Korean (fakesmsc -> Kannel -> consultant -> reply)"


def _sms_line(sms: DemoSms) -> str:
    if sms.skipped is not None:
        return f"SMS: not shown: {sms.skipped}."
    reply = "replied through Kannel" if sms.replied else "the reply was NOT accepted"
    return (
        f"SMS: {sms.sender} wrote in {sms.language}; held by {sms.consultant}, who "
        f"{reply} (conversation {sms.conversation}, {sms.messages} messages; "
        "`dasan conversations`)."
    )


COMMANDS = [demo]
