"""One FastAGI call: the session API the IVR and ACD build on.

Invariants:
  - One reader task per connection feeds the sans-IO protocol continuously, so ``hungup`` is
    set the moment Asterisk writes HANGUP, answers 511, or closes the socket, even while the
    session is waiting on something else (``asyncio.wait([acd_future, session.hungup.wait()])``).
  - Commands run one at a time (a lock), each under a timeout: ``command_timeout_s`` by
    default, ``media_timeout_s`` plus the Asterisk-side timeout for audio commands; ``None``
    (no timeout) only when a caller asks for it, e.g. ``exec("Dial", ..., timeout=None)``.
  - A command abandoned by timeout or cancellation stays in flight on the wire; the next
    command first waits for that reply, so a reply is never attributed to the wrong command.
  - Once the channel is gone, the pending command and every later one raise ``AgiHangup``
    without writing anything.
  - ``close()`` is idempotent, cancels and awaits the reader task, and always closes the
    socket: closing is what lets Asterisk continue the dialplan.
  - A protocol violation after the handshake is logged once, here, with the uniqueid.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Final
from urllib.parse import parse_qsl

from ivr.agi.errors import (
    AgiCommandError,
    AgiConnectionError,
    AgiError,
    AgiHandshakeError,
    AgiHangup,
    AgiTimeout,
)
from ivr.agi.protocol import (
    AgiConnection,
    CommandCompleted,
    ConnectionClosed,
    Event,
    HangupReceived,
    RemoteProtocolError,
    SessionStarted,
)
from ivr.settings import AgiSettings

log = logging.getLogger(__name__)

AgiReply = CommandCompleted
_READ_SIZE: Final = 65536
_CLOSE_TIMEOUT_S: Final = 1.0


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


def split_script(script: str) -> tuple[str, dict[str, str]]:
    """``"ivr/menu?lang=ko"`` -> ``("ivr/menu", {"lang": "ko"})``; also takes a full
    ``agi://host:port/path?query`` URL."""
    if "://" in script:
        script = script.split("://", 1)[1]
        script = script.split("/", 1)[1] if "/" in script else ""
    path, _, query = script.partition("?")
    return path.strip("/"), dict(parse_qsl(query, keep_blank_values=True))


