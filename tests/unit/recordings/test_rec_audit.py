"""`dasan recordings audit` finds every kind of gap and passes a clean installation."""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from rec_support import recorded_call, sine_pcm, spool_wav, write_wav
from sqlalchemy import delete, update

from common.principal import Principal, Role
from recordings.archive import inspect_closed
from recordings.audit import AuditReport, audit, audit_async, audit_storage
from recordings.catalog import Catalog
from recordings.cli import recordings as recordings_group
from recordings.keys import KeyRing
from recordings.layout import key_file
from recordings.models import AccessLogRow, RecordingRow
from recordings.reconcile import GapKind
from recordings.system import Recordings


def kinds(report: AuditReport) -> list[GapKind]:
    return sorted({g.kind for g in report.gaps})


def write_cdr(system: Recordings, rows: list[tuple[str, datetime, float, str]]) -> None:
    """cdr_csv lines (loguniqueid, loguserfield): (uniqueid, answer, seconds, dst)."""
    path = system.settings.pbx_dir / "log" / "cdr-csv" / "Master.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = "%Y-%m-%d %H:%M:%S"
    with path.open("a") as out:
        for uniqueid, answer, seconds, dst in rows:
            end = answer + timedelta(seconds=seconds)
            out.write(
                f'"","0212345678","{dst}","dasan-citizen","""C"" <0212345678>","PJSIP/trunk-0001",'
                f'"PJSIP/c0001-0002","Dial","PJSIP/c0001",'
                f'"{answer:{fmt}}","{answer:{fmt}}","{end:{fmt}}",{round(seconds)},{round(seconds)},'
                f'"ANSWERED","DOCUMENTATION","{uniqueid}",""\n'
            )


async def clean_install(system: Recordings, start: datetime) -> list[Path]:
    paths = []
    for n in range(3):
        wav = await recorded_call(system, f"call-{n}", start + timedelta(seconds=10 * n), 2.0 + n)
        await system.pipeline.process(wav)
        paths.append(wav)
    return paths


async def run(system: Recordings) -> AuditReport:
    return await audit_storage(system.settings, system.storage, ring=system.ring)


def stored(system: Recordings) -> Path:
    return next(system.settings.recordings_dir.rglob("*.opus.enc"))


async def test_clean_installation_passes(system: Recordings, call_start: datetime) -> None:
    await clean_install(system, call_start)
    # A call still in progress (fresh file, call not ended) is not a gap.
    live_id = f"{int(call_start.timestamp())}.live"
    await system.calls.call_started("live", live_id, live_id, None, call_start)
    spool_wav(system.settings, live_id, 1.0, call_start, finalize=False)
    # A call only the PBX knows (engine down: fallback queue), recorded and recovered.
    cdr_id = f"{int(call_start.timestamp())}.cdr"
    spool_wav(system.settings, cdr_id, 4.0, call_start)
    write_cdr(system, [(cdr_id, call_start, 4.0, "120"), ("999.9", call_start, 4.0, "7000")])
    await system.pipeline.recover()
    report = await run(system)
    assert report.gaps == []
    assert report.ok
    assert report.calls_checked == 4
    assert report.recordings_checked == 4
    assert report.hashes_verified == 4
    assert any("live" in item for item in report.in_progress)


async def test_deleted_file_is_a_gap(system: Recordings, call_start: datetime) -> None:
    await clean_install(system, call_start)
    victim = stored(system)
    victim.unlink()
    report = await run(system)
    assert kinds(report) == [GapKind.FILE_MISSING]
    assert victim.name in report.gaps[0].detail


async def test_altered_file_is_a_gap(system: Recordings, call_start: datetime) -> None:
    await clean_install(system, call_start)
    victim = stored(system)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x40
    victim.write_bytes(bytes(data))
    assert kinds(await run(system)) == [GapKind.HASH_MISMATCH]


