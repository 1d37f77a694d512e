"""The command helpers the IVR and ACD use (answer, stream_file, get_data, exec, ...), written
once over ``command()``.

Invariants:
  - Every helper has a timeout: the session's ``command_timeout_s`` by default; commands whose
    length depends on audio (STREAM FILE, GET DATA, WAIT FOR DIGIT, RECORD FILE) get
    ``media_timeout_s`` plus the Asterisk-side timeout; an explicit ``timeout`` (None: none)
    wins, as ``exec("Dial", ..., timeout=None)`` needs.
  - A failed result (``result=-1``) is reported as ``AgiHangup`` when Asterisk's HANGUP line
    follows within ``hangup_grace_s`` (it is written right after the failed reply), otherwise
    as ``AgiCommandError``; ``EXEC`` of an unknown application (``-2``) is ``AgiCommandError``.
"""

from __future__ import annotations

import asyncio
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from typing import Final

from ivr.agi.errors import AgiCommandError, AgiError, AgiHangup
from ivr.agi.protocol import CommandCompleted, RemoteProtocolError
from ivr.settings import AgiSettings

AgiReply = CommandCompleted
# Every key a caller can press: the escape digits of a filled wait.
ALL_DIGITS: Final = "0123456789*#"


class _Default(Enum):
    TIMEOUT = "default"


DEFAULT_TIMEOUT: Final = _Default.TIMEOUT
Timeout = float | None | _Default


@dataclass(frozen=True, slots=True)
class RecordingResult:
    """Outcome of RECORD FILE: why it stopped (``timeout``, ``dtmf``, ``hangup``), the digit
    that stopped it, and the end position in samples."""

    reason: str
    digit: str | None
    endpos: int


