"""Records true (issue 10): a recording is as long as its call even while neither party sends
audio. The citizen talks to a consultant whose phone sends no RTP at all (a muted phone, or
one with silence suppression), and the citizen's own RTP stops for several seconds in the
middle of the conversation, in a 1-to-1 relay bridge (settings pbx.mixing_bridges = "off"),
which writes nothing to either party while both are silent. Dasan's recorder (DasanRecord,
asterisk-modules/app_dasanrecord.c) writes by elapsed time, so the silent stretch is in the
file where it happened and as long as it lasted. MixMonitor, which writes the frames it
gets, made 6.0 s of a 12.0 s call here.

This module restarts the session's PBX with relay bridges, and restores it afterwards.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from dasan.pbx.container import PbxContainer
from dasan.pbx.service import render_generated
from dasan.sipp import AudioPause, CitizenCalls, ConsultantUas, Dtmf, ensure_media, run_citizens
from recordings.audit import AuditReport, audit
from tests.integration.support import (
    AmiRecorder,
    EngineProcess,
    ItEnv,
    call_seconds,
    citizen_uniqueid,
    eventually,
    wav_seconds,
)

CALLER = "0107100010"
# The citizen's audio stops this long after the last key (the consultant has answered by
# then: the test checks it) and stays off for PAUSE_MS.
AFTER_KEYS_MS = 10_000
PAUSE_MS = 6_000
# A window is silent when its RMS is below this (16-bit samples; speech and music are far above).
SILENT_RMS = 50.0
WINDOW_S = 0.1


@pytest.fixture(scope="module")
def relay_pbx(pbx: PbxContainer, it_env: ItEnv) -> Iterator[PbxContainer]:
    """The session's PBX restarted with the 1-to-1 relay bridges; the default restored after."""
    settings = it_env.settings
    relay = settings.model_copy(
        update={"pbx": settings.pbx.model_copy(update={"mixing_bridges": "off"})}
    )
    render_generated(relay)
    pbx.down()
    pbx.up()
    try:
        techs = pbx.cli("bridge technology show")
        assert "simple_bridge" in techs, techs
        yield pbx
    finally:
        render_generated(settings)
        pbx.down()
        pbx.up()


@pytest.fixture(scope="module")
def engine(
    relay_pbx: PbxContainer, it_env: ItEnv, engine_env: dict[str, str]
) -> Iterator[EngineProcess]:
    """`dasan serve` against the restarted PBX, cataloging recordings soon after they end
    (settled: unchanged for longer than the pause, so the test reads the WAV before that)."""
    proc = EngineProcess(
        it_env, {"DASAN_RECORDINGS__SETTLE_S": "20", "DASAN_RECORDINGS__RESCAN_INTERVAL_S": "5"}
    )
    proc.start()
    yield proc
    proc.stop()


def silent_runs(path: Path) -> list[tuple[float, float]]:
    """(start s, length s) of each stretch of the recording whose windows are all silent."""
    with wave.open(str(path)) as wav:
        rate, data = wav.getframerate(), wav.readframes(wav.getnframes())
    samples = memoryview(data).cast("h")
    size = int(rate * WINDOW_S)
    runs: list[tuple[float, float]] = []
    start: float | None = None
    for index in range(0, len(samples) - size + 1, size):
        window = samples[index : index + size]
        rms = (sum(s * s for s in window) / size) ** 0.5
        at = index / rate
        if rms < SILENT_RMS and start is None:
            start = at
        elif rms >= SILENT_RMS and start is not None:
            runs.append((start, at - start))
            start = None
    if start is not None:
        runs.append((start, len(samples) / rate - start))
    return runs


@pytest.mark.timeout(300)
async def test_a_silent_stretch_is_recorded_where_and_as_long_as_it_happened(
    engine: EngineProcess, recorder: AmiRecorder, sipp_dir: Path, it_env: ItEnv
) -> None:
    settings = it_env.settings
    since = dt.datetime.now(dt.UTC)
    await asyncio.to_thread(ensure_media, sipp_dir / "media")
    async with ConsultantUas(sipp_dir / "uas", ring_ms=300, talk_ms=120_000, silent=True):
        result = await run_citizens(
            CitizenCalls(
                caller=CALLER,
                digits=(Dtmf("1", 1500), Dtmf("1", 500)),
                pauses=(AudioPause(AFTER_KEYS_MS, PAUSE_MS),),
                hangup_after_ms=3_000,
            ),
            sipp_dir / "uac",
        )
    assert result.ok, result.errors
    uniqueid = citizen_uniqueid(recorder, CALLER)
    hangup = await recorder.wait_event("Hangup", Uniqueid=uniqueid)
    [answered] = recorder.where("DialEnd", Uniqueid=uniqueid, DialStatus="ANSWER")
    [created] = recorder.where("Newchannel", Uniqueid=uniqueid)
    bridged_at = float(answered.get("Timestamp")) - float(created.get("Timestamp"))

    [path] = list(settings.recordings_dir.rglob(f"{uniqueid}.wav"))
    call_s = call_seconds(recorder, uniqueid, hangup)
    # The recorder finalizes the file's header within a tick of the hang-up.
    wav_s = await eventually(
        lambda: asyncio.to_thread(wav_seconds, path), lambda s: s > 0, 10, "the file closed"
    )
    tolerance = call_s * settings.recordings.duration_tolerance_ratio
    print(
        f"call {call_s:.3f} s, recording {wav_s:.3f} s, consultant answered at {bridged_at:.1f} s"
    )
    assert abs(wav_s - call_s) <= tolerance, (wav_s, call_s, tolerance)

    # The silent stretch is in the file, in the conversation, about as long as the pause (the
    # citizen's clip has 1 s of silence between loops, which may lengthen it by up to 1 s).
    runs = await asyncio.to_thread(silent_runs, path)
    longest = max(runs, key=lambda run: run[1])
    assert longest[0] >= bridged_at, (longest, bridged_at, runs)
    assert PAUSE_MS / 1000 - 0.5 <= longest[1] <= PAUSE_MS / 1000 + 1.5, (longest, runs)

    # The audit (recording against the call log, its own tolerance) finds nothing wrong.
    def clean(report: AuditReport) -> bool:
        return report.ok and not report.in_progress and report.recordings_checked >= 1

    report = await eventually(
        lambda: asyncio.to_thread(audit, settings, since=since),
        clean,
        120,
        "the call's recording cataloged and the audit clean",
    )
    assert report.calls_checked >= 1
