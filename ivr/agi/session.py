"""One FastAGI call: the session API the IVR and ACD build on, and its socket adapter.

Invariants:
  - Reading never stops while the connection lives: the connection's reader (``AgiReader``,
    the asyncio protocol of the socket) feeds every byte to the sans-IO protocol as it
    arrives, so ``hungup`` is set the moment Asterisk writes HANGUP, answers 511 or closes the
    socket, even while the handler waits on something else
    (``asyncio.wait([acd_future, session.hungup.wait()])``). It runs in the event loop's read
    callback rather than a task of its own: no task hop per reply, same guarantee.
  - Commands run one at a time (a lock), each under a timeout (see ``commands``), enforced by
    one lazy timer per session rather than a timer per command. A command abandoned by
    timeout or cancellation stays in flight on the wire; the next command first waits for
    that reply, so a reply is never attributed to the wrong command.
  - Once the channel is gone, the pending command and every later one raise ``AgiHangup``
    without writing anything.
  - Until its variable block is complete a connection has no task: a handshake timer closes
    it if the block does not come in ``handshake_timeout_s``; early close or garbage closes
    it at once; either way the listener (the server) hears ``handshake_failed``.
  - ``close()`` is idempotent and always closes the socket (that is what lets Asterisk
    continue the dialplan); it waits a bounded time for the close to complete.
  - A protocol violation after the handshake is logged once, here, with the uniqueid.
  - The first command of a session that gets no reply in time is reported to the listener
    (``command_timed_out``), once: on a half-open link Asterisk may sit in ``AGI()`` forever,
    and only someone outside the link (AMI) can move the call on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Final, Protocol
from urllib.parse import parse_qsl

from ivr.agi.commands import DEFAULT_TIMEOUT, AgiCommands, AgiReply, RecordingResult, Timeout
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
    ConnectionState,
    Event,
    HangupReceived,
    RemoteProtocolError,
    SessionStarted,
)
from ivr.settings import AgiSettings

__all__ = ["DEFAULT_TIMEOUT", "AgiReader", "AgiReply", "AgiSession", "RecordingResult"]

log = logging.getLogger(__name__)

_CLOSE_TIMEOUT_S: Final = 1.0
_TIMER_SLACK_S: Final = 0.001  # asyncio may run a timer up to its clock resolution early
_REFUSALS: Final = {510: "invalid or unknown command", 520: "invalid command syntax"}


def split_script(script: str) -> tuple[str, dict[str, str]]:
    """``"ivr/menu?lang=ko"`` -> ``("ivr/menu", {"lang": "ko"})``; also takes a full
    ``agi://host:port/path?query`` URL."""
    if "://" in script:
        script = script.split("://", 1)[1]
        script = script.split("/", 1)[1] if "/" in script else ""
    path, _, query = script.partition("?")
    return path.strip("/"), dict(parse_qsl(query, keep_blank_values=True)) if query else {}


class SessionListener(Protocol):
    """What the server hears from a connection before a handler runs."""

    def session_connected(self, session: AgiSession) -> None:
        """A client connected; its variable block is awaited (``handshake_timeout_s``)."""

    def session_started(self, session: AgiSession) -> None:
        """The variable block is complete: run the handler."""

    def handshake_failed(self, session: AgiSession, error: AgiHandshakeError) -> None:
        """Closed early, garbage, or no block in time; the socket is being closed."""

    def command_timed_out(self, session: AgiSession, command: str) -> None:
        """A started session's command got no reply in time (the link may be half-open);
        heard once per session."""


class AgiReader(asyncio.Protocol):
    """The connection's reader: hands every byte, the EOF and the loss to its session."""

    def __init__(self, settings: AgiSettings, listener: SessionListener) -> None:
        self._settings = settings
        self._listener = listener
        self._session: AgiSession | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._session = AgiSession(transport, self._settings, self._listener)
        self._listener.session_connected(self._session)

    def data_received(self, data: bytes) -> None:
        assert self._session is not None
        self._session.feed(data)

    def eof_received(self) -> bool:
        assert self._session is not None
        self._session.feed(b"")
        return False  # let the transport close: nothing more can happen on this call

    def connection_lost(self, exc: Exception | None) -> None:
        assert self._session is not None
        self._session.connection_lost(exc)


