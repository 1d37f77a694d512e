"""Recordings on PostgreSQL: encryption round-trip, wrong-key refusal, purge with proof,
the tamper-evident access log, and concurrent chain appends (asyncpg, real server)."""

from __future__ import annotations

import asyncio
import io
import math
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from common.principal import Principal, Role
from common.storage import MIGRATIONS, Storage
from dasan.config import Settings
from recordings.access import RecordingUnavailable
from recordings.accesslog import AccessAction, AccessOutcome
from recordings.audio import decoded_duration_ms, write_wav
from recordings.audit import audit_storage
from recordings.catalog import NewRecording, catalog_problems
from recordings.crypto import decrypt_all
from recordings.keys import KeyRing, WrongKeyError, create_key_file
from recordings.layout import key_file, relative_wav
from recordings.models import AccessLogRow, CallRow, RecordingRow, RecordingState
from recordings.reconcile import GapKind
from recordings.system import Recordings


def _head() -> str:
    """The newest revision of the migration scripts."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


SUPERVISOR = Principal("s0001", Role.SUPERVISOR, "10.1.2.3")


class NoSpeech:
    name = "none"

    def transcribe(self, pcm: bytes, sample_rate: int) -> str:
        return "주차 요금 문의"


def sine(seconds: float) -> bytes:
    count = round(seconds * 8000)
    return struct.pack(f"<{count}h", *(int(6000 * math.sin(0.345 * i)) for i in range(count)))


async def open_system(settings: Settings, storage: Storage) -> Recordings:
    return await Recordings.open(settings, storage=storage, load_transcriber=NoSpeech)


async def recorded(
    system: Recordings, call_id: str, start: datetime, seconds: float, service: str = "general"
) -> Path:
    uniqueid = f"{int(start.timestamp())}.{call_id}"
    await system.calls.call_started(call_id, uniqueid, uniqueid, "02-120-0120", start)
    await system.calls.call_routed(call_id, "ko", service, {"nodes": ["lang"]})
    await system.calls.consultant_joined(call_id, "c0100")
    wav = system.settings.recordings_dir / relative_wav(uniqueid, start)
    wav.parent.mkdir(parents=True, exist_ok=True)
    write_wav(wav, sine(seconds))
    await system.calls.call_ended(call_id, start + timedelta(seconds=seconds))
    return wav


async def test_encryption_round_trip(pg_settings: Settings, pg_storage: Storage) -> None:
    system = await open_system(pg_settings, pg_storage)
    start = datetime.now(UTC) - timedelta(minutes=3)
    wav = await recorded(system, "call-1", start, 3.0)
    recording = await system.pipeline.process(wav)
    assert recording is not None and recording.encrypted
    assert recording.state is RecordingState.ARCHIVED
    assert not wav.exists()
    sealed = pg_settings.recordings_dir / (recording.archive_rel_path or "")
    plain = decrypt_all(io.BytesIO(sealed.read_bytes()), system.ring, recording.uniqueid)
    assert await asyncio.to_thread(decoded_duration_ms, plain, 8000) == 3000
    stream = await system.access.open_audio(SUPERVISOR, "call-1", "quality check")
    assert b"".join([c async for c in stream.chunks]) == plain
    # The caller's number went in encrypted and comes back only through the key.
    async with pg_storage.session() as session:
        row = await session.scalar(select(CallRow))
    assert row is not None and b"0120" not in (row.caller_enc or b"")
    assert await system.calls.caller_number("call-1") == "02-120-0120"
    report = await audit_storage(pg_settings, pg_storage, ring=system.ring)
    assert report.ok, report.gaps


async def test_wrong_key_is_refused(
    pg_settings: Settings, pg_storage: Storage, tmp_path: Path
) -> None:
    system = await open_system(pg_settings, pg_storage)
    start = datetime.now(UTC) - timedelta(minutes=3)
    await system.pipeline.process(await recorded(system, "call-1", start, 1.0))
    # Someone replaces the key file: the recording must not decrypt, and say why.
    key_file(pg_settings).unlink()
    create_key_file(key_file(pg_settings))
    other = await open_system(pg_settings, pg_storage)
    assert other.ring != system.ring
    with pytest.raises(RecordingUnavailable):
        await other.access.read_audio(SUPERVISOR, "call-1", "court order")
    with pytest.raises(WrongKeyError):
        await other.calls.caller_number("call-1")
    report = await audit_storage(pg_settings, pg_storage, ring=KeyRing.generate())
    assert [g.kind for g in report.gaps] == [GapKind.UNREADABLE]
    assert "no key with id" in report.gaps[0].detail


async def test_purge_with_proof(pg_settings: Settings, pg_storage: Storage) -> None:
    system = await open_system(pg_settings, pg_storage)
    now = datetime.now(UTC)
    old = await system.pipeline.process(
        await recorded(system, "old", now - timedelta(days=1200), 1.0)
    )
    kept = await system.pipeline.process(
        await recorded(system, "new", now - timedelta(days=10), 1.0)
    )
    assert old is not None and kept is not None
    await system.transcripts.transcribe_pending()
    assert len(await system.transcripts.search("주차")) == 2
    dry = await system.retention.purge(now, dry_run=True)
    assert [i.call_id for i in dry.purged] == ["old"]
    result = await system.retention.purge(now)
    assert [i.call_id for i in result.purged] == ["old"]
    [gone] = await system.catalog.find(call_id="old")
    assert gone.state is RecordingState.PURGED
    assert not (pg_settings.recordings_dir / (old.archive_rel_path or "")).exists()
    assert [h.call_id for h in await system.transcripts.search("주차")] == ["new"]
    proof = (await system.catalog.links())[-1]
    assert (proof.kind, proof.content["retention_days"]) == ("purged", 3 * 365 + 1)
    assert proof.content["deleted"][-1]["sha256"] == old.stored_sha256
    assert catalog_problems(await system.catalog.find(), await system.catalog.links()) == []
    assert (await audit_storage(pg_settings, pg_storage, ring=system.ring)).ok


async def test_access_log_is_tamper_evident(pg_settings: Settings, pg_storage: Storage) -> None:
    system = await open_system(pg_settings, pg_storage)
    start = datetime.now(UTC) - timedelta(minutes=3)
    await system.pipeline.process(await recorded(system, "call-1", start, 1.0))
    for reason in ("complaint 1", "complaint 2", "complaint 3"):
        await system.access.read_audio(SUPERVISOR, "call-1", reason)
    month = datetime.now(UTC).strftime("%Y-%m")
    report = await system.access.report(SUPERVISOR, month)
    assert [(e.action, e.outcome) for e in report.entries] == [
        (AccessAction.DOWNLOAD, AccessOutcome.GRANTED)
    ] * 3
    assert report.chain_breaks == []
    async with pg_storage.write() as session:
        await session.execute(
            update(AccessLogRow)
            .where(AccessLogRow.seq == 2)
            .values(content=func.replace(AccessLogRow.content, "complaint 2", "routine"))
        )
    assert [b.seq for b in await system.access_log.verify()] == [2]
    async with pg_storage.write() as session:
        await session.execute(delete(AccessLogRow).where(AccessLogRow.seq == 3))
    breaks = await system.access_log.verify()
    assert {b.seq for b in breaks} == {2, 4}
    audit = await audit_storage(pg_settings, pg_storage, ring=system.ring)
    assert GapKind.ACCESS_LOG_TAMPERED in {g.kind for g in audit.gaps}


async def test_concurrent_appends_keep_one_chain(
    pg_settings: Settings, pg_storage: Storage, pg_url: str
) -> None:
    """Two engines (separate pools) racing on both chains never fork them."""
    first = await open_system(pg_settings, pg_storage)
    other_storage = await Storage.open(pg_url)
    try:
        second = await open_system(pg_settings, other_storage)
        start = datetime(2026, 11, 28, tzinfo=UTC)

        def new(n: int) -> NewRecording:
            return NewRecording(
                f"1.{n}",
                None,
                "primary",
                f"2026/11/28/1.{n}.wav",
                "wav",
                8000,
                44,
                0,
                f"{n:064x}",
                start,
            )

        adds = [(first if n % 2 else second).catalog.add(new(n)) for n in range(40)]
        logs = [
            (first if n % 2 else second).access_log.record(
                SUPERVISOR, AccessAction.LISTEN, AccessOutcome.DENIED, f"r{n}", call_id=f"c{n}"
            )
            for n in range(40)
        ]
        await asyncio.gather(*adds, *logs)
        links = await first.catalog.links()
        assert [link.seq for link in links] == list(range(1, 41))
        assert catalog_problems(await first.catalog.find(), links) == []
        assert await first.access_log.verify() == []
        entries = await first.access_log.month(datetime.now(UTC).strftime("%Y-%m"))
        assert sorted(e.seq or 0 for e in entries) == list(range(1, 41))
    finally:
        await other_storage.close()
    async with pg_storage.session() as session:
        assert len(list(await session.scalars(select(RecordingRow)))) == 40


async def test_concurrent_first_opens_migrate_once(pg_url: str) -> None:
    """Engine and CLI starting together on an empty database: one migrates, all agree."""
    base = make_url(pg_url)
    name = f"{base.database}_fresh"
    admin = create_async_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = base.set(database=name).render_as_string(hide_password=False)
        opened = await asyncio.gather(*(Storage.open(url) for _ in range(3)))
        revisions = {await s.revision() for s in opened}
        assert len(revisions) == 1 and None not in revisions  # all at the one head
        for storage in opened:
            await storage.close()
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
