"""``dasan calls``: the last calls from the call log, as a table or JSON.

Invariants:
- Reads the database only (no engine, no key: callers' numbers are never printed).
- ``--json`` prints a JSON list, newest first; each call has at least ``id``, ``started_at``
  (ISO 8601), ``language`` (ISO 639-1 or null), ``service``, ``consultant``, ``journey``,
  ``recording`` (null until a recording is cataloged) and ``tenant`` (the district whose number
  was dialed, or ``city``).
- ``--tenant ID`` lists only that tenant's calls (``city``: the city's own line).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from common.storage import Storage
from dasan.config import Settings
from dasan.context import settings_from
from recordings.calllog import CITY_TENANT, CallLog, CallRecord
from recordings.catalog import Catalog, Recording
from recordings.chainstore import iso
from recordings.models import ParticipantRole, RecordingState


def recording_json(recording: Recording | None) -> dict[str, Any] | None:
    if recording is None:
        return None
    return {
        "id": recording.id,
        "state": recording.state.value,
        "format": recording.archive_format or recording.format,
        "duration_s": recording.duration_ms / 1000,
        "sha256": recording.sha256,
        "encrypted": recording.encrypted,
        "root": recording.root,
        "path": recording.archive_rel_path or recording.rel_path,
    }


def call_json(call: CallRecord, recording: Recording | None) -> dict[str, Any]:
    return {
        "id": call.id,
        "uniqueid": call.uniqueid,
        "linkedid": call.linkedid,
        "started_at": iso(call.started_at),
        "ended_at": iso(call.ended_at) if call.ended_at else None,
        "duration_s": call.duration_ms / 1000 if call.duration_ms is not None else None,
        "language": call.language,
        "service": call.service,
        "consultant": call.consultant,
        "consultants": call.people(ParticipantRole.CONSULTANT),
        "interpreters": call.people(ParticipantRole.INTERPRETER),
        "supervisors": call.people(ParticipantRole.SUPERVISOR),
        "journey": call.journey,
        "recording": recording_json(recording),
        "tenant": call.tenant or CITY_TENANT,
    }


def _best(recordings: list[Recording]) -> Recording | None:
    if not recordings:
        return None
    live = [r for r in recordings if r.state is not RecordingState.PURGED] or recordings
    return max(live, key=lambda r: r.duration_ms)


async def last_calls(
    settings: Settings, count: int, tenant: str | None = None
) -> list[dict[str, Any]]:
    storage = await Storage.open(settings.storage_url)
    try:
        calls = await CallLog(storage, None).last(count, tenant=tenant)
        found = await Catalog(storage).for_calls([c.id for c in calls], [c.uniqueid for c in calls])
    finally:
        await storage.close()
    out = []
    for call in calls:
        mine = [r for r in found if r.call_id == call.id or r.uniqueid == call.uniqueid]
        out.append(call_json(call, _best(mine)))
    return out


@click.command()
@click.option("--last", "count", default=20, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.option(
    "--tenant",
    default=None,
    help=f"Only this district's calls (districts as tenants; {CITY_TENANT!r}: the city's line).",
)
@click.pass_context
def calls(ctx: click.Context, count: int, as_json: bool, tenant: str | None) -> None:
    """The last N calls: language, service, consultant, journey, recording, tenant."""
    rows = asyncio.run(last_calls(settings_from(ctx), count, tenant))
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"Last {len(rows)} calls")
    columns = ("id", "started", "dur s", "lang", "service", "tenant", "consultant", "recording")
    for column in columns:
        table.add_column(column)
    for row in rows:
        rec = row["recording"]
        table.add_row(
            row["id"],
            row["started_at"][:19],
            f"{row['duration_s'] or 0:.1f}",
            row["language"] or "-",
            row["service"] or "-",
            row["tenant"],
            row["consultant"] or "-",
            f"#{rec['id']} {rec['state']} {rec['format']}" if rec else "-",
        )
    Console().print(table)


COMMANDS = [calls]