class AgiSession(AgiCommands):
    """A live FastAGI connection. Created by ``AgiReader``, driven by the server and the
    handler, closed by the server."""

    def __init__(
        self, transport: asyncio.Transport, settings: AgiSettings, listener: SessionListener
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._transport = transport
        self._settings = settings
        self._listener = listener
        self._conn = AgiConnection(
            max_line_bytes=settings.max_line_bytes,
            max_variables=settings.max_variables,
            max_block_bytes=settings.max_variable_block_bytes,
        )
        self.peer: object = transport.get_extra_info("peername")
        self.hungup = asyncio.Event()
        self.variables: Mapping[str, str] = {}
        self.path = ""
        self.query: dict[str, str] = {}
        self.commands_sent = 0
        self.started = False  # the variable block arrived in time: a handler runs
        self._lock = asyncio.Lock()
        self._waiter: asyncio.Future[CommandCompleted | AgiError] | None = None
        self._lost: asyncio.Future[None] | None = None
        self._gone: AgiError | None = None
        self._closed = False
        self._deadline: float | None = None
        self.timed_out = False  # a command got no reply in time (the listener was told)
        self._timer: asyncio.TimerHandle | None = None
        # A stalled client costs this timer, not a task: the handler task starts with the block.
        self._handshake: asyncio.TimerHandle | None = self._loop.call_later(
            settings.handshake_timeout_s, self._handshake_expired
        )

    # -- identity -----------------------------------------------------------------------------
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
        return f"<AgiSession uniqueid={self.uniqueid!r} channel={self.channel!r}>"

    # -- lifecycle ----------------------------------------------------------------------------
    def _handshake_expired(self) -> None:
        timeout = self._settings.handshake_timeout_s
        self._fail_handshake(AgiHandshakeError(f"no complete variable block within {timeout} s"))

    def _fail_handshake(self, error: AgiHandshakeError) -> None:
        if self._handshake is None:
            return  # started already, or failed already
        self._handshake.cancel()
        self._handshake = None
        self._closed = True
        self._gone = self._gone or AgiConnectionError(str(error))
        self._transport.close()
        self._listener.handshake_failed(self, error)

    def drop(self) -> None:
        """Close a connection that has not started (server shutdown)."""
        self._fail_handshake(AgiHandshakeError("server stopping"))

    async def close(self) -> None:
        """Close the socket (idempotent); Asterisk then continues the dialplan."""
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        self._mark_gone(AgiConnectionError("session closed"), hangup=False)
        self._transport.close()
        if self._transport.get_write_buffer_size() == 0:
            return  # closes at once
        lost = self._lost = self._loop.create_future()
        try:  # the transport closes once the peer has read what is buffered
            async with asyncio.timeout(_CLOSE_TIMEOUT_S):
                await asyncio.shield(lost)
        except TimeoutError:
            self._transport.abort()  # the peer does not read: drop the rest

    # -- the reader's side ----------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        """Bytes from Asterisk (``b""``: end of stream)."""
        if self._conn.state in (ConnectionState.CLOSED, ConnectionState.ERROR):
            return  # the session is over; late bytes change nothing
        try:
            events = self._conn.receive_data(data)
        except RemoteProtocolError as exc:
            self._broken(exc)
            return
        for event in events:
            self._dispatch(event)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)
        reason = f"connection lost: {exc}" if exc else "Asterisk closed the AGI connection"
        self._mark_gone(AgiHangup(reason), hangup=not self._closed)

    def _broken(self, exc: RemoteProtocolError) -> None:
        if self.started:
            log.warning(
                "agi %s (%s): protocol violation: %s; closing the session",
                self.uniqueid,
                self.channel,
                exc,
            )
            self._transport.close()
        self._mark_gone(AgiConnectionError(f"protocol violation: {exc}"))

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, CommandCompleted):
            waiter, self._waiter = self._waiter, None
            if event.code == 511:
                self._mark_gone(AgiHangup("511: command not permitted on a dead channel"))
            if waiter is not None and not waiter.done():
                waiter.set_result(event)
        elif isinstance(event, SessionStarted):
            self.variables = event.variables
            script = event.variables.get("agi_network_script")
            if script is None:
                script = event.variables.get("agi_request", "")
            self.path, self.query = split_script(script)
            if self._handshake is not None:
                self._handshake.cancel()
                self._handshake = None
                self.started = True
                self._listener.session_started(self)
        elif isinstance(event, HangupReceived):
            self._mark_gone(AgiHangup("the channel hung up"))
        elif isinstance(event, ConnectionClosed):
            self._mark_gone(AgiHangup("Asterisk closed the AGI connection"))

    def _mark_gone(self, error: AgiError, *, hangup: bool = True) -> None:
        if self._gone is None:
            self._gone = error
        if hangup:
            self.hungup.set()
        if not self.started:
            self._fail_handshake(AgiHandshakeError(str(error)))
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(self._gone)

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
        if self._gone is not None:
            raise self._gone_error()
        deadline = None if limit is None else self._loop.time() + limit
        if self._lock.locked() or self._conn.pending_command is not None:
            await self._wait_turn(name, limit, deadline)
        else:
            await self._lock.acquire()  # free: returns at once
        try:
            if self._gone is not None:
                outcome: CommandCompleted | AgiError = self._gone
            else:
                # No drain(): at most one command (<= 2 KiB) is ever buffered, and a lost
                # connection reaches the waiter through connection_lost.
                self._transport.write(self._conn.send_command(name, *args))
                self.commands_sent += 1
                waiter = self._next_reply()
                self._arm(deadline)
                try:
                    outcome = await waiter
                finally:
                    self._deadline = None
        finally:
            self._lock.release()
        return self._reply_or_raise(name, limit, outcome)

    async def _wait_turn(self, name: str, limit: float | None, deadline: float | None) -> None:
        """Take the lock behind another command, then wait for any reply still owed to an
        abandoned command, all before the deadline."""
        try:
            async with asyncio.timeout_at(deadline):
                await self._lock.acquire()
                try:
                    while self._conn.pending_command is not None and self._gone is None:
                        await self._next_reply()
                except BaseException:
                    self._lock.release()
                    raise
        except TimeoutError:
            self._note_timeout(name)
            raise AgiTimeout(f"{name}: no reply within {limit} s") from None

    def _reply_or_raise(
        self, name: str, limit: float | None, outcome: CommandCompleted | AgiError
    ) -> AgiReply:
        if isinstance(outcome, AgiError):
            if isinstance(outcome, AgiTimeout):
                self._note_timeout(name)
                raise AgiTimeout(f"{name}: no reply within {limit} s")
            raise self._gone_error()
        if outcome.code == 200:
            return outcome
        if outcome.code == 511:
            raise AgiHangup(f"{name}: 511 command not permitted on a dead channel")
        raise AgiCommandError(name, outcome, _REFUSALS.get(outcome.code, "command failed"))

    def stalled(self, name: str) -> None:
        """The caller's code found ``name`` stuck (e.g. a Dial whose conversation AMI saw end
        long ago): reported like a command without a reply in time."""
        self._note_timeout(name)

    def _note_timeout(self, name: str) -> None:
        """Tell the listener once: Asterisk may be stuck in this AGI on a dead link."""
        if self.timed_out or self._gone is not None:
            return
        self.timed_out = True
        self._listener.command_timed_out(self, name)

    def _arm(self, deadline: float | None) -> None:
        """The reply deadline. One lazy timer per session instead of one per command: it
        fires at the earliest armed deadline and re-arms itself for the current one."""
        self._deadline = deadline
        if deadline is not None and (self._timer is None or self._timer.when() > deadline):
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None:
            return
        if self._loop.time() + _TIMER_SLACK_S < deadline:
            self._timer = self._loop.call_at(deadline, self._on_timer)
            return
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(AgiTimeout("no reply in time"))  # the reply is still owed

    def _next_reply(self) -> asyncio.Future[CommandCompleted | AgiError]:
        """A future the reader resolves with the next reply (or the reason the channel is
        gone). Cancelling the waiter cancels only this future; the reply is still owed."""
        future: asyncio.Future[CommandCompleted | AgiError] = self._loop.create_future()
        if self._gone is not None:
            future.set_result(self._gone)
        self._waiter = future
        return future
