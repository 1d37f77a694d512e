"""Fakes for the call-path unit tests: a FastAGI peer that answers every command through a
script, an AMI link to the fake AMI server, and a call log and pipeline that record what they
are told (or fail on demand). Unit tier only."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from agi.fake_asterisk import WAIT_S, FakeAsterisk, running_server
from ami.fake_ami import FakeAmi, make_settings

from acd.driver import AcdDriver
from acd.settings import AcdSettings
from cti.ami import AmiClient, AmiEventSource
from cti.live.service import LiveState
from ivr.agi import AgiSession
from recordings.calllog import CallLogError


@asynccontextmanager
async def event_source(via: str, ami: AmiClient) -> AsyncIterator[AmiEventSource]:
    """Where a reader subscribes: ``"ami"`` the client itself, ``"live"`` the live model's feed
    (as the engine wires it: the live model is the one AMI subscriber)."""
    if via == "ami":
        yield ami
        return
    live = LiveState(ami, resync_retry_s=0.05)
    task = asyncio.create_task(live.run())
    await asyncio.sleep(0)  # the live model subscribed to AMI before any event is sent
    try:
        yield live.events
    finally:
        task.cancel()
        await asyncio.wait([task])


HANGUP = "HANGUP"  # a script's answer: the caller hangs up instead of a reply
CLOSE = "CLOSE"  # a script's answer: the connection drops (Asterisk died)

Script = Callable[[str], str]


async def eventually(check: Callable[[], object], what: str, within_s: float = 10.0) -> None:
    """Poll ``check`` until it holds, failing at the deadline (no fixed sleeps in tests)."""
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.01)


def replies(table: Mapping[str, str], default: str = "200 result=0") -> Script:
    """Answer a command by its start (``"GET VARIABLE DASAN_REC"``), else ``default``."""

    def answer(line: str) -> str:
        for prefix, reply in table.items():
            if line.startswith(prefix):
                return reply
        return default

    return answer


class Peer:
    """Asterisk's side of one FastAGI call, answering by ``script``; every command is kept."""

    def __init__(self, fake: FakeAsterisk, script: Script, reply_after_s: float = 0.0) -> None:
        self.fake = fake
        self.script = script
        self.reply_after_s = reply_after_s  # a saturated PBX: each reply comes this late
        self.commands: list[str] = []
        self.task = asyncio.create_task(self._answer())

    async def _answer(self) -> None:
        while True:
            line = await self.fake.reader.readline()
            if not line.endswith(b"\n"):
                return  # the engine closed the session
            command = line[:-1].decode()
            self.commands.append(command)
            reply = self.script(command)
            if reply == CLOSE:
                self.fake.writer.close()
                return
            if self.reply_after_s:
                await asyncio.sleep(self.reply_after_s)
            await self.fake.send(reply.encode() + b"\n")

    async def done(self) -> None:
        async with asyncio.timeout(WAIT_S * 4):
            await self.task
        await self.fake.close()


@asynccontextmanager
async def agi_call(
    handler: Callable[[AgiSession], Any],
    script: Script,
    *,
    uniqueid: str = "1764355829.7",
    reply_after_s: float = 0.0,
) -> AsyncIterator[Peer]:
    """Serve one call through a real AgiServer to ``handler``; yields the answering peer."""
    async with running_server({"ivr": handler}) as server:
        fake = await FakeAsterisk.call(server.bound_port, "ivr", uniqueid=uniqueid)
        peer = Peer(fake, script, reply_after_s)
        try:
            yield peer
        finally:
            await peer.done()


@asynccontextmanager
async def ami_link() -> AsyncIterator[tuple[FakeAmi, AmiClient]]:
    """The fake AMI server and a real client logged in to it."""
    server = FakeAmi()
    await server.start()
    client = AmiClient(make_settings(server.port))
    await client.start()
    try:
        yield server, client
    finally:
        await client.stop()
        await server.close()


class FakeCallLog:
    """The call log's writes, kept in order; a name in ``failing`` raises CallLogError."""

    def __init__(self, failing: Sequence[str] = ()) -> None:
        self.writes: list[tuple[str, str, tuple[Any, ...]]] = []
        self.ends: list[dt.datetime] = []  # each call_ended's time, in order
        self.failing = set(failing)

    def _write(self, kind: str, call_id: str, *args: Any) -> None:
        if kind in self.failing:
            raise CallLogError(f"{kind} {call_id}: the database refused it (test)")
        self.writes.append((kind, call_id, args))

    def kinds(self) -> list[str]:
        return [kind for kind, _, _ in self.writes]

    async def call_started(
        self,
        call_id: str,
        uniqueid: str,
        linkedid: str | None,
        caller_number: str | None,
        started_at: dt.datetime,
        *,
        tenant: str | None = None,
    ) -> None:
        district = () if tenant is None else (tenant,)
        self._write("started", call_id, linkedid, caller_number, *district)

    async def call_progress(
        self,
        call_id: str,
        language: str | None = None,
        service: str | None = None,
        journey_json: Any = None,
    ) -> None:
        self._write("progress", call_id, language, service)

    async def call_routed(
        self, call_id: str, language: str | None, service: str | None, journey_json: Any = None
    ) -> None:
        self._write("routed", call_id, language, service)

    async def consultant_joined(
        self,
        call_id: str,
        consultant_id: str,
        role: str = "consultant",
        at: dt.datetime | None = None,
    ) -> None:
        self._write("joined", call_id, consultant_id, role)

    async def call_ended(self, call_id: str, ended_at: dt.datetime) -> None:
        self._write("ended", call_id)
        self.ends.append(ended_at)


class FakePipeline:
    def __init__(self) -> None:
        self.closed: list[tuple[str, str]] = []

    async def recording_closed(self, uniqueid: str, path: str) -> None:
        self.closed.append((uniqueid, path))


class Alarms:
    def __init__(self) -> None:
        self.raised: list[tuple[str, str]] = []

    def __call__(self, source: str, key: str, severity: object, message: str) -> None:
        self.raised.append((source, key))


def acd_driver(folder: Path, **settings: Any) -> AcdDriver:
    """An ACD with nobody logged in yet (tests log in whom they need)."""
    return AcdDriver(AcdSettings(logged_in=(), **settings), folder)
