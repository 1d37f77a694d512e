"""``dasan safety import|people|plan|report|timeline``.

Invariants:
- No command needs a running engine: each opens the configured database and key itself.
- ``import`` stores nothing unless every row is valid, prints every rejected row with its
  reasons, and exits 1 when anything was rejected.
- Personal data is printed only by ``people --show``; ``report`` and ``plan`` have none.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

import click

from acd.settings import AcdSettings
from common import cliconfig
from common.storage import Storage
from ivr.closed_days import HolidayCalendar
from ivr.hours import load_closed_days
from ivr.settings import IvrSettings
from recordings.keys import KeyFileError, load_or_create_key_ring
from recordings.settings import RecordingsSettings
from safety.protect import PersonalData
from safety.report import build_report
from safety.schedule import Enrollee, plan_week, week_of
from safety.settings import SafetySettings
from safety.store import SafetyStore

T = TypeVar("T")
ZONE = ZoneInfo("Asia/Seoul")  # Seoul's districts: Seoul's calendar


class SafetyHost(Protocol):
    """What the safety commands need of the application's settings."""

    @property
    def safety(self) -> SafetySettings: ...
    @property
    def recordings(self) -> RecordingsSettings: ...
    @property
    def state_dir(self) -> Path: ...
    @property
    def storage_url(self) -> str: ...
    @property
    def ivr(self) -> IvrSettings: ...
    @property
    def acd(self) -> AcdSettings: ...


def key_path(host: SafetyHost) -> Path:
    return host.recordings.key_file or host.state_dir / "keys" / "recordings.key"


def _host(ctx: click.Context) -> SafetyHost:
    host: SafetyHost = cliconfig.settings_from(ctx)  # type: ignore[assignment]
    return host


def _with_store(host: SafetyHost, work: Callable[[SafetyStore], Awaitable[T]]) -> T:
    async def main() -> T:
        ring = await asyncio.to_thread(
            load_or_create_key_ring, key_path(host), create=host.recordings.create_key
        )
        storage = await Storage.open(host.storage_url)
        try:
            return await work(SafetyStore(storage, PersonalData(ring)))
        finally:
            await storage.close()

    try:
        return asyncio.run(main())
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from exc


def _print_json(data: object) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.group("safety")
def safety_group() -> None:
    """Safety calls for elderly people living alone."""


@safety_group.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.option("--dry-run", is_flag=True, help="Validate only; store nothing.")
@click.pass_context
def import_cmd(ctx: click.Context, csv_file: Path, as_json: bool, dry_run: bool) -> None:
    """Enroll people from a CSV file: all rows or none."""
    host = _host(ctx)
    try:
        text = csv_file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{csv_file}: not UTF-8 text ({exc})") from exc
    now = dt.datetime.now(dt.UTC)
    report = _with_store(host, lambda store: store.import_csv(text, now, dry_run=dry_run))
    if as_json:
        _print_json(report.to_json())
    else:
        for problem in report.problems:
            click.echo(f"{csv_file}: {problem}")
        for row in report.rejected:
            click.echo(f"{csv_file}:{row.line}: {'; '.join(row.reasons)}")
        verdict = "stored" if report.stored else "nothing stored"
        click.echo(f"{len(report.accepted)} valid, {len(report.rejected)} rejected: {verdict}")
    if not report.ok:
        sys.exit(1)


@safety_group.command("people")
@click.option("--json", "as_json", is_flag=True)
@click.option("--show", is_flag=True, help="Print names and numbers (personal data).")
@click.pass_context
def people_cmd(ctx: click.Context, as_json: bool, show: bool) -> None:
    """The enrolled people (personal data only with --show)."""
    people = _with_store(_host(ctx), lambda store: store.people())
    rows: list[dict[str, Any]] = []
    for p in people:
        row: dict[str, Any] = {
            "id": p.id,
            "district": p.district,
            "language": p.language,
            "hours": f"{p.window_start:%H:%M}-{p.window_end:%H:%M}",
            "personal_call": p.personal_call,
            "calls_per_week": p.calls_per_week,
        }
        if show:
            row |= {"name": p.name, "number": p.number}
        rows.append(row)
    if as_json:
        _print_json(rows)
        return
    for row in rows:
        click.echo("  ".join(str(v) for v in row.values()))


