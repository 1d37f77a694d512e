"""``AmiClient``: the AMI interface the rest of Dasan uses (actions, lists, CLI, events).

Invariants:
- ``start`` returns only once logged in (or raises ``AmiLoginError`` / ``AmiDisconnected`` /
  ``AmiTimeout`` with a message naming host, port and cause). From then on the client keeps
  itself connected: after a drop it retries with exponential backoff from
  ``reconnect_min_s`` to ``reconnect_max_s``, logging each attempt once, until ``stop``.
- Actions never queue while disconnected: they fail at once with ``AmiDisconnected`` and are
  never replayed after a reconnect (an Originate must not run twice).
- Subscribers receive, in wire order, every event plus stream notices: ``AmiConnectionLost``
  when the link drops and ``AmiReconnected`` after a re-login (before any event of the new
  connection), after which state owners resync; the first login in ``start`` sends one too
  (``attempts=0``) so a state owner that subscribed before ``start`` syncs as well.
  A login can come while Asterisk is still loading its modules (a restarted PBX accepts AMI
  before its channels, endpoints and queues are there), so the first ``FullyBooted`` event
  of every connection is followed by one more ``AmiReconnected`` (``booted=True``): state
  owners resync again once the PBX says it is fully booted, not only at login.
- A slow subscriber loses its own oldest items and gets ``AmiEventsDropped``; the reader
  never waits for a subscriber.
- Each connection's two tasks (reader, keep-alive) end together: when one ends both are
  cancelled and awaited, and a cancel of the client is never swallowed. ``stop`` never
  triggers a reconnect, even though Asterisk closes the socket after Logoff.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from cti.ami import names
from cti.ami.fanout import Fanout, Subscription
from cti.ami.link import Link, LinkDown
from cti.ami.messages import (
    AmiActionError,
    AmiConnectionLost,
    AmiDisconnected,
    AmiError,
    AmiEvent,
    AmiEventsDropped,
    AmiReconnected,
    AmiResponse,
    AmiStreamItem,
    AmiTimeout,
)
from cti.ami.protocol import HeaderValue
from cti.settings import AmiSettings

AmiSubscription = Subscription[AmiStreamItem]


class AmiEventSource(Protocol):
    """Where a reader of AMI events subscribes: the client itself, or the live model's feed
    (``cti.live.service.LiveState.events``), which passes the client's one stream on."""

    def subscribe(self, maxsize: int | None = None, name: str | None = None) -> AmiSubscription:
        """A bounded async iterator of events and stream notices, from now on."""
        ...


_EMPTY_LIST = re.compile(r"No [\w ]+ found\.?", re.IGNORECASE)