async def test_deleted_catalog_row_is_a_gap(system: Recordings, call_start: datetime) -> None:
    await clean_install(system, call_start)
    async with system.storage.write() as session:
        await session.execute(delete(RecordingRow).where(RecordingRow.id == 2))
    report = await run(system)
    assert GapKind.CATALOG_TAMPERED in kinds(report)
    assert GapKind.UNCATALOGED_FILE in kinds(report)  # its file no longer belongs to anything


async def test_edited_catalog_row_is_a_gap(system: Recordings, call_start: datetime) -> None:
    await clean_install(system, call_start)
    async with system.storage.write() as session:
        await session.execute(
            update(RecordingRow).where(RecordingRow.id == 1).values(duration_ms=999_999)
        )
    report = await run(system)
    assert GapKind.CATALOG_TAMPERED in kinds(report)
    assert "duration_ms" in next(
        g.detail for g in report.gaps if g.kind is GapKind.CATALOG_TAMPERED
    )


async def test_orphan_file_is_a_gap(system: Recordings, call_start: datetime) -> None:
    await clean_install(system, call_start)
    orphan = spool_wav(system.settings, "1700000000.404", 1.0, call_start)
    assert await run(system) == AuditReport(
        gaps=[],
        calls_checked=3,
        recordings_checked=3,
        files_seen=4,
        hashes_verified=3,
        in_progress=[f"primary:{orphan.relative_to(system.settings.recordings_dir).as_posix()}"],
    )
    past = time.time() - 60
    os.utime(orphan, (past, past))
    report = await run(system)
    assert kinds(report) == [GapKind.ORPHAN_FILE]


async def test_duration_mismatch_is_a_gap(system: Recordings, call_start: datetime) -> None:
    uniqueid = f"{int(call_start.timestamp())}.short"
    await system.calls.call_started("short", uniqueid, uniqueid, None, call_start)
    wav = spool_wav(system.settings, uniqueid, 5.0, call_start)
    await system.calls.call_ended("short", call_start + timedelta(seconds=10))
    await system.pipeline.process(wav)
    report = await run(system)
    assert kinds(report) == [GapKind.DURATION_MISMATCH]
    assert "5000 ms" in report.gaps[0].detail


async def test_duration_within_one_percent_passes(system: Recordings, call_start: datetime) -> None:
    uniqueid = f"{int(call_start.timestamp())}.long"
    await system.calls.call_started("long", uniqueid, uniqueid, None, call_start)
    wav = spool_wav(system.settings, uniqueid, 100.0, call_start)
    await system.calls.call_ended("long", call_start + timedelta(seconds=100.9))
    await system.pipeline.process(wav)
    assert (await run(system)).ok


async def test_calls_without_recordings_are_gaps(system: Recordings, call_start: datetime) -> None:
    await system.calls.call_started("lost", "1.lost", None, None, call_start)
    await system.calls.call_ended("lost", call_start + timedelta(seconds=30))
    write_cdr(system, [("2.lost", call_start, 12, "120")])
    report = await run(system)
    assert [g.kind for g in report.gaps] == [GapKind.CALL_WITHOUT_RECORDING] * 2
    assert {g.detail for g in report.gaps} == {"no recording (call-log)", "no recording (cdr)"}


async def test_two_recordings_for_one_call_is_a_gap(
    system: Recordings, call_start: datetime
) -> None:
    wav = await recorded_call(system, "dup", call_start, 2.0)
    spare = spool_wav(system.settings, wav.name.removesuffix(".wav"), 2.0, call_start, spare=True)
    await system.pipeline.process(wav)
    await system.pipeline.process(spare)
    assert kinds(await run(system)) == [GapKind.SEVERAL_RECORDINGS]


