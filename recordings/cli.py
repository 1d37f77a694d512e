"""``dasan recordings ...``: audit, purge, access report, search, recover, transcribe, export.

Invariants:
- No command needs a running engine: each opens the configured database and spools itself.
- ``audit`` exits 1 when there is any gap and prints every gap (or JSON with ``--json``).
- Commands that touch recordings' content act as the CLI principal (role admin, origin
  "cli") and are written to the access log like any other access.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import click
from rich.console import Console
from rich.table import Table

from common.cliconfig import settings_from
from common.principal import Principal, Role
from recordings.access import AccessError
from recordings.audit import AuditReport, audit_async
from recordings.keys import KeyFileError
from recordings.settings import RecordingsHost
from recordings.system import Recordings

T = TypeVar("T")


def cli_principal() -> Principal:
    return Principal(user_id=f"cli:{getpass.getuser()}", role=Role.ADMIN, origin="cli")


def _host(ctx: click.Context) -> RecordingsHost:
    return cast(RecordingsHost, settings_from(ctx))  # the root proves the type (dasan.context)


def _with_system(settings: RecordingsHost, work: Callable[[Recordings], Awaitable[T]]) -> T:
    async def main() -> T:
        system = await Recordings.open(settings)
        try:
            return await work(system)
        finally:
            await system.close()

    try:
        return asyncio.run(main())
    except (KeyFileError, AccessError) as exc:
        raise click.ClickException(str(exc)) from exc


def _parse_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO 8601 date/time: {text}") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _emit_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


@click.group()
def recordings() -> None:
    """Mandatory recording: audit, retention, access, transcripts."""


@recordings.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--no-hashes", is_flag=True, help="Skip reading files to verify their hashes.")
@click.option("--since", help="Only calls/recordings from this ISO date/time on.")
@click.pass_context
def audit(ctx: click.Context, as_json: bool, no_hashes: bool, since: str | None) -> None:
    """Reconcile calls (CDR + call log) with the catalog and files; exit 1 on any gap."""
    settings = _host(ctx)
    report: AuditReport = asyncio.run(
        audit_async(settings, verify_hashes=not no_hashes, since=_parse_time(since))
    )
    if as_json:
        _emit_json(report.as_json())
    else:
        for note in report.notes:
            click.echo(f"note: {note}")
        for gap in report.gaps:
            click.echo(f"GAP {gap}")
        click.echo(
            f"{report.calls_checked} calls, {report.recordings_checked} recordings, "
            f"{report.files_seen} files, {report.hashes_verified} hashes verified, "
            f"{len(report.in_progress)} in progress: "
            + ("OK" if report.ok else f"{len(report.gaps)} gap(s)")
        )
    sys.exit(0 if report.ok else 1)


@recordings.command()
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--as-of", help="Evaluate expiry at this ISO time instead of now.")
@click.pass_context
def purge(ctx: click.Context, dry_run: bool, as_json: bool, as_of: str | None) -> None:
    """Delete recordings past their retention; each deletion is proven in the catalog chain."""
    now = _parse_time(as_of) or datetime.now(UTC)
    result = _with_system(_host(ctx), lambda s: s.retention.purge(now, dry_run=dry_run))
    if as_json:
        _emit_json(
            {
                "dry_run": result.dry_run,
                "purged": [item.as_json() for item in result.purged],
                "leftovers_removed": result.leftovers_removed,
                "access_entries_pruned": result.access_entries_pruned,
            }
        )
        return
    verb = "would purge" if dry_run else "purged"
    for item in result.purged:
        click.echo(
            f"{verb} recording #{item.recording_id} call {item.call_id or '-'} "
            f"(service {item.service or '-'}, {item.retention_days} days, expired {item.expired_at:%Y-%m-%d})"
        )
    click.echo(f"{len(result.purged)} recording(s) {verb}")


@recordings.command("access-report")
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def access_report(ctx: click.Context, month: str, as_json: bool) -> None:
    """Who accessed recordings in a month, and whether the access log is intact."""
    try:
        report = _with_system(_host(ctx), lambda s: s.access.report(cli_principal(), month))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--month") from exc
    if as_json:
        _emit_json(report.as_json())
    else:
        table = Table(title=f"Recording access {month}")
        for column in ("#", "at", "user", "role", "from", "action", "call", "outcome", "reason"):
            table.add_column(column)
        for e in report.entries:
            table.add_row(
                str(e.seq),
                e.at,
                e.user_id,
                e.role,
                e.origin,
                e.action.value,
                e.call_id or "",
                e.outcome.value,
                e.reason,
            )
        Console().print(table)
        click.echo(
            f"{len(report.entries)} entries, {report.denied} denied; access log "
            + (
                "intact"
                if not report.chain_breaks
                else f"BROKEN at {len(report.chain_breaks)} place(s)"
            )
        )
    if report.chain_breaks:
        sys.exit(1)


@recordings.command()
@click.argument("keyword")
@click.option("--reason", required=True, help="Why you search (written to the access log).")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def search(ctx: click.Context, keyword: str, reason: str, limit: int, as_json: bool) -> None:
    """Find calls whose transcript contains KEYWORD."""
    hits = _with_system(
        _host(ctx), lambda s: s.access.search(cli_principal(), keyword, reason, limit)
    )
    if as_json:
        _emit_json([h.as_json() for h in hits])
        return
    for hit in hits:
        click.echo(f"call {hit.call_id or '-'} (recording #{hit.recording_id}): {hit.snippet}")
    click.echo(f"{len(hits)} hit(s)")


@recordings.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def recover(ctx: click.Context, as_json: bool) -> None:
    """Catalog and archive recordings left in the spools (whose calls are over)."""
    report = _with_system(_host(ctx), lambda s: s.pipeline.recover())
    if as_json:
        _emit_json(
            {"archived": report.archived, "pending": report.pending, "failed": report.failed}
        )
    else:
        click.echo(
            f"{len(report.archived)} archived, {len(report.pending)} pending, {len(report.failed)} failed"
        )
    if report.failed:
        sys.exit(1)


@recordings.command()
@click.option("--limit", default=100, show_default=True)
@click.pass_context
def transcribe(ctx: click.Context, limit: int) -> None:
    """Transcribe archived recordings waiting for a transcript (loads the speech model)."""
    count = _with_system(_host(ctx), lambda s: s.transcripts.transcribe_pending(limit))
    click.echo(f"{count} recording(s) transcribed")


@recordings.command()
@click.argument("call_id")
@click.option("--reason", required=True, help="Why you export it (written to the access log).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.pass_context
def export(ctx: click.Context, call_id: str, reason: str, output: Path) -> None:
    """Decrypt one call's recording to a file (logged as a download)."""
    data = _with_system(_host(ctx), lambda s: s.access.read_audio(cli_principal(), call_id, reason))
    # Personal data in clear: readable by the owner only.
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    click.echo(f"{len(data)} bytes written to {output} (mode 0600)")


COMMANDS = [recordings]