class AmiClient:
    """A self-reconnecting, logged-in AMI session."""

    def __init__(
        self,
        settings: AmiSettings,
        *,
        log: logging.Logger | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._settings = settings
        self._sleep = sleep
        self._log = log or logging.getLogger(__name__)
        self._fanout: Fanout[AmiStreamItem] = Fanout(AmiEventsDropped, label="AMI", log=self._log)
        self._link: Link | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._stopping = False
        self.reconnects = 0

    @property
    def settings(self) -> AmiSettings:
        return self._settings

    @property
    def connected(self) -> bool:
        return self._link is not None and self._link.down_reason is None

    @property
    def asterisk_version(self) -> str | None:
        """The AMI protocol version from the banner of the current connection."""
        link = self._link
        return link.banner.version if link is not None and link.banner is not None else None

    def _next_id(self) -> str:
        return f"dasan-{next(self._ids)}"

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect and log in once (raising on failure), then stay connected until ``stop``.

        A client is started once: after ``stop`` (which ends its subscriptions) make a new one.
        """
        if self._supervisor is not None:
            raise RuntimeError("AmiClient.start() called twice")
        if self._stopping:
            raise RuntimeError("AmiClient was stopped; create a new one")
        link = await Link.open(self._settings, self._log, self._next_id)
        self._fanout.publish(AmiReconnected(attempts=0))  # for anyone subscribed before start
        self._adopt(link, 0)
        self._supervisor = asyncio.create_task(self._supervise(link), name="ami-supervisor")
        self._supervisor.add_done_callback(self._supervisor_done)

    def _supervisor_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._log.error("AMI supervisor died; no more reconnects", exc_info=task.exception())

    async def stop(self) -> None:
        """Log off (best effort), close the connection and end every subscription."""
        self._stopping = True  # Asterisk closes after Logoff: that is not a drop to repair
        task, self._supervisor = self._supervisor, None
        link = self._link
        if link is not None and link.down_reason is None:
            try:
                await link.request(self._next_id(), names.LOGOFF, {}, limit_s=1.0)
            except AmiError as exc:
                self._log.debug("AMI Logoff not acknowledged: %s", exc)
        if task is not None:
            task.cancel()
            await asyncio.wait([task], timeout=5.0)
        if link is not None:
            link.close("client stopped")
            await link.wait_closed(1.0)
        self._link = None
        self._fanout.close()

    def _adopt(self, link: Link, attempts: int) -> None:
        self._link = link
        link.start_events(self._events_of(attempts))

    def _events_of(self, attempts: int) -> Callable[[AmiEvent], None]:
        """One connection's event sink: each event to the subscribers, and after the
        connection's first ``FullyBooted`` a resync notice."""
        booted = False

        def publish(event: AmiEvent) -> None:
            nonlocal booted
            self._fanout.publish(event)
            if event.name == names.FULLY_BOOTED and not booted:
                booted = True
                self._fanout.publish(AmiReconnected(attempts=attempts, booted=True))

        return publish

    async def _supervise(self, link: Link) -> None:
        while True:
            reason = await self._serve(link)
            self._link = None
            if self._stopping:
                return
            self._fanout.publish(AmiConnectionLost(reason))
            self._log.warning(
                "AMI connection to %s:%d lost: %s",
                self._settings.host,
                self._settings.port,
                reason,
            )
            await link.wait_closed(1.0)
            link, attempts = await self._reconnect()
            self.reconnects += 1
            self._log.info("AMI reconnected after %d attempt(s)", attempts)
            self._fanout.publish(AmiReconnected(attempts=attempts))
            self._adopt(link, attempts)

    async def _serve(self, link: Link) -> str:
        """Run the link's reader and keep-alive until the link dies; return why.

        Not a TaskGroup: in 3.11 a TaskGroup whose child fails while its parent is being
        cancelled raises the child's error and leaves the cancel request unconsumed, so
        ``stop`` racing Asterisk's close after Logoff would be swallowed.
        """
        tasks = (
            asyncio.create_task(link.read_forever(), name="ami-reader"),
            asyncio.create_task(self._keepalive(link), name="ami-keepalive"),
        )
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
            errors = [task.exception() for task in tasks if not task.cancelled()]
            downs = [str(e) for e in errors if isinstance(e, LinkDown)]
            reason = downs[0] if downs else "client stopped"
            link.close(reason)
        for error in errors:
            if error is not None and not isinstance(error, LinkDown):
                raise error  # a bug in a link task: let the supervisor's done-callback log it
        return reason

    async def _keepalive(self, link: Link) -> None:
        interval = self._settings.ping_interval_s
        while True:
            await asyncio.sleep(interval)
            try:
                await link.request(self._next_id(), names.PING, {}, self._settings.action_timeout_s)
            except AmiTimeout as exc:
                raise LinkDown(f"keep-alive Ping unanswered: {exc}") from exc
            except AmiDisconnected as exc:
                raise LinkDown(str(exc)) from exc

    async def _reconnect(self) -> tuple[Link, int]:
        s = self._settings
        delay = s.reconnect_min_s
        for attempt in itertools.count(1):
            await self._sleep(delay)  # backoff wait between attempts (injectable for tests)
            try:
                return await Link.open(s, self._log, self._next_id), attempt
            except AmiError as exc:
                delay_next = min(delay * 2, s.reconnect_max_s)
                self._log.warning(
                    "AMI reconnect attempt %d failed: %s (next in %.1fs)", attempt, exc, delay_next
                )
                delay = delay_next
        raise AssertionError("unreachable")  # pragma: no cover

    # --- actions ---------------------------------------------------------------------------
    async def _request(
        self, name: str, headers: Mapping[str, HeaderValue], limit_s: float | None
    ) -> AmiResponse:
        link = self._link
        if link is None or link.down_reason is not None:
            raise AmiDisconnected(f"AMI is not connected; action {name} not sent")
        wait = self._settings.action_timeout_s if limit_s is None else limit_s
        return await link.request(self._next_id(), name, headers, wait)

    async def action(
        self,
        name: str,
        timeout: float | None = None,  # noqa: ASYNC109 - per-action timeout is the interface
        **headers: HeaderValue,
    ) -> AmiResponse:
        """Send ``name`` with ``headers``; raise ``AmiActionError`` on ``Response: Error``."""
        response = await self._request(name, headers, timeout)
        if not response.ok:
            raise AmiActionError(name, response.message, response)
        return response

    async def action_list(
        self,
        name: str,
        timeout: float | None = None,  # noqa: ASYNC109 - per-action timeout is the interface
        **headers: HeaderValue,
    ) -> list[AmiEvent]:
        """Run an EventList action (CoreShowChannels, QueueStatus...) and return its items.

        Asterisk answers some empty lists with an error instead of an empty list (the real
        PJSIPShowContacts says ``Response: Error`` / ``Message: No Contacts found``); such a
        "No ... found" reply is returned as ``[]``.
        """
        try:
            response = await self.action(name, timeout, **headers)
        except AmiActionError as exc:
            if _EMPTY_LIST.fullmatch(exc.message.strip()):
                return []
            raise
        return list(response.events)

    async def command(
        self,
        cli: str,
        timeout: float | None = None,  # noqa: ASYNC109 - per-action timeout is the interface
    ) -> str:
        """Run a CLI command through the ``Command`` action and return its output text."""
        response = await self._request(names.COMMAND, {names.COMMAND: cli}, timeout)
        text = "\n".join(response.output)
        if not response.ok:
            raise AmiActionError(names.COMMAND, text or response.message, response)
        return text

    # --- events ----------------------------------------------------------------------------
    @property
    def subscriber_count(self) -> int:
        """How many event subscriptions are open (the engine holds one: the live model's)."""
        return self._fanout.subscriber_count

    def subscribe(self, maxsize: int | None = None, name: str | None = None) -> AmiSubscription:
        """A bounded async iterator of events and stream notices, from now on."""
        size = self._settings.subscription_maxsize if maxsize is None else maxsize
        return self._fanout.subscribe(size, name)
