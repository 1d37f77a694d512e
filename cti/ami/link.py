"""One TCP connection to AMI: socket I/O around the sans-IO ``AmiProtocol``.

Invariants:
- Only this module touches the socket. Every await on it is bounded: reads by the
  keep-alive deadline, writes and replies by the action timeout, the banner and Login by
  the connect timeout.
- Each reply completes exactly one waiter (by ActionID); a waiter whose action times out or
  is cancelled is forgotten by the protocol, so its late reply is dropped, not misdelivered.
- When the link goes down every waiter fails with ``AmiDisconnected``; nothing waits forever.
- Events read before the link is handed over (between Login and ``start_events``) are kept
  in order and released by ``start_events``, so a subscriber sees the reconnect notice first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from cti.ami import names
from cti.ami.messages import (
    AmiBanner,
    AmiDisconnected,
    AmiEvent,
    AmiLoginError,
    AmiResponse,
    AmiTimeout,
    RemoteProtocolError,
)
from cti.ami.protocol import AmiProtocol, HeaderValue
from cti.settings import AmiSettings

_READ_CHUNK = 65536


class LinkDown(Exception):
    """The connection ended; the message says why (EOF, junk, keep-alive timeout...)."""


class Link:
    """A logged-in (or logging-in) AMI connection."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        settings: AmiSettings,
        log: logging.Logger,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._settings = settings
        self._log = log
        self.protocol = AmiProtocol(
            max_line_bytes=settings.max_line_bytes, max_message_bytes=settings.max_message_bytes
        )
        self._waiters: dict[str, asyncio.Future[AmiResponse]] = {}
        self._on_event: Callable[[AmiEvent], None] | None = None
        self._early: list[AmiEvent] = []
        self.banner: AmiBanner | None = None
        self.down_reason: str | None = None

    @classmethod
    async def open(
        cls, settings: AmiSettings, log: logging.Logger, next_id: Callable[[], str]
    ) -> Link:
        """Connect, check the banner and log in, all within ``connect_timeout_s``."""
        where = f"{settings.host}:{settings.port}"
        try:
            async with asyncio.timeout(settings.connect_timeout_s):
                reader, writer = await asyncio.open_connection(settings.host, settings.port)
        except TimeoutError:
            raise AmiTimeout(
                f"AMI at {where}: no TCP connection within {settings.connect_timeout_s}s"
            ) from None
        except OSError as exc:
            raise AmiDisconnected(f"cannot connect to AMI at {where}: {exc}") from exc
        link = cls(reader, writer, settings, log)
        try:
            await link._login(where, next_id())
        except BaseException:
            link.close("login failed")
            raise
        return link

    async def _login(self, where: str, action_id: str) -> None:
        s = self._settings
        headers = {
            names.USERNAME: s.username,
            names.SECRET: s.secret.get_secret_value(),
            names.EVENTS: "on",
        }
        future: asyncio.Future[AmiResponse] | None = None
        try:
            async with asyncio.timeout(s.connect_timeout_s):
                while self.banner is None:
                    await self._pump()
                future = self._send(action_id, names.LOGIN, headers)
                while not future.done():
                    await self._pump()
        except TimeoutError:
            raise AmiTimeout(
                f"AMI at {where}: no banner or Login reply within {s.connect_timeout_s}s"
            ) from None
        except (LinkDown, RemoteProtocolError) as exc:
            raise AmiDisconnected(f"AMI at {where} failed during login: {exc}") from exc
        finally:
            self._waiters.pop(action_id, None)
            if future is not None and not future.done():
                future.cancel()
        response = future.result()
        if not response.ok:
            raise AmiLoginError(
                f"AMI at {where} refused Login for user {s.username!r}: "
                f"{response.message or response.response}"
            )
        self._log.info(
            "AMI logged in to %s (Asterisk Call Manager/%s)",
            where,
            self.banner.version if self.banner else "?",
        )

    # --- reading ---------------------------------------------------------------------------
    async def _pump(self) -> None:
        """Read one chunk and dispatch what it completes. Raises LinkDown at EOF."""
        try:
            data = await self._reader.read(_READ_CHUNK)
        except OSError as exc:
            raise LinkDown(f"read failed: {exc}") from exc
        if not data:
            try:
                self.protocol.receive_eof()
            except RemoteProtocolError as exc:
                raise LinkDown(f"closed by peer: {exc}") from exc
            raise LinkDown("closed by peer")
        for message in self.protocol.receive_data(data):
            if isinstance(message, AmiEvent):
                if self._on_event is None:
                    self._early.append(message)
                else:
                    self._on_event(message)
            elif isinstance(message, AmiResponse):
                self._resolve(message)
            else:
                self.banner = message

    def _resolve(self, response: AmiResponse) -> None:
        waiter = self._waiters.get(response.action_id)
        if waiter is None or waiter.done():
            self._log.debug("AMI reply for no waiter: ActionID %r", response.action_id)
            return
        waiter.set_result(response)

    def start_events(self, on_event: Callable[[AmiEvent], None]) -> None:
        """Route events to ``on_event`` from now on, first those read during login."""
        self._on_event = on_event
        early, self._early = self._early, []
        for event in early:
            on_event(event)

    async def read_forever(self) -> None:
        """Dispatch until the link dies; raises LinkDown with the reason."""
        silence = 2 * self._settings.ping_interval_s + self._settings.action_timeout_s
        try:
            while True:
                try:
                    async with asyncio.timeout(silence):
                        await self._pump()
                except TimeoutError:
                    raise LinkDown(f"nothing received for {silence:.1f}s") from None
        except RemoteProtocolError as exc:
            raise LinkDown(f"protocol error: {exc}") from exc

    # --- actions ---------------------------------------------------------------------------
    def _send(
        self, action_id: str, name: str, headers: Mapping[str, HeaderValue]
    ) -> asyncio.Future[AmiResponse]:
        if self.down_reason is not None:
            raise AmiDisconnected(f"AMI connection is down ({self.down_reason})")
        data = self.protocol.send_action(action_id, name, headers)
        future: asyncio.Future[AmiResponse] = asyncio.get_running_loop().create_future()
        self._waiters[action_id] = future
        self._writer.write(data)
        return future

    async def request(
        self, action_id: str, name: str, headers: Mapping[str, HeaderValue], limit_s: float
    ) -> AmiResponse:
        """Send one action and wait for its complete reply (list items included)."""
        future = self._send(action_id, name, headers)
        try:
            async with asyncio.timeout(limit_s):
                await self._writer.drain()
                return await future
        except TimeoutError:
            raise AmiTimeout(f"AMI action {name} got no reply within {limit_s}s") from None
        except ConnectionError as exc:
            raise AmiDisconnected(f"AMI connection lost while sending {name}: {exc}") from exc
        finally:
            self._waiters.pop(action_id, None)
            if not future.done():
                future.cancel()
                self.protocol.forget(action_id)

    def close(self, reason: str) -> None:
        """Close the socket and fail every waiter with AmiDisconnected."""
        if self.down_reason is None:
            self.down_reason = reason
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(AmiDisconnected(f"AMI connection lost: {reason}"))
        self._waiters.clear()
        self._writer.close()

    async def wait_closed(self, limit_s: float) -> None:
        try:
            async with asyncio.timeout(limit_s):
                await self._writer.wait_closed()
        except (TimeoutError, OSError):
            pass  # best effort: the transport is closed either way
