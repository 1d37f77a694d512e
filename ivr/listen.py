"""Listening for Korean speech at a menu node: the PBX records, a pool worker recognizes the
recording while it grows, and whichever comes first ends it.

Invariants:
- The recording (RECORD FILE) is bounded by the node's timeout, never by a fixed maximum, and
  has no silence detection: the caller may take a moment to start, and a steady tone or steady
  noise (never silence, never a word) simply runs to the node timeout and is no input.
- When the recognizer reports the end of an utterance holding a word, the recording is stopped
  at once by a DTMF ``STOP_DIGIT`` the engine injects on the caller's channel (AMI PlayDTMF
  with Receive; RECORD FILE lists it among its escape digits). Without AMI the recording runs
  to the timeout and the word heard is still used.
- A key the caller presses ends the recording and wins over speech.
- No worker slot free, or the worker dies mid-recording: the result says ``unavailable`` and
  the caller can still press keys until the node timeout; the call never fails for speech.
- The recording file is deleted once the node is done with it, whatever happened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ivr.agi import AgiHangup, RecordingResult
from ivr.speech import Recognition
from ivr.speech_pool import PoolStream, SpeechUnavailable

if TYPE_CHECKING:
    from ivr.runner import SpeechInput

log = logging.getLogger(__name__)

# DTMF D: on no citizen's keypad, so it cannot be mistaken for a menu choice.
STOP_DIGIT = "D"
# Don't inject the stop digit this close to the node timeout: the recording is about to end by
# itself, and a digit arriving after it would reach the next command.
STOP_MARGIN_S = 0.5
# Below this, the rest of a node's time is not worth a WAIT FOR DIGIT.
_MIN_WAIT_MS = 200

StopRecording = Callable[[str], Awaitable[bool]]
"""Inject ``STOP_DIGIT`` on a channel (by name); False when it could not be sent."""


class ListeningCall(Protocol):
    """What listening needs from the AGI session (``ivr.runner.AgiCall`` has it all)."""

    variables: Mapping[str, str]

    @property
    def uniqueid(self) -> str: ...

    async def wait_for_digit(self, timeout_ms: int) -> str | None: ...

    async def record_file(
        self,
        path: str,
        fmt: str,
        escape_digits: str,
        timeout_ms: int,
        silence_s: int | None = None,
    ) -> RecordingResult: ...


@dataclass(frozen=True)
class Heard:
    """What a listening node got: a key, a word, or nothing; ``unavailable`` when speech could
    not be used (keys only)."""

    digit: str | None = None
    recognition: Recognition | None = None
    unavailable: bool = False


@dataclass(frozen=True)
class ListenRequest:
    """One listening node: record ``name``.``fmt`` for at most ``timeout_ms``, recognizing
    against ``grammar``; ``keys`` end it as a key press."""

    name: str
    fmt: str
    grammar: tuple[str, ...]
    timeout_ms: int
    keys: str


async def listen(session: ListeningCall, speech: SpeechInput, request: ListenRequest) -> Heard:
    """Record and recognize the recording as it grows; see the module's invariants."""
    deadline = asyncio.get_running_loop().time() + request.timeout_ms / 1000
    host = speech.host_dir / f"{request.name}.{request.fmt}"
    stream = speech.pool.open(host, request.grammar) if speech.pool is not None else None
    if stream is None:
        log.info("ivr %s: speech unavailable (no free worker): keys only", session.uniqueid)
        return Heard(digit=await session.wait_for_digit(request.timeout_ms), unavailable=True)
    try:
        result = await _Recording(session, speech, stream, deadline).run(request)
        if result.reason == "hangup":
            raise AgiHangup("the caller hung up while speaking")
        if result.digit and result.digit != STOP_DIGIT:
            return Heard(digit=result.digit)
        try:
            return Heard(recognition=await stream.finish(speech.timeout_s))
        except SpeechUnavailable as exc:
            log.warning("ivr %s: speech unavailable: %s; keys only", session.uniqueid, exc)
            return await _keys_only(session, deadline)
    finally:
        stream.close()
        host.unlink(missing_ok=True)


@dataclass(frozen=True)
class _Recording:
    session: ListeningCall
    speech: SpeechInput
    stream: PoolStream
    deadline: float

    async def run(self, request: ListenRequest) -> RecordingResult:
        """RECORD FILE until a key, the timeout, or the recognizer's end of utterance."""
        pbx_path = f"{self.speech.pbx_dir.rstrip('/')}/{request.name}"
        record = asyncio.ensure_future(
            self.session.record_file(
                pbx_path, request.fmt, request.keys + STOP_DIGIT, request.timeout_ms, None
            )
        )
        try:
            waiting: set[asyncio.Future[Any]] = {record, self.stream.heard}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if not record.done():
                # The recognizer ended the utterance (or its worker died): stop recording now.
                await self._stop()
            return await record
        finally:
            if not record.done():
                record.cancel()

    async def _stop(self) -> None:
        channel = self.session.variables.get("agi_channel", "")
        remaining = self.deadline - asyncio.get_running_loop().time()
        stop = self.speech.stop_recording
        if stop is None or not channel or remaining < STOP_MARGIN_S:
            return
        if not await stop(channel):
            log.warning("ivr %s: could not stop the recording early", self.session.uniqueid)


async def _keys_only(session: ListeningCall, deadline: float) -> Heard:
    remaining_ms = int((deadline - asyncio.get_running_loop().time()) * 1000)
    digit = await session.wait_for_digit(remaining_ms) if remaining_ms >= _MIN_WAIT_MS else None
    return Heard(digit=digit, unavailable=True)
