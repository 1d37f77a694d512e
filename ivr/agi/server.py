"""The FastAGI server: accepts Asterisk's connections and runs one handler per call.

Invariants:
  - A connection gets a task only once its variable block is complete (until then it costs a
    timer); every such task is tracked. ``stop()`` stops accepting, drops connections still
    in their handshake, waits up to ``grace_s`` for live sessions, then cancels the rest and
    awaits them.
  - Each connection's socket is closed when its session ends, whatever happened (handler
    done, handler crash, hangup, garbage, stall): closing is what lets Asterisk continue the
    dialplan. One bad connection never affects another.
  - A client that closes early, sends garbage or stalls past ``handshake_timeout_s`` is
    dropped and counted as failed; no handler runs for it.
  - The handler is chosen by the AGI URL path (``agi://host:port/<path>?<query>``). Unknown
    path: logged, a VERBOSE line and ``failure_variable=noroute`` are sent (best effort), the
    socket is closed.
  - Each failure is logged once, here, with the uniqueid and channel; a hangup is no failure.
  - A session whose command got no reply in time is handed to ``on_timeout`` (when given)
    in a task of its own, tracked and cancelled by ``stop()``: closing our side of a
    half-open link never reaches Asterisk, so the owner rescues the channel another way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from ivr.agi.errors import AgiConnectionError, AgiError, AgiHandshakeError, AgiHangup
from ivr.agi.session import AgiReader, AgiSession
from ivr.settings import AgiSettings

log = logging.getLogger(__name__)

AgiHandler = Callable[[AgiSession], Awaitable[None]]
# Told of a session whose command went unanswered (session, command name).
TimeoutHandler = Callable[[AgiSession, str], Awaitable[None]]
# Seconds allowed for the best-effort VERBOSE / SET VARIABLE on a session we cannot serve.
_NOTICE_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class AgiServerStats:
    """Counters since start: ``active`` sessions run a handler, ``handshaking`` ones are still
    awaited; ``failed`` counts handshake failures, unknown paths and handler errors;
    ``commands`` counts commands written by finished and live sessions."""

    active: int
    handshaking: int
    started: int
    completed: int
    failed: int
    handshake_failures: int
    commands: int


class AgiServer:
    """``AgiServer(settings, {"ivr": handler})``, then ``await start()`` ... ``await stop()``."""

    def __init__(
        self,
        settings: AgiSettings,
        router: Mapping[str, AgiHandler],
        on_timeout: TimeoutHandler | None = None,
    ) -> None:
        self._settings = settings
        self._router = router
        self._on_timeout = on_timeout
        self._rescues: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sessions: set[AgiSession] = set()
        self._handshaking: set[AgiSession] = set()
        self._started = 0
        self._completed = 0
        self._failed = 0
        self._handshake_failures = 0
        self._commands_done = 0

    @property
    def bound_port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("AgiServer is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def active_sessions(self) -> int:
        return len(self._tasks)

    def stats(self) -> AgiServerStats:
        live = sum(s.commands_sent for s in self._sessions)
        return AgiServerStats(
            active=len(self._tasks),
            handshaking=len(self._handshaking),
            started=self._started,
            completed=self._completed,
            failed=self._failed,
            handshake_failures=self._handshake_failures,
            commands=self._commands_done + live,
        )

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("AgiServer already started")
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: AgiReader(self._settings, self),
            self._settings.host,
            self._settings.port,
            backlog=self._settings.backlog,
            reuse_address=True,
        )
        log.info("FastAGI listening on %s:%d", self._settings.host, self.bound_port)

    async def stop(self, grace_s: float | None = None) -> None:
        """Stop accepting; give live sessions ``grace_s`` seconds, then cancel them."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for session in list(self._handshaking):
            session.drop()
        grace = self._settings.stop_grace_s if grace_s is None else grace_s
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        pending = set(self._tasks)  # including any accepted while we waited
        for task in pending:
            task.cancel()
        if pending:
            log.info("FastAGI stop: cancelled %d live session(s)", len(pending))
            await asyncio.wait(pending)
        rescues = set(self._rescues)
        for task in rescues:
            task.cancel()
        if rescues:
            await asyncio.wait(rescues)
        await server.wait_closed()

    # -- SessionListener ------------------------------------------------------------------------
    def session_connected(self, session: AgiSession) -> None:
        self._handshaking.add(session)

    def session_started(self, session: AgiSession) -> None:
        """The variable block arrived: run the session in a tracked task."""
        self._handshaking.discard(session)
        self._started += 1
        task = asyncio.get_running_loop().create_task(self._run(session), name="agi-session")
        self._tasks.add(task)
        self._sessions.add(session)
        task.add_done_callback(self._tasks.discard)

    def handshake_failed(self, session: AgiSession, error: AgiHandshakeError) -> None:
        self._handshaking.discard(session)
        self._failed += 1
        self._handshake_failures += 1
        log.info("FastAGI client %s dropped: %s", session.peer, error)

    def command_timed_out(self, session: AgiSession, command: str) -> None:
        log.warning(
            "agi %s (%s): %s got no reply in time; the link may be half-open",
            session.uniqueid,
            session.channel,
            command,
        )
        if self._on_timeout is None or self._server is None:
            return
        task = asyncio.get_running_loop().create_task(
            self._rescue(session, command), name="agi-timeout"
        )
        self._rescues.add(task)
        task.add_done_callback(self._rescues.discard)

    async def _rescue(self, session: AgiSession, command: str) -> None:
        assert self._on_timeout is not None
        try:
            await self._on_timeout(session, command)
        except Exception:
            log.exception("agi %s: the timeout handler failed", session.uniqueid)

    # -- one call -----------------------------------------------------------------------------
    async def _run(self, session: AgiSession) -> None:
        try:
            await self._serve(session)
        finally:
            self._sessions.discard(session)
            self._commands_done += session.commands_sent
            await session.close()

    async def _serve(self, session: AgiSession) -> None:
        handler = self._router.get(session.path)
        if handler is None:
            self._failed += 1
            log.warning(
                "agi %s (%s): no FastAGI route for path %r; closing so the dialplan falls back",
                session.uniqueid,
                session.channel,
                session.path,
            )
            await self._notify_failure(
                session, "noroute", f"Dasan: no FastAGI route {session.path!r}"
            )
            return
        await self._run_handler(session, handler)

    async def _run_handler(self, session: AgiSession, handler: AgiHandler) -> None:
        try:
            await handler(session)
        except AgiHangup as exc:
            self._completed += 1
            log.debug("agi %s (%s): ended by hangup: %s", session.uniqueid, session.channel, exc)
        except AgiConnectionError as exc:
            self._failed += 1  # already logged by the session's reader
            log.debug("agi %s (%s): %s", session.uniqueid, session.channel, exc)
        except AgiError as exc:
            self._failed += 1
            log.warning(
                "agi %s (%s) path %r: %s", session.uniqueid, session.channel, session.path, exc
            )
            await self._notify_failure(session, "error", None)
        except Exception:
            self._failed += 1
            log.exception(
                "agi %s (%s) path %r: handler crashed",
                session.uniqueid,
                session.channel,
                session.path,
            )
            await self._notify_failure(session, "error", None)
        else:
            self._completed += 1

    async def _notify_failure(self, session: AgiSession, reason: str, message: str | None) -> None:
        """Best effort: tell the dialplan (and the Asterisk console) why we give up."""
        if session.hungup.is_set():
            return
        try:
            if message is not None:
                await session.command("VERBOSE", message, "1", timeout=_NOTICE_TIMEOUT_S)
            await session.command(
                "SET VARIABLE", self._settings.failure_variable, reason, timeout=_NOTICE_TIMEOUT_S
            )
        except AgiError as exc:
            log.debug("agi %s: could not report %s: %s", session.uniqueid, reason, exc)
