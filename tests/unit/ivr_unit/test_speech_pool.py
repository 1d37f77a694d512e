"""The speech worker pool and listening (issue 11): bounded slots, keys only when full, a dying
worker costs the caller speech but not the call, the recognizer's end of utterance stops the
recording before the node timeout, and a steady tone is no input at the node timeout.

Worker processes are real; their recognizer is the fake in ``fake_speech_worker`` (the real
Vosk model runs in ``test_speech_listen``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from ivr.listen import STOP_DIGIT, Heard, ListenRequest, listen
from ivr.runner import SpeechInput
from ivr.speech_pool import SpeechPool, SpeechUnavailable

from .fake_line import RecordingLine, syllables, tone
from .fake_speech_worker import COMMAND

GRAMMAR = ("교통", "버스")
RATE = 8000


async def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():  # noqa: ASYNC110 - polling pool counters, with a deadline
            await asyncio.sleep(0.02)
    assert check(), what


@contextlib.asynccontextmanager
async def running(pool: SpeechPool, workers: int) -> AsyncIterator[SpeechPool]:
    task = asyncio.create_task(pool.run())
    try:
        await wait_until(lambda: pool.ready_workers == workers, 60, "workers ready")
        yield pool
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def speech_for(folder: Path, pool: SpeechPool, line: RecordingLine) -> SpeechInput:
    return SpeechInput(
        stream=None,
        host_dir=folder,
        pbx_dir="/var/spool/dasan/speech",
        timeout_s=5.0,
        pool=pool,
        stop_recording=line.stop_recording,
    )


async def hear(folder: Path, pool: SpeechPool, line: RecordingLine, name: str, ms: int) -> Heard:
    request = ListenRequest(name, "wav", GRAMMAR, ms, "0123456789*#")
    return await listen(line, speech_for(folder, pool, line), request)


def test_a_pool_needs_workers_and_slots() -> None:
    with pytest.raises(ValueError, match="at least one worker"):
        SpeechPool(0, 4)
    with pytest.raises(ValueError, match="at least one worker"):
        SpeechPool(2, 0)


async def test_the_pool_never_opens_more_streams_than_its_slots(tmp_path: Path) -> None:
    pool = SpeechPool(2, 2, command=COMMAND)
    assert pool.open(tmp_path / "early.wav", GRAMMAR) is None  # no worker ready yet
    async with running(pool, 2):
        assert pool.capacity == 4
        streams = [pool.open(tmp_path / f"r{i}.wav", GRAMMAR) for i in range(4)]
        assert all(s is not None for s in streams) and pool.in_use == 4
        assert pool.open(tmp_path / "r5.wav", GRAMMAR) is None
        first = streams[0]
        assert first is not None
        first.close()
        first.close()  # idempotent
        assert pool.in_use == 3
        again = pool.open(tmp_path / "r6.wav", GRAMMAR)
        assert again is not None and pool.in_use == 4
        for stream in [*streams, again]:
            assert stream is not None
            stream.close()
        assert pool.in_use == 0


async def test_a_full_pool_offers_keys_only(tmp_path: Path) -> None:
    pool = SpeechPool(1, 1, command=COMMAND)
    async with running(pool, 1):
        busy = pool.open(tmp_path / "busy.wav", GRAMMAR)
        assert busy is not None
        line = RecordingLine(tmp_path, syllables(1.0, RATE), RATE, keys_only_digit="3")
        heard = await hear(tmp_path, pool, line, "full", 3000)
        assert heard == Heard(digit="3", unavailable=True)
        assert line.commands == [("WAIT FOR DIGIT", "3000")]  # nothing recorded
        busy.close()


async def test_the_end_of_an_utterance_stops_the_recording_before_the_timeout(
    tmp_path: Path,
) -> None:
    pool = SpeechPool(1, 2, command=COMMAND)
    async with running(pool, 1):
        line = RecordingLine(tmp_path, syllables(0.8, RATE), RATE)
        heard = await hear(tmp_path, pool, line, "word", 5000)
        assert heard.recognition is not None and heard.recognition.word == GRAMMAR[0]
        assert not heard.unavailable and heard.digit is None
        assert line.stopped_on == ["PJSIP/citizen-00000007"]
        assert line.recorded_s < 2.5, line.recorded_s  # 0.8 s of speech, not the 5 s timeout
        record = line.commands[0]
        assert record[0] == "RECORD FILE" and STOP_DIGIT in record[3] and record[4] == "5000"
        assert not (tmp_path / "word.wav").exists() and pool.in_use == 0


async def test_a_steady_tone_is_no_input_at_the_node_timeout(tmp_path: Path) -> None:
    pool = SpeechPool(1, 2, command=COMMAND)
    async with running(pool, 1):
        line = RecordingLine(tmp_path, tone(4.0, RATE), RATE)
        heard = await hear(tmp_path, pool, line, "tone", 2000)
        assert heard == Heard()  # no word, no key, speech was available
        assert line.recorded_s == 2.0 and line.stopped_on == []
        assert not (tmp_path / "tone.wav").exists() and pool.in_use == 0


async def test_a_key_ends_listening_and_wins(tmp_path: Path) -> None:
    pool = SpeechPool(1, 1, command=COMMAND)
    async with running(pool, 1):
        line = RecordingLine(tmp_path, tone(3.0, RATE), RATE, key_at_s=(0.3, "2"))
        assert await hear(tmp_path, pool, line, "key", 3000) == Heard(digit="2")
        assert line.recorded_s < 1.0 and pool.in_use == 0


async def test_a_dying_worker_means_keys_only_and_is_replaced(tmp_path: Path) -> None:
    pool = SpeechPool(1, 2, command=COMMAND, restart_delay_s=0.1)
    async with running(pool, 1):
        other = pool.open(tmp_path / "other.wav", GRAMMAR)
        assert other is not None
        line = RecordingLine(tmp_path, syllables(0.8, RATE), RATE, keys_only_digit="5")
        heard = await hear(tmp_path, pool, line, "die", 4000)
        assert heard == Heard(digit="5", unavailable=True)
        # The recording was stopped at once and the caller kept the rest of the node for keys.
        assert line.recorded_s < 2.0 and line.commands[-1][0] == "WAIT FOR DIGIT"
        assert 2000 < int(line.commands[-1][1]) < 4000
        # The other caller on that worker lost speech too, and learns it at once.
        with pytest.raises(SpeechUnavailable):
            await other.finish(1.0)
        other.close()
        await wait_until(lambda: pool.started == 2 and pool.ready_workers == 1, 30, "replaced")
        line = RecordingLine(tmp_path, syllables(0.8, RATE), RATE)
        heard = await hear(tmp_path, pool, line, "after", 5000)
        assert heard.recognition is not None and heard.recognition.word == GRAMMAR[0]
