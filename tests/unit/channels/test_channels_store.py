"""Conversations: messages sealed at rest, dense and idempotent; the transcript in the catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from channels.conversations import Conversations
from channels.listing import last_conversations
from channels.model import Channel, Outcome, Sender
from channels.models import MessageRow
from channels.store import ConversationClosed
from channels.transcript import read_transcript
from common.storage import Storage
from dasan.config import Settings
from recordings.audit import audit_storage
from recordings.catalog import Catalog, catalog_problems
from recordings.keys import KeyRing
from recordings.reconcile import GapKind

KOREAN = "버스 노선이 바뀌었나요? <script>alert(1)</script>"


async def _chat(conversations: Conversations) -> str:
    conv = await conversations.store.open(Channel.CHAT, "ko", "general", "h" * 64)
    store = conversations.store
    await store.add(conv.id, Sender.CITIZEN, KOREAN, client_ref="r1")
    await store.assign(conv.id, "c0001")
    await store.add(conv.id, Sender.CONSULTANT, "네, 3월부터 바뀌었습니다.", author="c0001")
    return conv.id


async def test_texts_are_sealed_at_rest_and_read_back(
    conversations: Conversations, storage: Storage
) -> None:
    conv_id = await _chat(conversations)
    async with storage.session() as session:
        blobs = [r.body_enc for r in await session.scalars(select(MessageRow))]
    assert blobs and all("버스".encode() not in b and b"script" not in b for b in blobs)
    messages = await conversations.store.messages(conv_id)
    assert [m.seq for m in messages] == [1, 2]
    assert messages[0].text == KOREAN  # stored verbatim; pages show it as text


async def test_a_message_sent_twice_is_stored_once(conversations: Conversations) -> None:
    conv_id = await _chat(conversations)
    again, new = await conversations.store.add(conv_id, Sender.CITIZEN, KOREAN, client_ref="r1")
    assert (again.seq, new) == (1, False)
    assert len(await conversations.store.messages(conv_id)) == 2


async def test_ending_seals_the_transcript_into_the_catalog(
    conversations: Conversations, storage: Storage, ring: KeyRing, settings: Settings
) -> None:
    conv_id = await _chat(conversations)
    ended = await conversations.end(conv_id)
    assert ended.outcome is Outcome.ANSWERED and ended.recording_id is not None
    assert (await conversations.end(conv_id)).recording_id == ended.recording_id  # idempotent
    catalog = Catalog(storage)
    rec = await catalog.get(ended.recording_id)
    assert rec.encrypted and rec.uniqueid == conv_id and rec.archive_format == "jsonl"
    sealed = settings.recordings_dir / str(rec.archive_rel_path)
    assert "버스".encode() not in sealed.read_bytes()
    lines = read_transcript(settings.recordings_dir, rec, ring)
    assert lines[0]["conversation"] == conv_id
    assert [line["text"] for line in lines[1:]] == [KOREAN, "네, 3월부터 바뀌었습니다."]
    assert catalog_problems(await catalog.find(), await catalog.links()) == []
    with pytest.raises(ConversationClosed):
        await conversations.store.add(conv_id, Sender.CITIZEN, "more")


async def test_the_audit_covers_transcripts(
    conversations: Conversations, storage: Storage, ring: KeyRing, settings: Settings
) -> None:
    conv_id = await _chat(conversations)
    open_id = (await conversations.store.open(Channel.SMS, "ko", "general", "x" * 64)).id
    ended = await conversations.end(conv_id)
    report = await audit_storage(settings, storage, ring=ring)
    assert report.ok, report.gaps
    assert report.recordings_checked == 1 and report.hashes_verified == 1
    assert open_id in report.in_progress
    rec = await Catalog(storage).get(int(ended.recording_id or 0))
    path: Path = settings.recordings_dir / str(rec.archive_rel_path)
    _flip_a_byte(path)
    kinds = {g.kind for g in (await audit_storage(settings, storage, ring=ring)).gaps}
    assert GapKind.HASH_MISMATCH in kinds


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))


async def test_a_finished_conversation_without_transcript_is_a_gap(
    conversations: Conversations, storage: Storage, ring: KeyRing, settings: Settings
) -> None:
    conv_id = await _chat(conversations)
    ended = await conversations.end(conv_id)
    path = settings.recordings_dir / str(
        (await Catalog(storage).get(int(ended.recording_id or 0))).archive_rel_path
    )
    path.unlink()
    kinds = {g.kind for g in (await audit_storage(settings, storage, ring=ring)).gaps}
    assert GapKind.FILE_MISSING in kinds


async def test_conversations_list_every_channel(
    conversations: Conversations, storage: Storage
) -> None:
    conv_id = await _chat(conversations)
    await conversations.end(conv_id)
    rows = await last_conversations(storage, 10)
    row = next(r for r in rows if r["id"] == conv_id)
    assert {k: row[k] for k in ("channel", "language", "service", "consultant")} == {
        "channel": "chat",
        "language": "ko",
        "service": "general",
        "consultant": "c0001",
    }
    assert row["record"]["format"] == "jsonl" and row["record"]["encrypted"] is True
    assert row["ended_at"] is not None
    json.dumps(rows)


def test_a_call_tagged_video_by_the_ivr_is_listed_as_video() -> None:
    from channels.listing import _call_channel

    assert _call_channel({"tags": {"channel": "video"}, "entries": []}) == "video"
    assert _call_channel({"tags": {"service": "general"}}) == "voice"
    assert _call_channel(None) == "voice"
    assert _call_channel("not a journey") == "voice"