@safety_group.command("plan")
@click.option("--week", "week", help="A date in the week to plan (default: this week).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def plan_cmd(ctx: click.Context, week: str | None, as_json: bool) -> None:
    """The week's planned calls (holidays skipped), per day."""
    host = _host(ctx)
    try:
        day = dt.date.fromisoformat(week) if week else None
    except ValueError as exc:
        raise click.ClickException(f"--week: {exc}") from exc
    start = (
        week_of(dt.datetime.now(dt.UTC), ZONE)
        if day is None
        else day - dt.timedelta(days=day.weekday())
    )
    people = _with_store(host, lambda store: store.people())
    enrollees = [Enrollee(p.id, p.window_start, p.window_end, p.calls_per_week) for p in people]
    calendar = HolidayCalendar(load_closed_days(host.ivr.holidays_file))
    plan = plan_week(enrollees, start, ZONE, host.safety.weekdays, calendar.__contains__)
    per_day: dict[str, int] = {}
    for call in plan:
        key = call.at.astimezone(ZONE).date().isoformat()
        per_day[key] = per_day.get(key, 0) + 1
    data = {"week": start.isoformat(), "calls": len(plan), "per_day": per_day}
    if as_json:
        _print_json(data)
    else:
        click.echo(f"week of {start}: {len(plan)} calls")
        for key, count in per_day.items():
            click.echo(f"  {key}  {count}")


@safety_group.command("report")
@click.option("--json", "as_json", is_flag=True)
@click.option("--since", help="Only calls placed since this ISO time.")
@click.pass_context
def report_cmd(ctx: click.Context, as_json: bool, since: str | None) -> None:
    """Calls made, people reached, escalations open and closed, per district."""
    try:
        start = dt.datetime.fromisoformat(since) if since else None
    except ValueError as exc:
        raise click.ClickException(f"--since: {exc}") from exc
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=ZONE)

    async def gather(store: SafetyStore) -> dict[str, Any]:
        return build_report(
            await store.districts(),
            await store.attempts(),
            await store.escalations(),
            await store.notifications(),
            start,
        )

    data = _with_store(_host(ctx), gather)
    if as_json:
        _print_json(data)
        return
    total = data["total"]
    click.echo(
        f"{total['people']} people, {total['calls_made']} calls, {total['people_reached']} reached, "
        f"escalations {total['escalations_open']} open / {total['escalations_closed']} closed"
    )
    for code, section in data["districts"].items():
        click.echo(
            f"  {code:14} {section['people']:5} people {section['calls_made']:5} calls "
            f"{section['people_reached']:5} reached {section['escalations_open']:3} open"
        )


@safety_group.command("timeline")
@click.argument("person_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def timeline_cmd(ctx: click.Context, person_id: str, as_json: bool) -> None:
    """One person's timeline: calls, outcomes, escalations, notifications."""
    entries = _with_store(_host(ctx), lambda store: store.timeline(person_id))
    if as_json:
        _print_json(entries)
        return
    for entry in entries:
        click.echo(f"{entry['at']}  {entry['kind']:24} {json.dumps(entry['detail'])}")


@safety_group.command("simulate")
@click.option("--people", default=500, show_default=True, type=click.IntRange(1, 100_000))
@click.option(
    "--share",
    default=0.15,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of safety calls that need a consultant (pressed 2, personal).",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def simulate_cmd(ctx: click.Context, people: int, share: float, as_json: bool) -> None:
    """A seed day of 120 calls with and without a campaign's Monday (the ACD simulator)."""
    from acd.errors import AcdConfigError
    from safety.simday import CampaignLoad, compare_day

    host = _host(ctx)
    try:
        data = compare_day(host.acd, CampaignLoad(people=people, consultant_share=share))
    except AcdConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        _print_json(data)
        return
    for key, value in data.items():
        click.echo(f"{key}: {value}")


COMMANDS = [safety_group]
