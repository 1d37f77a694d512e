"""A TCP proxy the chaos tests put between two components, to break the link on purpose.

Modes, switched at any time by the test:
- relay (the default): bytes go both ways unchanged;
- ``drop()``: every relayed connection is closed on both sides (a link reset);
- ``refuse()`` / ``accept()``: the listener closes (connections refused) and every relayed
  connection is dropped, until ``accept()`` listens again (a server that is down);
- ``slow(delay_s, rate_bps)``: each chunk waits ``delay_s`` and, with ``rate_bps``, the link
  carries at most that many bytes a second (a slow peer or a slow reader);
- ``freeze()``: the connections open now stop carrying anything but stay open on both
  sides, never closed (half-open: each peer believes the other is still there); new
  connections relay normally.

Invariants: the proxy only listens on loopback; ``stop()`` closes everything it opened;
bytes are never reordered or altered, only delayed, withheld or cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger("chaos.proxy")
Connect = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


def tcp_upstream(host: str, port: int) -> Connect:
    return lambda: asyncio.open_connection(host, port)


def unix_upstream(path: str) -> Connect:
    return lambda: asyncio.open_unix_connection(path)


@dataclass(eq=False)  # links are kept in a set, by identity
class _Link:
    """One relayed connection: the client's side, the upstream side and the two pumps."""

    writers: tuple[asyncio.StreamWriter, asyncio.StreamWriter]
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    frozen: bool = False

    def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for writer in self.writers:
            writer.close()


class TcpProxy:
    def __init__(self, port: int, upstream: Connect, name: str = "proxy") -> None:
        self.port = port
        self.name = name
        self._upstream = upstream
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._serving: set[asyncio.Task[None]] = set()
        self._delay_s = 0.0
        self._rate_bps: float | None = None
        self.accepted = 0

    @property
    def connections(self) -> int:
        return len(self._links)

    async def start(self) -> None:
        await self.accept()

    async def accept(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def refuse(self) -> int:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()
        return await self.drop()

    async def drop(self) -> int:
        links = [link for link in self._links if not link.frozen]
        for link in links:
            link.close()
            self._links.discard(link)
        log.info("%s: dropped %d connection(s)", self.name, len(links))
        return len(links)

    def slow(self, delay_s: float = 0.0, rate_bps: float | None = None) -> None:
        self._delay_s, self._rate_bps = delay_s, rate_bps

    def freeze(self) -> int:
        for link in self._links:
            link.frozen = True
        return len(self._links)

    async def stop(self) -> None:
        await self.refuse()
        for link in list(self._links):
            link.close()
        self._links.clear()
        # Wait for every connection handler to end, so none is left to the loop's shutdown.
        await asyncio.gather(*self._serving, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        task = asyncio.current_task()
        if task is not None:
            self._serving.add(task)
            task.add_done_callback(self._serving.discard)
        try:
            up_reader, up_writer = await asyncio.wait_for(self._upstream(), 5.0)
        except (OSError, TimeoutError) as exc:
            log.info("%s: upstream unreachable: %s", self.name, exc)
            writer.close()
            return
        link = _Link((writer, up_writer))
        self._links.add(link)
        link.tasks = [
            asyncio.create_task(self._pump(link, reader, up_writer)),
            asyncio.create_task(self._pump(link, up_reader, writer)),
        ]
        await asyncio.gather(*link.tasks, return_exceptions=True)
        if not link.frozen:
            link.close()
            self._links.discard(link)

    async def _pump(
        self, link: _Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        chunk = 4096 if self._rate_bps else 65536
        try:
            while data := await reader.read(chunk):
                if link.frozen:
                    # Half-open: withhold everything, keep both sockets open, close nothing.
                    await asyncio.Event().wait()
                if self._delay_s:
                    await asyncio.sleep(self._delay_s)
                if self._rate_bps:
                    await asyncio.sleep(len(data) / self._rate_bps)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            # One side went away: the link ends here and the other side is closed below.
            pass
        if link.frozen:
            await asyncio.Event().wait()
        with contextlib.suppress(ConnectionError, OSError):
            writer.close()