class AgiCommands(ABC):
    """Helpers over ``command()``; ``AgiSession`` provides the wire."""

    hungup: asyncio.Event
    _settings: AgiSettings

    @abstractmethod
    async def command(
        self,
        name: str,
        *args: str,
        timeout: Timeout = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    ) -> AgiReply:
        """Run one AGI command; the ``200`` reply, or an ``AgiError``."""

    async def _failure(self, name: str, reply: AgiReply, reason: str) -> AgiError:
        """A failed result: a hangup if Asterisk's HANGUP line follows promptly."""
        if not self.hungup.is_set():
            try:
                async with asyncio.timeout(self._settings.hangup_grace_s):
                    await self.hungup.wait()
            except TimeoutError:
                return AgiCommandError(name, reply, reason)
        return AgiHangup(f"{name}: the channel hung up")

    def _media_timeout(self, timeout: Timeout, asterisk_ms: int = 0) -> float | None:
        if timeout is not DEFAULT_TIMEOUT:
            return timeout
        return self._settings.media_timeout_s + max(asterisk_ms, 0) / 1000

    # -- helpers ------------------------------------------------------------------------------
    async def answer(self) -> None:
        reply = await self.command("ANSWER")
        if reply.int_result() < 0:
            raise await self._failure("ANSWER", reply, "answer failed")

    async def stream_file(
        self,
        file: str,
        escape_digits: str = "",
        offset: int = 0,
        *,
        timeout: Timeout = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    ) -> tuple[str | None, int]:
        """Play ``file`` (from sample ``offset``); returns (digit that stopped it or None, end
        position in samples)."""
        args = (file, escape_digits, str(offset)) if offset > 0 else (file, escape_digits)
        reply = await self.command("STREAM FILE", *args, timeout=self._media_timeout(timeout))
        result = reply.int_result()
        if result < 0:
            raise await self._failure("STREAM FILE", reply, f"cannot play {file!r}")
        return (chr(result) if result > 0 else None), _endpos(reply)

    async def get_data(
        self,
        file: str,
        timeout_ms: int,
        max_digits: int,
        *,
        timeout: Timeout = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    ) -> str | None:
        """Play ``file`` and collect up to ``max_digits`` DTMF digits (``#`` ends them early);
        None if none came. With ``silence_fill`` the waits play silence (see the settings)."""
        if self._settings.silence_fill:
            return await self._filled_get_data(file, timeout_ms, max_digits)
        limit = self._media_timeout(timeout, timeout_ms * max(max_digits, 1))
        reply = await self.command(
            "GET DATA", file, str(timeout_ms), str(max_digits), timeout=limit
        )
        if reply.result.startswith("-"):
            raise await self._failure("GET DATA", reply, f"cannot play {file!r}")
        return reply.result or None

    async def _filled_get_data(self, file: str, timeout_ms: int, max_digits: int) -> str | None:
        digits = ""
        digit, _ = await self.stream_file(file, ALL_DIGITS)
        while len(digits) < max(max_digits, 1):
            if digit is None:
                digit = await self.wait_for_digit(timeout_ms)
            if digit is None or digit == "#":
                break
            digits, digit = digits + digit, None
        return digits or None

    async def wait_for_digit(
        self,
        timeout_ms: int,
        *,
        timeout: Timeout = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    ) -> str | None:
        """The first key within ``timeout_ms`` (None if none came); with ``silence_fill`` the
        wait plays that sound once per second, rounded up to whole seconds."""
        if self._settings.silence_fill and timeout_ms > 0:
            for _ in range(math.ceil(timeout_ms / 1000)):
                digit, _ = await self.stream_file(self._settings.silence_fill, ALL_DIGITS)
                if digit is not None:
                    return digit
            return None
        reply = await self.command(
            "WAIT FOR DIGIT", str(timeout_ms), timeout=self._media_timeout(timeout, timeout_ms)
        )
        result = reply.int_result()
        if result < 0:
            raise await self._failure("WAIT FOR DIGIT", reply, "wait failed")
        return chr(result) if result > 0 else None

    async def exec(
        self,
        app: str,
        *args: str,
        timeout: Timeout = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    ) -> int:
        """Run dialplan application ``app`` with ``args`` joined by ``,``; returns its result.
        Long applications (Dial, Queue, Wait) need an explicit ``timeout`` (None: unbounded)."""
        options = (",".join(args),) if args else ()
        reply = await self.command("EXEC", app, *options, timeout=timeout)
        result = reply.int_result()
        if result == -2:
            raise AgiCommandError("EXEC", reply, f"no such application {app!r}")
        return result

    async def set_variable(self, name: str, value: str) -> None:
        await self.command("SET VARIABLE", name, value)

    async def get_variable(self, name: str) -> str | None:
        reply = await self.command("GET VARIABLE", name)
        return (reply.data or "") if reply.result == "1" else None

    async def get_full_variable(self, expression: str, channel: str | None = None) -> str | None:
        """Evaluate an expression such as ``${CHANNEL(language)}`` (optionally on another
        channel); None if it cannot be evaluated."""
        args = (expression,) if channel is None else (expression, channel)
        reply = await self.command("GET FULL VARIABLE", *args)
        return (reply.data or "") if reply.result == "1" else None

    async def record_file(
        self,
        path: str,
        fmt: str,
        escape_digits: str,
        timeout_ms: int,
        silence_s: int | None = None,
        *,
        beep: bool = False,
        timeout: Timeout = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    ) -> RecordingResult:
        """Record to ``path``.``fmt`` until a digit in ``escape_digits``, ``timeout_ms``
        (-1: none), or ``silence_s`` seconds of silence."""
        args = [path, fmt, escape_digits, str(timeout_ms)]
        if beep:
            args.append("BEEP")
        if silence_s is not None:
            args.append(f"s={silence_s}")
        limit = self._media_timeout(timeout, timeout_ms) if timeout_ms >= 0 else timeout
        reply = await self.command("RECORD FILE", *args, timeout=limit)
        reason = reply.data or ""
        result = reply.int_result()
        if result < 0 and reason != "hangup":
            raise await self._failure("RECORD FILE", reply, f"recording failed ({reason})")
        digit = chr(result) if reason == "dtmf" and result > 0 else None
        return RecordingResult(reason, digit, _endpos(reply))

    async def set_music(self, on: bool, cls: str | None = None) -> None:
        args = ("on", cls) if on and cls else ("on",) if on else ("off",)
        await self.command("SET MUSIC", *args)

    async def verbose(self, message: str, level: int = 1) -> None:
        await self.command("VERBOSE", message, str(level))

    async def hangup(self) -> None:
        await self.command("HANGUP")


def _endpos(reply: AgiReply) -> int:
    try:
        return int(reply.extra.get("endpos", "0"))
    except ValueError:
        raise RemoteProtocolError("endpos is not an integer", reply.extra["endpos"]) from None
