"""Engine down (issue 10): with no FastAGI server at all, an English caller picks English in
the dialplan's fallback language menu, hears the recording notice in English, and is answered
through the static `fallback-en` queue by a consultant who speaks English; the call is
recorded, and an engine started afterwards catalogs that recording (it never knew the call),
logs the call from the CDR (``dasan calls --json``: journey "fallback", English, the
consultant) and the audit is clean."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from dasan.sipp import CitizenCalls, ConsultantUas, Dtmf, ensure_media, run_citizens
from recordings.audit import AuditReport, audit
from tests.integration.support import (
    AmiRecorder,
    EngineProcess,
    ItEnv,
    call_seconds,
    citizen_uniqueid,
    dasan_json,
    eventually,
    port_open,
    roster_languages,
    wav_seconds,
)

CALLER = "0107100001"
LANGUAGES = ("ko", "en", "zh", "ja", "vi", "mn")
# Seconds into the played silence after the six language options at which the key comes:
# nothing else is played to the caller then, and the caller's RTP pauses for the RFC 2833 key
# (the recording must still be as long as the call).
INTO_SILENCE_S = 2.5


def key_at_ms(prompts: Path) -> int:
    """When the caller presses 2: in the silence after the language options as built."""
    options = sum(wav_seconds(prompts / code / "language_option.wav") for code in LANGUAGES)
    return int((options + INTO_SILENCE_S) * 1000)


@pytest.mark.timeout(300)
async def test_english_caller_is_answered_in_english_when_the_engine_is_down(
    recorder: AmiRecorder, sipp_dir: Path, it_env: ItEnv
) -> None:
    settings = it_env.settings
    assert not port_open(settings.agi.host, settings.agi.port), "an engine is listening"
    since = dt.datetime.now(dt.UTC)
    await asyncio.to_thread(ensure_media, sipp_dir / "media")
    async with ConsultantUas(sipp_dir / "uas", ring_ms=300, talk_ms=6_000):
        result = await run_citizens(
            CitizenCalls(
                caller=CALLER,
                digits=(Dtmf("2", key_at_ms(settings.prompts_dir)),),
                hangup_after_ms=90_000,
            ),
            sipp_dir / "uac",
        )
    assert result.ok, result.errors
    uniqueid = citizen_uniqueid(recorder, CALLER)
    hangup = await recorder.wait_event("Hangup", Uniqueid=uniqueid)

    # The notice in English came before the English desk rang anyone.
    notice = recorder.where("UserEvent", Uniqueid=uniqueid, UserEvent="DasanFallback")
    assert [(e.get("Language"), e.get("Notice")) for e in notice] == [("en", "en")]
    joined = recorder.where("QueueCallerJoin", Uniqueid=uniqueid)
    assert [e.get("Queue") for e in joined] == ["fallback-en"]
    dials = recorder.where("DialBegin", Uniqueid=uniqueid)
    assert dials and recorder.events.index(notice[0]) < recorder.events.index(dials[0])
    answered = recorder.where("DialEnd", Uniqueid=uniqueid, DialStatus="ANSWER")
    assert len(answered) == 1
    consultant = answered[0].get("DestChannel").removeprefix("PJSIP/").split("-")[0]
    assert "en" in roster_languages()[consultant], consultant

    # Recorded whole, by Asterisk alone.
    files = list(settings.recordings_dir.rglob(f"{uniqueid}.wav"))
    assert len(files) == 1, files
    call_s = call_seconds(recorder, uniqueid, hangup)
    wav_s = wav_seconds(files[0])
    print(f"fallback call {call_s:.3f} s, recording {wav_s:.3f} s")
    # Measured 0.037 s short (channel creation to MixMonitor's start); a key pressed with
    # nothing played used to cost ~0.1 s more.
    assert abs(wav_s - call_s) <= 0.1, (wav_s, call_s)

    # An engine started now finds the recording it never heard of, catalogs and archives it.
    engine = EngineProcess(
        it_env, {"DASAN_RECORDINGS__SETTLE_S": "5", "DASAN_RECORDINGS__RESCAN_INTERVAL_S": "5"}
    )
    await asyncio.to_thread(engine.start)
    try:

        def clean(report: AuditReport) -> bool:
            return report.ok and not report.in_progress and report.recordings_checked >= 1

        report = await eventually(
            lambda: asyncio.to_thread(audit, settings, since=since),
            clean,
            120,
            "the fallback call's recording cataloged and the audit clean",
        )
        assert report.calls_checked >= 1

        def this_call(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [c for c in calls if c["uniqueid"] == uniqueid]

        calls = await eventually(
            lambda: asyncio.to_thread(dasan_json, it_env, "calls"),
            lambda found: len(this_call(found)) == 1,
            30,
            "the fallback call in `dasan calls`",
        )
        [call] = this_call(calls)
        assert call["journey"]["path"] == "fallback", call
        assert (call["language"], call["consultant"]) == ("en", consultant), call
        assert abs(call["duration_s"] - call_s) <= 0.1, (call, call_s)
        assert call["recording"] is not None, call
    finally:
        await asyncio.to_thread(engine.stop)