async def test_a_recording_continued_on_the_spare_disk_is_one_timeline(
    system: Recordings, call_start: datetime
) -> None:
    """The primary disk filled mid-call: the recorder went on in a file on the spare disk.
    The two parts add up to the call: no gap. Parts that fall short are a duration gap."""
    wav = await recorded_call(system, "moved", call_start, 3.0)
    uniqueid = wav.name.removesuffix(".wav")
    write_wav(wav, sine_pcm(1.8))  # the primary part: the first 1.8 s
    spare = spool_wav(system.settings, uniqueid, 1.2, call_start, spare=True)
    await system.pipeline.process(wav)
    await system.pipeline.process(spare)
    assert (await run(system)).ok

    short = await recorded_call(system, "cut", call_start, 3.0)
    write_wav(short, sine_pcm(1.0))
    part = spool_wav(system.settings, short.name.removesuffix(".wav"), 1.0, call_start, spare=True)
    await system.pipeline.process(short)
    await system.pipeline.process(part)
    [gap] = (await run(system)).gaps
    assert gap.kind is GapKind.DURATION_MISMATCH and "(parts) are 2000 ms" in gap.detail


async def test_uncataloged_file_of_a_finished_call_is_a_gap(
    system: Recordings, call_start: datetime
) -> None:
    await recorded_call(system, "pending", call_start, 2.0)
    assert kinds(await run(system)) == [GapKind.UNCATALOGED_FILE]


async def test_wrong_or_missing_key_cannot_verify(system: Recordings, call_start: datetime) -> None:
    await clean_install(system, call_start)
    wrong = await audit_storage(system.settings, system.storage, ring=KeyRing.generate())
    assert kinds(wrong) == [GapKind.UNREADABLE]
    assert "no key with id" in wrong.gaps[0].detail
    missing = await audit_storage(system.settings, system.storage, ring=None)
    assert kinds(missing) == [GapKind.UNREADABLE]
    quick = await audit_storage(system.settings, system.storage, ring=None, verify_hashes=False)
    assert quick.ok


async def test_tampered_access_log_is_a_gap(system: Recordings, call_start: datetime) -> None:
    await clean_install(system, call_start)
    who = Principal("s1", Role.SUPERVISOR, "10.0.0.1")
    for _ in range(2):
        stream = await system.access.open_audio(who, "call-0", "review")
        [chunk async for chunk in stream.chunks]
    async with system.storage.write() as session:
        await session.execute(delete(AccessLogRow).where(AccessLogRow.seq == 1))
    assert kinds(await run(system)) == [GapKind.ACCESS_LOG_TAMPERED]


async def test_purged_recording_is_not_a_gap_but_its_file_would_be(
    system: Recordings, call_start: datetime
) -> None:
    await clean_install(system, call_start)
    result = await system.retention.purge(datetime.now(UTC) + timedelta(days=4000))
    assert len(result.purged) == 3
    assert (await run(system)).ok
    [first] = await system.catalog.find(call_id="call-0")
    leftover = system.settings.recordings_dir / (first.archive_rel_path or "")
    leftover.write_bytes(b"resurrected")
    assert kinds(await run(system)) == [GapKind.PURGED_FILE_PRESENT]


async def test_audit_cli_and_blocking_api(system: Recordings, call_start: datetime) -> None:
    await clean_install(system, call_start)
    assert key_file(system.settings).exists()
    obj = {"settings": system.settings}
    ok = await asyncio.to_thread(CliRunner().invoke, recordings_group, ["audit"], obj=obj)
    assert ok.exit_code == 0, ok.output
    assert "3 calls, 3 recordings" in ok.output
    assert audit(system.settings).ok  # callable from inside a running loop
    stored(system).unlink()
    bad = await asyncio.to_thread(
        CliRunner().invoke, recordings_group, ["audit", "--json"], obj=obj
    )
    assert bad.exit_code == 1
    body = json.loads(bad.output)
    assert body["ok"] is False
    assert [g["kind"] for g in body["gaps"]] == ["file-missing"]
    text = await asyncio.to_thread(CliRunner().invoke, recordings_group, ["audit"], obj=obj)
    assert text.exit_code == 1
    assert "GAP file-missing" in text.output
    assert not (
        await audit_async(system.settings, since=datetime.now(UTC) + timedelta(days=1))
    ).gaps


