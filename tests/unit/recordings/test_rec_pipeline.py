"""After close: catalog, archive (Opus/FLAC), verify, encrypt, remove the WAV; recovery scan."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from rec_support import FakeTranscriber, make_settings, recorded_call, spool_wav

from dasan.config import Settings
from recordings import pipeline as pipeline_module
from recordings.archive import ArchiveError
from recordings.audio import decoded_duration_ms
from recordings.crypto import decrypt_all
from recordings.models import RecordingState
from recordings.system import Recordings


def age(path: Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


async def _announce_and_drain(system: Recordings, announced: list[tuple[str, str]]) -> None:
    """Run the pipeline until the recordings announced ((uniqueid, path) pairs) are done."""
    runner = asyncio.create_task(system.pipeline.run())
    try:
        for uniqueid, path in announced:
            await system.pipeline.recording_closed(uniqueid, path)
        await asyncio.wait_for(system.pipeline.drain(), 60)
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner


async def test_closed_recording_is_archived_sealed_and_removed(
    system: Recordings, call_start: datetime
) -> None:
    wav = await recorded_call(system, "call-1", call_start, 2.5)
    wav_bytes = wav.read_bytes()
    recording = await system.pipeline.process(wav)
    assert recording is not None
    assert recording.state is RecordingState.ARCHIVED
    assert (recording.call_id, recording.duration_ms, recording.format) == ("call-1", 2500, "wav")
    assert recording.archive_format == "opus"
    assert recording.encrypted
    assert not wav.exists()
    sealed = system.settings.recordings_dir / recording.archive_rel_path  # type: ignore[operator]
    assert sealed.name.endswith(".opus.enc")
    plain = decrypt_all(io.BytesIO(sealed.read_bytes()), system.ring, recording.uniqueid)
    assert plain[:4] == b"OggS"
    assert await asyncio.to_thread(decoded_duration_ms, plain, 8000) == 2500
    assert recording.sha256 == hashlib.sha256(wav_bytes).hexdigest()


async def test_announced_recordings_are_processed_by_the_running_pipeline(
    system: Recordings, call_start: datetime
) -> None:
    paths = [
        await recorded_call(system, f"call-{n}", call_start + timedelta(seconds=n), 1.0)
        for n in range(4)
    ]
    spool = system.settings.recordings.pbx_spool_dir
    await _announce_and_drain(
        system,
        [
            (
                p.name.removesuffix(".wav"),
                f"{spool}/{p.relative_to(system.settings.recordings_dir)}",
            )
            for p in paths
        ],
    )
    archived = await system.catalog.find(states=[RecordingState.ARCHIVED])
    assert sorted(r.call_id for r in archived if r.call_id) == [f"call-{n}" for n in range(4)]
    assert not any(p.exists() for p in paths)


async def test_a_recording_written_only_on_the_spare_disk_is_taken_from_there(
    system: Recordings, call_start: datetime
) -> None:
    """The primary disk refused even the header, so the recorder wrote the whole call on the
    spare disk: announced by its primary path, it is archived from the spare, no alarm."""
    primary = await recorded_call(system, "call-1", call_start, 1.0)
    rel = primary.relative_to(system.settings.recordings_dir)
    spare = system.settings.recordings_spare_dir / rel
    spare.parent.mkdir(parents=True, exist_ok=True)
    primary.replace(spare)
    pbx_path = f"{system.settings.recordings.pbx_spool_dir}/{rel}"
    await _announce_and_drain(system, [(primary.name.removesuffix(".wav"), pbx_path)])
    [recording] = await system.catalog.find(states=[RecordingState.ARCHIVED])
    assert (recording.call_id, recording.root) == ("call-1", "spare")
    assert not spare.exists()
    assert system.alarms.active() == []


async def test_flac_archive_unencrypted(tmp_path: Path, call_start: datetime) -> None:
    settings = make_settings(tmp_path, archive_format="flac", encrypt=False)
    system = await Recordings.open(settings, load_transcriber=FakeTranscriber)
    try:
        wav = await recorded_call(system, "call-1", call_start, 1.2)
        recording = await system.pipeline.process(wav)
        assert recording is not None
        assert (recording.archive_format, recording.encrypted) == ("flac", False)
        stored = settings.recordings_dir / (recording.archive_rel_path or "")
        assert stored.read_bytes()[:4] == b"fLaC"
        assert recording.stored_sha256 == recording.archive_sha256
    finally:
        await system.close()


async def test_a_file_being_written_is_not_taken_when_the_engine_clock_jumps_ahead(
    system: Recordings, call_start: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An engine whose clock is an hour ahead (an NTP step, a skewed host) still sees a
    recording the PBX wrote a moment ago as fresh: ages come from the file system's clock."""
    wav = spool_wav(
        system.settings, f"{int(call_start.timestamp())}.77", 1.0, call_start, finalize=False
    )
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3600)
    assert (await system.pipeline.recover()).pending
    assert await system.pipeline.process(wav) is None
    assert await system.catalog.find() == []
    monkeypatch.setattr(time, "time", lambda: real() - 3600)  # and behind: old is still old
    age(wav, system.settings.recordings.settle_s + 1)
    assert len((await system.pipeline.recover()).archived) == 1