class AgiSession:
    """A live FastAGI connection. Created and closed by the server; handlers use the API."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        settings: AgiSettings,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._settings = settings
        self._conn = AgiConnection(
            max_line_bytes=settings.max_line_bytes,
            max_variables=settings.max_variables,
            max_block_bytes=settings.max_variable_block_bytes,
        )
        self.hungup = asyncio.Event()
        self.variables: Mapping[str, str] = {}
        self.path = ""
        self.query: dict[str, str] = {}
        self.commands_sent = 0
        self._lock = asyncio.Lock()
        self._inflight: asyncio.Future[CommandCompleted | AgiError] | None = None
        self._started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._reader_task: asyncio.Task[None] | None = None
        self._gone: AgiError | None = None
        self._closed = False

    # -- identity ---------------------------------------------------------------------------
    @property
    def uniqueid(self) -> str:
        return self.variables.get("agi_uniqueid", "")

    @property
    def channel(self) -> str:
        return self.variables.get("agi_channel", "")

    @property
    def language(self) -> str:
        return self.variables.get("agi_language", "")

    @property
    def args(self) -> list[str]:
        """``agi_arg_1``, ``agi_arg_2``, ... in order (the AGI() arguments after the URL)."""
        out: list[str] = []
        while (value := self.variables.get(f"agi_arg_{len(out) + 1}")) is not None:
            out.append(value)
        return out

    def __repr__(self) -> str:
        return (
            f"<AgiSession uniqueid={self.uniqueid!r} channel={self.channel!r} path={self.path!r}>"
        )

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self, timeout: float) -> None:  # noqa: ASYNC109 - the handshake limit
        """Start the reader task and wait for the variable block; ``AgiHandshakeError`` if it
        is not complete and valid within ``timeout`` seconds."""
        if self._reader_task is None:
            self._reader_task = asyncio.create_task(self._read_loop(), name="agi-reader")
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._started)
        except TimeoutError:
            raise AgiHandshakeError(f"no complete variable block within {timeout} s") from None

    async def close(self) -> None:
        """Stop reading and close the socket (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._mark_gone(AgiConnectionError("session closed"), hangup=False)
        if self._started.done() and not self._started.cancelled():
            self._started.exception()  # retrieved: a failed handshake was already reported
        task = self._reader_task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})
        self._writer.close()
        try:
            async with asyncio.timeout(_CLOSE_TIMEOUT_S):
                await self._writer.wait_closed()
        except (OSError, TimeoutError) as exc:
            # The peer may already be gone (reset, broken pipe); the socket is closed anyway.
            log.debug("agi %s: close: %r", self.uniqueid, exc)

    # -- reader task --------------------------------------------------------------------------
    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self._reader.read(_READ_SIZE)
                for event in self._conn.receive_data(data):
                    self._dispatch(event)
                if not data:
                    return
        except RemoteProtocolError as exc:
            self._broken(AgiConnectionError(f"protocol violation: {exc}"), exc)
        except OSError as exc:
            self._broken(AgiHangup(f"connection lost: {exc}"), exc)

    def _broken(self, error: AgiError, cause: Exception) -> None:
        if not self._started.done():
            self._started.set_exception(AgiHandshakeError(str(cause)))
        else:
            log.warning("agi %s (%s): %s; closing the session", self.uniqueid, self.channel, error)
            self._writer.close()  # Asterisk then continues the dialplan
        self._mark_gone(error)

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, CommandCompleted):
            future, self._inflight = self._inflight, None
            if event.code == 511:
                self._mark_gone(AgiHangup("511: command not permitted on a dead channel"))
            if future is not None and not future.done():
                future.set_result(event)
        elif isinstance(event, SessionStarted):
            self.variables = event.variables
            script = event.variables.get("agi_network_script")
            if script is None:
                script = event.variables.get("agi_request", "")
            self.path, self.query = split_script(script)
            self._started.set_result(None)
        elif isinstance(event, HangupReceived):
            self._mark_gone(AgiHangup("the channel hung up"))
        elif isinstance(event, ConnectionClosed):
            self._mark_gone(AgiHangup("Asterisk closed the AGI connection"))

    def _mark_gone(self, error: AgiError, *, hangup: bool = True) -> None:
        if self._gone is None:
            self._gone = error
        if hangup:
            self.hungup.set()
        if not self._started.done():
            self._started.set_exception(AgiHandshakeError(str(error)))
        future = self._inflight
        if future is not None and not future.done():
            future.set_result(self._gone)

    def _gone_error(self) -> AgiError:
        gone = self._gone
        assert gone is not None
        return type(gone)(str(gone))  # a fresh instance per raise keeps tracebacks apart

    # -- commands -----------------------------------------------------------------------------
    async def command(
        self,
        name: str,
        *args: str,
        timeout: Timeout = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    ) -> AgiReply:
        """Run one AGI command; returns the ``200`` reply, raises an ``AgiError`` otherwise."""
        limit = self._settings.command_timeout_s if timeout is DEFAULT_TIMEOUT else timeout
        try:
            async with asyncio.timeout(limit):
                outcome = await self._exchange(name, args)
        except TimeoutError:
            raise AgiTimeout(f"{name}: no reply within {limit} s") from None
        if isinstance(outcome, AgiError):
            raise self._gone_error()
        if outcome.code == 200:
            return outcome
        if outcome.code == 511:
            raise AgiHangup(f"{name}: 511 command not permitted on a dead channel")
        reason = {510: "invalid or unknown command", 520: "invalid command syntax"}
        raise AgiCommandError(name, outcome, reason.get(outcome.code, "command failed"))

    async def _exchange(self, name: str, args: tuple[str, ...]) -> CommandCompleted | AgiError:
        if self._gone is not None:
            raise self._gone_error()
        async with self._lock:
            if self._inflight is not None:  # a reply still owed to an abandoned command
                await asyncio.shield(self._inflight)
            if self._gone is not None:
                raise self._gone_error()
            data = self._conn.send_command(name, *args)
            future: asyncio.Future[CommandCompleted | AgiError]
            future = asyncio.get_running_loop().create_future()
            self._inflight = future
            self.commands_sent += 1
            self._writer.write(data)
            try:
                await self._writer.drain()
            except OSError as exc:
                self._mark_gone(AgiHangup(f"connection lost: {exc}"))
            return await asyncio.shield(future)

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
        *,
        timeout: Timeout = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    ) -> tuple[str | None, int]:
        """Play ``file``; returns (digit that stopped it or None, end position in samples)."""
        reply = await self.command(
            "STREAM FILE", file, escape_digits, timeout=self._media_timeout(timeout)
        )
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
        """Play ``file`` and collect up to ``max_digits`` DTMF digits; None if none came."""
        limit = self._media_timeout(timeout, timeout_ms * max(max_digits, 1))
        reply = await self.command(
            "GET DATA", file, str(timeout_ms), str(max_digits), timeout=limit
        )
        if reply.result.startswith("-"):
            raise await self._failure("GET DATA", reply, f"cannot play {file!r}")
        return reply.result or None

    async def wait_for_digit(
        self,
        timeout_ms: int,
        *,
        timeout: Timeout = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    ) -> str | None:
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