@pytest.mark.parametrize("finalize", [True, False])
async def test_engine_killed_mid_call_then_recovered_passes_audit(
    system: Recordings, call_start: datetime, finalize: bool
) -> None:
    uniqueid = f"{int(call_start.timestamp())}.k"
    await system.calls.call_started("killed", uniqueid, uniqueid, None, call_start)
    wav = spool_wav(system.settings, uniqueid, 6.0, call_start, finalize=finalize)
    write_cdr(system, [(uniqueid, call_start, 6.0, "120")])
    assert kinds(await run(system)) == [GapKind.UNCATALOGED_FILE]
    if not finalize:  # the PBX itself died: the file is taken once it stopped changing
        assert (await system.pipeline.recover()).pending
        past = time.time() - 60
        os.utime(wav, (past, past))
    await system.pipeline.recover()
    assert not wav.exists()
    assert (await run(system)).ok


async def test_an_old_call_archived_late_is_no_orphan_of_a_recent_window(
    system: Recordings, call_start: datetime
) -> None:
    """A restarted engine archives what a dead one left: the archive is new, its call is not."""
    wav = await recorded_call(system, "late-1", call_start, 1.0)
    since = datetime.now(UTC) - timedelta(seconds=60)
    assert call_start < since
    recording = await system.pipeline.process(wav)
    assert recording is not None and recording.archive_rel_path
    # Archived inside the window, and settled (older than settle_s): not "still recording".
    archive = system.settings.recordings_dir / recording.archive_rel_path
    past = time.time() - 30
    os.utime(archive, (past, past))
    report = await audit_async(system.settings, since=since)
    assert report.gaps == [], report.gaps


async def test_an_archive_being_written_is_in_progress_not_an_orphan(
    system: Recordings, call_start: datetime
) -> None:
    """Between writing the archive and the catalog naming it, both files are on disk."""
    await clean_install(system, call_start)
    # An old call not in the window: only its catalog row (as its WAV) explains the archive.
    wav = await recorded_call(system, "mid-archive", call_start - timedelta(hours=2), 1.0)
    recording = await system.pipeline._catalog_file(
        wav, await asyncio.to_thread(inspect_closed, wav)
    )
    archive = wav.with_name(wav.name.removesuffix(".wav") + ".opus.enc")
    archive.write_bytes(b"being written")
    past = time.time() - 60
    os.utime(archive, (past, past))
    since = call_start - timedelta(minutes=1)
    report = await audit_storage(system.settings, system.storage, ring=system.ring, since=since)
    assert recording.archive_rel_path is None
    assert report.gaps == [], report.gaps
    assert f"primary:{archive.relative_to(system.settings.recordings_dir).as_posix()}" in (
        report.in_progress
    )


async def test_a_file_made_while_the_audit_reads_is_judged_next_time(
    system: Recordings, call_start: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pipeline keeps working during an audit: a file that was not on disk before the
    catalog was read is not judged against that reading (it would look like an orphan)."""
    await clean_install(system, call_start)
    real_find = Catalog.find
    made: list[Path] = []

    async def find_then_archive(self: Catalog, **kwargs: object) -> list[object]:
        rows = await real_find(self, **kwargs)  # type: ignore[arg-type]
        if not made:  # the pipeline finishes a recording right after the catalog was read
            wav = await recorded_call(system, "during", call_start + timedelta(minutes=1), 1.0)
            await system.pipeline.process(wav)
            made.append(wav)
        return rows  # type: ignore[return-value]

    monkeypatch.setattr(Catalog, "find", find_then_archive)
    first = await run(system)
    assert first.gaps == [], first.gaps
    monkeypatch.setattr(Catalog, "find", real_find)
    second = await run(system)
    assert second.gaps == [] and second.recordings_checked == 4, second