async def test_empty_recording_is_archived_as_sealed_wav(
    system: Recordings, call_start: datetime
) -> None:
    wav = await recorded_call(system, "call-1", call_start, 0.0)
    # An empty file looks like a recording that just started: it is taken once it settled.
    assert (await system.pipeline.recover()).pending
    age(wav, system.settings.recordings.settle_s + 1)
    recording = await system.pipeline.process(wav)
    assert recording is not None
    assert recording.archive_format == "wav"
    assert (recording.archive_rel_path or "").endswith(".wav.enc")
    assert not wav.exists()


async def test_failed_archive_keeps_the_wav_and_raises_an_alarm(
    system: Recordings, call_start: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    wav = await recorded_call(system, "call-1", call_start, 1.0)

    def broken(*args: object, **kwargs: object) -> object:
        raise ArchiveError("opus archive decodes to 0 ms, the recording is 1000 ms")

    monkeypatch.setattr(pipeline_module, "produce_archive", broken)
    await system.pipeline.recording_closed("x", wav)
    runner = asyncio.create_task(system.pipeline.run())
    try:
        await asyncio.wait_for(system.pipeline.drain(), 30)
        assert wav.exists()
        [row] = await system.catalog.find()
        assert row.state is RecordingState.CATALOGED
        [alarm] = system.alarms.active()
        assert "could not be processed" in alarm.message
        monkeypatch.undo()
        report = await system.pipeline.recover()
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner
    assert report.archived == [wav.relative_to(system.settings.recordings_dir).as_posix()]
    assert not wav.exists()
    assert system.alarms.active() == []


async def test_crash_before_removing_the_wav_is_finished_by_recovery(
    system: Recordings, call_start: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    wav = await recorded_call(system, "call-1", call_start, 1.0)

    def crash(path: Path) -> None:
        raise OSError("killed")

    monkeypatch.setattr(pipeline_module, "remove_file", crash)
    with pytest.raises(OSError, match="killed"):
        await system.pipeline.process(wav)
    [row] = await system.catalog.find()
    assert row.state is RecordingState.ARCHIVED
    assert wav.exists()
    monkeypatch.undo()
    report = await system.pipeline.recover()
    assert len(report.archived) == 1
    assert not wav.exists()


async def test_recovery_after_the_engine_was_killed_mid_call(
    system: Recordings, call_start: datetime
) -> None:
    """The engine saw the call start but died: no call_ended, no recording_closed."""
    uniqueid = f"{int(call_start.timestamp())}.77"
    await system.calls.call_started("call-77", uniqueid, uniqueid, "010-1111-2222", call_start)
    wav = spool_wav(system.settings, uniqueid, 3.0, call_start, finalize=False)
    # While the call goes on (file fresh, call not over) the recording is left alone.
    report = await system.pipeline.recover()
    assert report.pending == [wav.relative_to(system.settings.recordings_dir).as_posix()]
    assert await system.catalog.find() == []
    # After the call (the file stops changing), the restarted engine finishes it.
    age(wav, system.settings.recordings.settle_s + 1)
    report = await system.pipeline.recover()
    assert len(report.archived) == 1
    [row] = await system.catalog.find()
    assert (row.call_id, row.duration_ms, row.state) == ("call-77", 3000, RecordingState.ARCHIVED)


async def test_a_quiet_file_of_a_call_still_served_is_not_taken(
    system: Recordings, call_start: datetime
) -> None:
    """Both parties silent for longer than settle_s: the PBX writes nothing, the file looks
    settled, but the call path says the call goes on, so the file is left to grow."""
    uniqueid = f"{int(call_start.timestamp())}.78"
    await system.calls.call_started("call-78", uniqueid, uniqueid, None, call_start)
    wav = spool_wav(system.settings, uniqueid, 3.0, call_start, finalize=False)
    age(wav, system.settings.recordings.settle_s + 1)
    served = {uniqueid}
    system.pipeline.watch_calls(lambda u: u in served)
    assert await system.pipeline.process(wav) is None
    assert await system.catalog.find() == [] and wav.exists()
    served.clear()  # the call ended (its engine would have said so; here: it is over)
    assert (await system.pipeline.process(wav)) is not None
    [row] = await system.catalog.find()
    assert row.call_id == "call-78"


async def test_recovery_takes_a_finalized_file_of_an_unknown_call(
    system: Recordings, call_start: datetime
) -> None:
    """The engine was down for the whole call (fallback queue): the PBX closed the file."""
    uniqueid = f"{int(call_start.timestamp())}.88"
    wav = spool_wav(system.settings, uniqueid, 1.0, call_start, spare=True)
    report = await system.pipeline.recover()
    assert len(report.archived) == 1
    assert not wav.exists()
    [row] = await system.catalog.find()
    assert (row.root, row.call_id) == ("spare", None)


async def test_stale_part_files_are_removed(system: Recordings, call_start: datetime) -> None:
    folder = system.settings.recordings_dir / "2026/11/28"
    folder.mkdir(parents=True)
    stale, fresh = folder / "1.1.opus.enc.part", folder / "1.2.opus.enc.part"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    age(stale, 3600)
    await system.pipeline.recover()
    assert not stale.exists()
    assert fresh.exists()


async def test_encryption_needs_a_key(settings: Settings, system: Recordings) -> None:
    with pytest.raises(ValueError, match="no master key"):
        pipeline_module.RecordingPipeline(
            settings, system.catalog, system.calls, None, system.alarms
        )


async def test_announced_twice_is_not_an_error(system: Recordings, call_start: datetime) -> None:
    wav = await recorded_call(system, "call-1", call_start, 1.0)
    first = await system.pipeline.process(wav)
    again = await system.pipeline.process(wav)
    assert first is not None and again is not None
    assert again.id == first.id
    assert system.alarms.active() == []


async def test_missing_recording_raises_an_alarm(system: Recordings, call_start: datetime) -> None:
    await system.pipeline.recording_closed(
        "1.404", system.settings.recordings_dir / "2026/11/28/1.404.wav"
    )
    runner = asyncio.create_task(system.pipeline.run())
    try:
        await asyncio.wait_for(system.pipeline.drain(), 30)
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner
    [alarm] = system.alarms.active()
    assert "never cataloged" in alarm.message


async def test_two_processes_never_archive_one_file_twice(
    system: Recordings, call_start: datetime
) -> None:
    """The engine and `dasan recordings recover` racing: one archive, one proof, no leftovers."""
    paths = [
        await recorded_call(system, f"call-{n}", call_start + timedelta(seconds=n), 1.0)
        for n in range(3)
    ]
    other = pipeline_module.RecordingPipeline(
        system.settings, system.catalog, system.calls, system.ring, system.alarms
    )
    await asyncio.gather(
        system.pipeline.recover(), other.recover(), *(other.process(p) for p in paths)
    )
    await system.pipeline.recover()  # whatever the loser left is finished now
    rows = await system.catalog.find()
    assert [r.state for r in rows] == [RecordingState.ARCHIVED] * 3
    assert [link.kind for link in await system.catalog.links()].count("archived") == 3
    leftovers = [p.name for p in system.settings.recordings_dir.rglob("*") if p.is_file()]
    assert sorted(leftovers) == sorted(p.name.replace(".wav", ".opus.enc") for p in paths)
    assert system.alarms.active() == []


async def test_recovery_dates_and_logs_an_unknown_call_from_the_cdr(
    system: Recordings, call_start: datetime
) -> None:
    """A call served by the fallback while the engine was down is dated by the PBX's CDR and
    gets its call-log row from it: language from its first fallback queue, the consultant of
    the last bridge, journey "fallback"."""
    uniqueid = f"{int(call_start.timestamp())}.89"
    spool_wav(system.settings, uniqueid, 2.0, call_start)
    answer = call_start.timestamp() + 0.25
    bridged = answer + 0.5
    cdr = system.settings.pbx_dir / "log" / "cdr-custom" / "Master.csv"
    cdr.parent.mkdir(parents=True, exist_ok=True)

    def row(dst: str, app: str, data: str, times: tuple[float, float, float]) -> str:
        fields = ["", "0101", "120", "from-citizens", "", "PJSIP/citizen-1", dst, app, data]
        stamps = [f"{t:.6f}" for t in times]
        return (
            ",".join(f'"{v}"' for v in [*fields, *stamps, "2", "2", "ANSWERED", "DOCUMENTATION"])
            + f',"{uniqueid}","citizen","{uniqueid}"\n'
        )

    start = call_start.timestamp()
    cdr.write_text(
        row("", "Queue", "fallback-en,,,,120", (start, answer, bridged))
        + row("PJSIP/c0437-0000001a", "Queue", "fallback-ko,,,,600", (bridged, bridged, answer + 2))
    )
    report = await system.pipeline.recover()
    assert len(report.archived) == 1
    [rec] = await system.catalog.find()
    assert rec.call_id == uniqueid
    assert abs(rec.started_at.timestamp() - answer) < 0.001
    call = await system.calls.get(uniqueid)
    assert call is not None
    assert (call.language, call.service, call.consultant) == ("en", None, "c0437")
    assert call.duration_ms == 2000
    assert call.journey["path"] == "fallback"
    assert call.journey["queues"] == ["fallback-en", "fallback-ko"]
    assert call.routed_at is None


def test_fallback_language_is_the_first_fallback_queue() -> None:
    assert pipeline_module.fallback_language(("fallback-ja", "fallback-ko")) == "ja"
    assert pipeline_module.fallback_language(("support", "fallback-ko")) == "ko"
    assert pipeline_module.fallback_language(("fallback-EN", "other")) is None
    assert pipeline_module.fallback_language(()) is None


async def test_hundreds_left_behind_are_recovered_together(
    system: Recordings, call_start: datetime
) -> None:
    paths = [
        spool_wav(system.settings, f"{int(call_start.timestamp())}.{n}", 0.2, call_start)
        for n in range(1000, 1030)
    ]
    report = await system.pipeline.recover()
    assert sorted(report.archived) == sorted(
        p.relative_to(system.settings.recordings_dir).as_posix() for p in paths
    )
    assert not any(p.exists() for p in paths)
    assert len(await system.catalog.find()) == 30
