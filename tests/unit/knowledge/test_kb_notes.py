"""After-call notes: encrypted at rest (no note text in the database files), bound to their
call, disposition codes as data; the citizen's history behind access rules and the log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from kb_support import NOW

from common.principal import Principal, Role
from common.storage import Storage
from knowledge.history import CitizenHistory, HistoryDenied
from knowledge.models import CallNoteRow
from knowledge.notes import CallNotes, NoteError, shipped_dispositions
from recordings.accesslog import AccessAction, AccessLog, AccessOutcome
from recordings.calllog import CallLog
from recordings.keys import KeyRing, NumberProtector, WrongKeyError

SECRET = "민원인 홍길순 님의 전세보증금 반환 문제로 주택과 연결 약속"


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    store = await Storage.open(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
    yield store
    await store.close()


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.generate()


def _notes(storage: Storage, ring: KeyRing) -> CallNotes:
    return CallNotes(storage, ring, shipped_dispositions(), clock=lambda: NOW)


def _database_bytes(tmp_path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(tmp_path.glob("db.sqlite3*")))


async def test_no_note_text_in_the_database_files(
    storage: Storage, ring: KeyRing, tmp_path: Path
) -> None:
    notes = _notes(storage, ring)
    await notes.write("call-1", "c0001", "callback", SECRET)
    assert [n.text for n in await notes.for_calls(["call-1"])] == [SECRET]
    await storage.close()
    raw = _database_bytes(tmp_path)
    assert b"callback" in raw  # the file was read (the code is stored in clear)
    for piece in (SECRET, "전세보증금", "홍길순"):
        assert piece.encode() not in raw
        assert piece.encode("utf-16-le") not in raw


async def test_notes_need_their_key_and_their_call(storage: Storage, ring: KeyRing) -> None:
    await _notes(storage, ring).write("call-1", "c0001", "answered", SECRET)
    with pytest.raises(WrongKeyError):
        await _notes(storage, KeyRing.generate()).for_calls(["call-1"])
    async with storage.write() as session:
        row = await session.get(CallNoteRow, 1)
        assert row is not None
        row.call_id = "call-2"  # a note moved to another call
    with pytest.raises(WrongKeyError):
        await _notes(storage, ring).for_calls(["call-2"])


async def test_dispositions_are_data_and_rewrites_replace(storage: Storage, ring: KeyRing) -> None:
    notes = _notes(storage, ring)
    with pytest.raises(NoteError, match="unknown disposition"):
        await notes.write("call-1", "c0001", "made_up", "x")
    with pytest.raises(NoteError, match="longer"):
        await notes.write("call-1", "c0001", "answered", "가" * 4001)
    assert not await notes.has_note("call-1", "c0001")
    await notes.write("call-1", "c0001", "answered", "첫 메모")
    await notes.write("call-1", "c0001", "complaint", "고친 메모")
    assert await notes.has_note("call-1", "c0001")
    [note] = await notes.for_calls(["call-1"])
    assert (note.disposition, note.text) == ("complaint", "고친 메모")
    assert {"answered", "callback", "complaint"} <= set(shipped_dispositions())
    assert all({"ko", "en"} <= set(v) for v in shipped_dispositions().values())


async def test_history_follows_the_access_rules_and_is_logged(
    storage: Storage, ring: KeyRing
) -> None:
    calls = CallLog(storage, NumberProtector(ring), lambda: NOW)
    log = AccessLog(storage, lambda: NOW)
    notes = _notes(storage, ring)
    for n, who in ((1, "c0001"), (2, "c0002")):
        call = f"call-{n}"
        await calls.call_started(call, f"u{n}", None, "010-1234-5678", NOW + timedelta(hours=n))
        await calls.call_routed(call, "ko", "general")
        await calls.consultant_joined(call, who, at=NOW + timedelta(hours=n, seconds=20))
    await notes.write("call-1", "c0001", "callback", SECRET)
    history = CitizenHistory(calls, notes, log)
    me = Principal(user_id="c0002", role=Role.CONSULTANT, origin="test")
    entries = await history.for_call(me, "call-2")
    assert [e.call.id for e in entries] == ["call-2", "call-1"]
    assert [n.text for n in entries[1].notes] == [SECRET]
    stranger = Principal(user_id="c0009", role=Role.CONSULTANT, origin="test")
    with pytest.raises(HistoryDenied):
        await history.for_call(stranger, "call-2")
    supervisor = Principal(user_id="s01", role=Role.SUPERVISOR, origin="test")
    assert len(await history.for_call(supervisor, "call-1")) == 2
    logged = await log.month(NOW.strftime("%Y-%m"))
    assert [(e.action, e.outcome, e.user_id) for e in logged] == [
        (AccessAction.HISTORY, AccessOutcome.GRANTED, "c0002"),
        (AccessAction.HISTORY, AccessOutcome.DENIED, "c0009"),
        (AccessAction.HISTORY, AccessOutcome.GRANTED, "s01"),
    ]
