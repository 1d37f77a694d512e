"""Helpers for the CTI integration tests: HTTP users, citizen calls, bridges, recordings.

Everything drives the real engine (`dasan serve`) over HTTP and the real PBX over AMI;
waits poll with deadlines, never fixed sleeps.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from common.storage import Storage
from cti.ami.channels import consultant_of
from cti.ami.client import AmiClient
from cti.ami.messages import AmiEvent
from cti.auth import demo_password
from dasan.config import Settings
from dasan.sipp import CitizenCalls, Dtmf, SippResult, run_citizens
from recordings.catalog import Catalog
from tests.integration.support import AmiRecorder, ItEnv, eventually

# The 120 menu: 1 (Korean) about 1.5 s after answer, then 1 (general) once the recording
# notice, which cannot be interrupted, is over.
KOREAN_GENERAL = (Dtmf("1", 1500), Dtmf("1", 500))


class HttpUser:
    """One signed-in user of the engine's API (demo users: c0001.., supervisor, admin)."""

    def __init__(self, session: aiohttp.ClientSession, settings: Settings, user_id: str):
        self._session = session
        self._base = f"http://{settings.http.host}:{settings.http.port}"
        self._secret = settings.http.demo_password_secret.get_secret_value()
        self.user_id = user_id
        self._token = ""

    @property
    def session(self) -> aiohttp.ClientSession:
        return self._session

    async def login(self) -> HttpUser:
        password = demo_password(self.user_id, self._secret)
        status, body = await self.request(
            "POST", "/api/login", {"user_id": self.user_id, "password": password}
        )
        assert status == 200, body
        self._token = body["token"]
        return self

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        async with asyncio.timeout(20):
            async with self._session.request(
                method, self._base + path, json=body, headers=headers
            ) as response:
                data = None if response.status == 204 else await response.json()
                return response.status, data

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, data = await self.request(method, path, body)
        assert 200 <= status < 300, (method, path, status, data)
        return data


@dataclass(frozen=True)
class Rig:
    """What a CTI scenario works with (see the ``rig`` fixture)."""

    recorder: AmiRecorder
    sipp_dir: Path
    env: ItEnv
    http: aiohttp.ClientSession
    supervisor: HttpUser
    citizens: list[asyncio.Task[SippResult]] = field(default_factory=list)

    @property
    def ami(self) -> AmiClient:
        return self.recorder.client

    async def user(self, user_id: str) -> HttpUser:
        return await HttpUser(self.http, self.env.settings, user_id).login()

    def call(self, name: str, hangup_after_ms: int = 60_000) -> asyncio.Task[SippResult]:
        task = place_call(self.sipp_dir, name, hangup_after_ms)
        self.citizens.append(task)
        return task

    async def finish(self) -> None:
        """After a failed scenario: hang every channel up so each SIPp citizen ends."""
        pending = [t for t in self.citizens if not t.done()]
        if not pending:
            return
        await self.ami.action("Hangup", Channel="/.*/")
        await asyncio.wait(pending, timeout=30)

    async def answered(self, taken: set[str]) -> Answered:
        return await wait_answered(self.recorder, taken)

    async def assert_recorded_once(self, call_id: str) -> None:
        """The citizen's recording is one file as long as the whole call."""
        assert_continuous(
            await recorded_seconds(self.env, call_id), await call_seconds(self.recorder, call_id)
        )


@dataclass(frozen=True)
class Answered:
    """A citizen's call answered by a consultant: the call id is the citizen's uniqueid."""

    call_id: str
    citizen_channel: str
    consultant_id: str
    consultant_channel: str


def place_call(
    sipp_dir: Path, name: str, hangup_after_ms: int = 60_000
) -> asyncio.Task[SippResult]:
    spec = CitizenCalls(calls=1, digits=KOREAN_GENERAL, hangup_after_ms=hangup_after_ms)
    return asyncio.create_task(run_citizens(spec, sipp_dir / name))


async def wait_answered(recorder: AmiRecorder, taken: set[str], timeout: float = 45.0) -> Answered:
    """The first consultant answer of a citizen call not in ``taken`` (then added to it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in recorder.where("DialEnd", DialStatus="ANSWER"):
            consultant = consultant_of(event.get("DestChannel"))
            citizen = event.get("Channel")
            if consultant and citizen.startswith("PJSIP/citizens") and event.uniqueid not in taken:
                taken.add(event.uniqueid)
                return Answered(event.uniqueid, citizen, consultant, event.get("DestChannel"))
        await asyncio.sleep(0.05)
    raise AssertionError(f"no citizen call answered by a consultant within {timeout:.0f} s")


async def bridge_members(ami: AmiClient, channel: str) -> list[str]:
    """Names of the channels in the bridge ``channel`` is in ([] when it is in none)."""
    channels = [e for e in await ami.action_list("CoreShowChannels") if e.name == "CoreShowChannel"]
    bridge = next((c.get("BridgeId") for c in channels if c.get("Channel") == channel), "")
    if not bridge:
        return []
    items = await ami.action_list("BridgeInfo", BridgeUniqueid=bridge)
    return sorted(e.get("Channel") for e in items if e.name == "BridgeInfoChannel")


async def wait_members(
    ami: AmiClient, channel: str, check: Callable[[list[str]], bool], what: str
) -> list[str]:
    return await eventually(lambda: bridge_members(ami, channel), check, 15, what)


async def wait_for(
    probe: Callable[[], Awaitable[Any]],
    check: Callable[[Any], bool],
    what: str,
    timeout: float = 15,
) -> Any:
    return await eventually(probe, check, timeout, what)


def event_time(event: AmiEvent) -> float:
    stamp = event.timestamp
    assert stamp is not None, event
    return stamp


async def call_seconds(recorder: AmiRecorder, uniqueid: str) -> float:
    """From the citizen channel's creation to its hangup, by Asterisk's own timestamps."""
    hangup = await recorder.wait_event("Hangup", timeout=30, Uniqueid=uniqueid)
    created = recorder.where("Newchannel", Uniqueid=uniqueid)[0]
    return event_time(hangup) - event_time(created)


async def recorded_seconds(env: ItEnv, call_id: str, timeout: float = 30.0) -> list[float]:
    """Durations of the recordings catalogued for a call (one entry per file)."""
    storage = await Storage.open(env.settings.storage_url, migrate=False)
    try:
        catalog = Catalog(storage)

        async def found() -> list[float]:
            return [r.duration_ms / 1000 for r in await catalog.for_calls([call_id], [call_id])]

        return await eventually(found, bool, timeout, f"the recording of {call_id}")
    finally:
        await storage.close()


def assert_continuous(recorded: list[float], call_s: float) -> None:
    """One file for the whole call: its length matches the call's within 5 %."""
    assert len(recorded) == 1, recorded
    assert abs(recorded[0] - call_s) <= 0.05 * call_s, (recorded[0], call_s)


async def call_until(
    user: HttpUser, call_id: str, check: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    """The call's summary (as ``user`` sees it) once ``check`` holds."""
    details = await wait_for(
        lambda: user.ok("GET", f"/api/calls/{call_id}"), lambda d: check(d["call"]), what
    )
    return dict(details["call"])


async def consultant_until(
    user: HttpUser, consultant_id: str, check: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    view = await wait_for(lambda: user.ok("GET", f"/api/consultants/{consultant_id}"), check, what)
    return dict(view)


def kinds(call: dict[str, Any], state: str = "connected") -> list[str]:
    """The kinds of the call's parties in ``state``, sorted."""
    return sorted(p["kind"] for p in call["parties"] if p["state"] == state)
