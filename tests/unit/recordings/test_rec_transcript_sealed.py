"""Transcripts at rest: no transcript text in the database files, search through keyed
hashes keeps its substring meaning, transcripts stored in clear earlier get sealed."""

from __future__ import annotations

from datetime import datetime

from rec_support import recorded_call
from sqlalchemy import select, update

from recordings.keys import KeyRing, WrongKeyError
from recordings.models import TranscriptRow, TranscriptTokenRow
from recordings.system import Recordings
from recordings.textseal import TextSealer

SAID = "여권 재발급 문의 입니다"  # what the fake transcriber hears in every recording


def _database_bytes(system: Recordings) -> bytes:
    folder = system.settings.state_dir
    return b"".join(p.read_bytes() for p in sorted(folder.glob("dasan.sqlite3*")))


async def _one_transcript(system: Recordings, call_start: datetime) -> int:
    wav = await recorded_call(system, "call-1", call_start, 1.0)
    recording = await system.pipeline.process(wav)
    assert recording is not None
    assert await system.transcripts.transcribe_pending() == 1
    return recording.id


async def test_no_transcript_text_in_the_database_files(
    system: Recordings, call_start: datetime
) -> None:
    recording_id = await _one_transcript(system, call_start)
    assert await system.transcripts.text(recording_id) == SAID
    async with system.storage.session() as session:
        row = await session.get(TranscriptRow, recording_id)
        tokens = list(await session.scalars(select(TranscriptTokenRow.token)))
    assert row is not None and row.text == "" and row.text_enc and row.key_id
    assert tokens and all(len(t) == 64 for t in tokens)
    raw = _database_bytes(system)
    assert b"call-1" in raw  # the files were read
    for piece in (SAID, "재발급", "여권", "문의"):
        assert piece.encode() not in raw
        assert piece.encode("utf-16-le") not in raw


async def test_search_by_keyed_hashes_keeps_substring_meaning(
    system: Recordings, call_start: datetime
) -> None:
    await _one_transcript(system, call_start)
    for keyword in ("재발급", "권 재", "여", "문의 입니다", "재발급 문의"):
        assert [h.call_id for h in await system.transcripts.search(keyword)] == ["call-1"]
    for keyword in ("발급재", "여권재발급", "%", "민원"):
        assert await system.transcripts.search(keyword) == []


async def test_clear_rows_of_an_earlier_version_are_sealed(
    system: Recordings, call_start: datetime
) -> None:
    recording_id = await _one_transcript(system, call_start)
    async with system.storage.write() as session:  # as an earlier version stored it
        await session.execute(update(TranscriptRow).values(text=SAID, text_enc=None, key_id=None))
        await session.execute(TranscriptTokenRow.__table__.delete())
    assert await system.transcripts.seal_clear_rows() == 1
    assert await system.transcripts.seal_clear_rows() == 0
    assert await system.transcripts.text(recording_id) == SAID
    assert [h.call_id for h in await system.transcripts.search("재발급")] == ["call-1"]


def test_a_sealed_transcript_needs_its_key_and_its_recording() -> None:
    ring = KeyRing.generate()
    sealed = TextSealer(ring).seal(SAID, 7)
    assert TextSealer(ring).open(sealed, 7, ring.current_id) == SAID
    try:
        TextSealer(ring).open(sealed, 8, ring.current_id)
    except WrongKeyError:
        pass
    else:
        raise AssertionError("a transcript moved to another recording decrypted")
    other = KeyRing.generate()
    try:
        TextSealer(other).open(sealed, 7, ring.current_id)
    except WrongKeyError:
        pass
    else:
        raise AssertionError("decrypted without the key")
