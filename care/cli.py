"""CLI verbs of care: ``dasan tickets ...``, ``dasan callbacks ...``, ``dasan report ...``.

The composition root hands in ``open_care`` (settings, database, key); this module never
reads the configuration itself. Every listing has ``--json``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click

from care.errors import CareError
from care.officials import set_official
from care.reports import as_csv, survey_report, tickets_report
from care.system import Care
from care.web import as_data
from common.principal import Principal, Role

OpenCare = Callable[[click.Context], AbstractAsyncContextManager[Care]]
T = TypeVar("T")
_CLI = Principal("cli", Role.ADMIN, "cli")


def _run(work: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(work)
    except CareError as exc:
        raise click.ClickException(str(exc)) from exc


def _print(rows: list[Any], as_json: bool, columns: tuple[str, ...]) -> None:
    data = as_data(rows)
    assert isinstance(data, list)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    for row in data:
        click.echo("  ".join(str(row.get(c, "")) for c in columns))


def build_commands(open_care: OpenCare) -> list[click.Command]:
    async def with_care(ctx: click.Context, work: Callable[[Care], Coroutine[Any, Any, T]]) -> T:
        async with open_care(ctx) as care:
            return await work(care)

    @click.group("tickets")
    def tickets() -> None:
        """129 care tickets: list, escalate overdue ones, officials' departments."""

    @tickets.command("list")
    @click.option("--status", type=click.Choice(["new", "accepted", "resolved"]))
    @click.option("--overdue", is_flag=True, help="Only open tickets past due.")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def list_tickets(ctx: click.Context, status: str | None, overdue: bool, as_json: bool) -> None:
        """Every ticket, soonest due first."""
        rows = _run(with_care(ctx, lambda c: c.tickets.search(_CLI, status=status)))
        if overdue:
            rows = [r for r in rows if r.overdue]
        _print(rows, as_json, ("id", "status", "department", "category", "due_at"))

    @tickets.command("escalate")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def escalate(ctx: click.Context, as_json: bool) -> None:
        """Escalate open tickets past due now (the engine also does this by itself)."""
        ids = _run(with_care(ctx, lambda c: c.tickets.escalate_overdue()))
        click.echo(json.dumps(ids) if as_json else "\n".join(ids) or "none overdue")

    @tickets.command("official")
    @click.argument("user_id")
    @click.argument("department")
    @click.pass_context
    def official(ctx: click.Context, user_id: str, department: str) -> None:
        """Put official USER_ID in DEPARTMENT (e.g. gangnam.construction)."""

        async def work(care: Care) -> None:
            await set_official(care.tickets.storage, care.rules, user_id, department)

        _run(with_care(ctx, work))
        click.echo(f"{user_id} works for {department}")

    @click.group("callbacks")
    def callbacks() -> None:
        """The call-back list: requests, attempts, outcomes, give-ups."""

    @callbacks.command("list")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def list_callbacks(ctx: click.Context, as_json: bool) -> None:
        """Every request (kept ones from requests.jsonl are imported first)."""

        async def work(care: Care) -> list[Any]:
            await care.callbacks.import_jsonl(care.requests_file)
            return await care.callbacks.entries()

        rows = _run(with_care(ctx, work))
        _print(rows, as_json, ("id", "state", "reason", "attempts", "call_id", "last_outcome"))

    @click.command("report")
    @click.argument("what", type=click.Choice(["tickets", "survey"]))
    @click.option("--daily", "period", flag_value="daily", default=True)
    @click.option("--monthly", "period", flag_value="monthly")
    @click.option("--json", "fmt", flag_value="json", default=True)
    @click.option("--csv", "fmt", flag_value="csv")
    @click.pass_context
    def report(ctx: click.Context, what: str, period: str, fmt: str) -> None:
        """Tickets per department and district, or survey aggregates, per day or month."""

        async def work(care: Care) -> list[dict[str, object]]:
            zone = ZoneInfo(care.settings.timezone)
            monthly = period == "monthly"
            storage = care.tickets.storage
            if what == "tickets":
                now = dt.datetime.now(dt.UTC)
                return await tickets_report(storage, now, zone, monthly=monthly)
            return await survey_report(storage, zone, monthly=monthly)

        rows = _run(with_care(ctx, work))
        click.echo(as_csv(rows) if fmt == "csv" else json.dumps(rows, ensure_ascii=False), nl=False)
        if fmt == "json":
            click.echo()

    return [tickets, callbacks, report]
