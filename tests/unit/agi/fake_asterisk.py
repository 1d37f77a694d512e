"""A fake Asterisk for FastAGI server tests: it connects to the server over a real loopback
socket and plays res_agi's side (variable block, replies, HANGUP). Unit tier only."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager

from ivr.agi.protocol import split_command_line
from ivr.agi.server import AgiServer, TimeoutHandler
from ivr.agi.session import AgiSession
from ivr.settings import AgiSettings

WAIT_S = 5.0  # deadline for anything the tests wait for


def variable_block(
    script: str = "ivr?lang=ko",
    uniqueid: str = "1764355829.14",
    channel: str = "PJSIP/citizen-00000007",
    args: tuple[str, ...] = (),
) -> bytes:
    """A variable block as Asterisk 22 writes it for AGI(agi://127.0.0.1:4573/<script>,...)."""
    lines = [
        "agi_network: yes",
        f"agi_network_script: {script}",
        f"agi_request: agi://127.0.0.1:4573/{script}",
        f"agi_channel: {channel}",
        "agi_language: en",
        "agi_type: PJSIP",
        f"agi_uniqueid: {uniqueid}",
        "agi_version: 22.1.0",
        "agi_callerid: 01012345678",
        "agi_calleridname: unknown",
        "agi_callingpres: 0",
        "agi_callingani2: 0",
        "agi_callington: 0",
        "agi_callingtns: 0",
        "agi_dnid: 120",
        "agi_rdnis: unknown",
        "agi_context: dasan-citizen",
        "agi_extension: 120",
        "agi_priority: 4",
        "agi_enhanced: 0.0",
        "agi_accountcode: ",
        "agi_threadid: 140355014682304",
        *(f"agi_arg_{i}: {a}" for i, a in enumerate(args, 1)),
    ]
    return ("\n".join(lines) + "\n\n").encode()


class FakeAsterisk:
    """One FastAGI connection from Asterisk's side."""

    _ids = itertools.count(1)

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int) -> FakeAsterisk:
        async with asyncio.timeout(WAIT_S):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    @classmethod
    async def call(
        cls,
        port: int,
        script: str = "ivr?lang=ko",
        uniqueid: str | None = None,
        args: tuple[str, ...] = (),
    ) -> FakeAsterisk:
        """Connect and send a complete variable block, as Asterisk does for AGI()."""
        fake = await cls.connect(port)
        uniqueid = uniqueid or f"1764355829.{next(cls._ids)}"
        await fake.send(variable_block(script, uniqueid, args=args))
        return fake

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        async with asyncio.timeout(WAIT_S):
            await self.writer.drain()

    async def read_command(self) -> list[str]:
        """The next command line, split the way Asterisk splits it."""
        async with asyncio.timeout(WAIT_S):
            line = await self.reader.readline()
        assert line.endswith(b"\n"), f"connection closed instead of a command: {line!r}"
        return split_command_line(line[:-1].decode())

    async def expect(self, *words: str, reply: str = "200 result=0") -> None:
        """Read one command, check its words, answer it with ``reply``."""
        assert await self.read_command() == list(words)
        await self.send(reply.encode() + b"\n")

    async def expect_closed(self) -> bytes:
        """Everything the server still writes before it closes the socket. A server that
        closes with our last bytes unread makes the kernel reset the connection: closed too."""
        try:
            async with asyncio.timeout(WAIT_S):
                return await self.reader.read()
        except ConnectionResetError:
            return b""

    async def close(self) -> None:
        self.writer.close()
        try:
            async with asyncio.timeout(WAIT_S):
                await self.writer.wait_closed()
        except ConnectionError:
            pass  # the server may have reset it first; closed either way


Handler = Callable[[AgiSession], Awaitable[None]]


@asynccontextmanager
async def running_server(
    routes: Mapping[str, Handler],
    silence_fill: str = "",
    on_timeout: TimeoutHandler | None = None,
    **settings: float,
) -> AsyncIterator[AgiServer]:
    # Plain AGI waits unless a test asks for filled ones: it scripts the wire command by command.
    config = AgiSettings(port=0, silence_fill=silence_fill, **settings)
    server = AgiServer(config, routes, on_timeout=on_timeout)
    await server.start()
    try:
        yield server
    finally:
        await server.stop(grace_s=1.0)


async def wait_until(predicate: Callable[[], bool], what: str) -> None:
    """Poll ``predicate`` with a deadline (for server counters updated after a close)."""
    async with asyncio.timeout(WAIT_S):
        while not predicate():  # noqa: ASYNC110 - polling a counter, with a deadline
            await asyncio.sleep(0.005)
    assert predicate(), what
