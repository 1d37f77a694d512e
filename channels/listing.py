"""One list over every channel: voice calls from the call log, chat and SMS conversations.

Invariants:
- Reads the database only (no engine, no key): no message text, no number is printed.
- Rows carry ``id, channel, language, service, consultant, started_at, ended_at, record``,
  newest first; ``record`` is the call's recording or the conversation's sealed transcript
  (null until cataloged).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from channels.models import ConversationRow, MessageRow
from common.storage import Storage
from recordings.calllog import CallLog
from recordings.catalog import Catalog, Recording
from recordings.chainstore import iso
from recordings.models import RecordingState


def record_json(recording: Recording | None) -> dict[str, Any] | None:
    if recording is None:
        return None
    return {
        "id": recording.id,
        "state": recording.state.value,
        "format": recording.archive_format or recording.format,
        "encrypted": recording.encrypted,
        "duration_s": recording.duration_ms / 1000,
        "root": recording.root,
        "path": recording.archive_rel_path or recording.rel_path,
        "sha256": recording.archive_sha256 or recording.sha256,
    }


def _best(recordings: list[Recording]) -> Recording | None:
    live = [r for r in recordings if r.state is not RecordingState.PURGED] or recordings
    return max(live, key=lambda r: r.duration_ms) if live else None


def _call_channel(journey: Any) -> str:
    """``video`` for a call the IVR tagged as a video call (a sign-language caller), else
    ``voice``."""
    tags = journey.get("tags") if isinstance(journey, dict) else None
    return "video" if isinstance(tags, dict) and tags.get("channel") == "video" else "voice"


async def _voice(storage: Storage, count: int) -> list[dict[str, Any]]:
    calls = await CallLog(storage, None).last(count)
    found = await Catalog(storage).for_calls([c.id for c in calls], [c.uniqueid for c in calls])
    rows = []
    for call in calls:
        mine = [r for r in found if r.call_id == call.id or r.uniqueid == call.uniqueid]
        rows.append(
            {
                "id": call.id,
                "channel": _call_channel(call.journey),
                "language": call.language,
                "service": call.service,
                "consultant": call.consultant,
                "started_at": iso(call.started_at),
                "ended_at": iso(call.ended_at) if call.ended_at else None,
                "record": record_json(_best(mine)),
            }
        )
    return rows


async def _text(storage: Storage, count: int) -> list[dict[str, Any]]:
    async with storage.session() as session:
        convs = list(
            await session.scalars(
                select(ConversationRow).order_by(ConversationRow.started_at.desc()).limit(count)
            )
        )
        result = await session.execute(
            select(MessageRow.conversation_id, func.count())
            .where(MessageRow.conversation_id.in_([c.id for c in convs]))
            .group_by(MessageRow.conversation_id)
        )
        counts: dict[str, int] = {cid: int(n) for cid, n in result}
    ids = [c.recording_id for c in convs if c.recording_id is not None]
    catalog = Catalog(storage)
    recs = {r.id: r for r in await catalog.for_calls([c.id for c in convs], [])} if ids else {}
    return [
        {
            "id": c.id,
            "channel": c.channel,
            "language": c.language,
            "service": c.service,
            "consultant": c.consultant or (c.consultants.split(",")[-1] or None),
            "consultants": [p for p in c.consultants.split(",") if p],
            "started_at": iso(c.started_at),
            "ended_at": iso(c.ended_at) if c.ended_at else None,
            "outcome": c.outcome,
            "messages": counts.get(c.id, 0),
            "record": record_json(recs.get(c.recording_id)) if c.recording_id else None,
        }
        for c in convs
    ]


async def last_conversations(storage: Storage, count: int) -> list[dict[str, Any]]:
    rows = await _voice(storage, count) + await _text(storage, count)
    rows.sort(key=lambda r: str(r["started_at"]), reverse=True)
    return rows[:count]
