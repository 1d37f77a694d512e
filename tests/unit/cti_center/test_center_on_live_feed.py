"""The CTI center reading the live model's feed, as the engine wires it: a real AmiClient
against the fake AMI server, the live model its one subscriber; a citizen's call seen and ended,
and a reconnect telling the desks to resync."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from ami.fake_ami import FakeAmi, make_settings

from acd.driver import AcdDriver
from acd.settings import AcdSettings
from cti.ami import AmiClient
from cti.center import CenterConfig, LiveCenter
from cti.control import Resync
from cti.live.service import LiveState
from tests.unit.cti_center.fakes import FakeCallLog

T0 = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)


@dataclass
class Rig:
    fake: FakeAmi
    ami: AmiClient
    live: LiveState
    center: LiveCenter


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    fake = FakeAmi()
    await fake.start()
    ami = AmiClient(make_settings(fake.port))
    await ami.start()
    live = LiveState(ami)
    driver = AcdDriver(AcdSettings(logged_in=("c0001",)), None)
    driver.log_in_roster()
    config = CenterConfig(
        zone=ZoneInfo("Asia/Seoul"),
        default_language="ko",
        outside_dial="PJSIP/outside/sip:{number}@127.0.0.1:5092",
        ring_s=15.0,
        endpoints=frozenset({"c0001"}),
        sample_every_s=3600.0,
    )
    center = LiveCenter(
        driver=driver,
        ami=ami,
        calls=FakeCallLog(),  # type: ignore[arg-type]
        config=config,
        clock=lambda: T0,
        events=live.events,
    )
    center.attach()
    tasks = [asyncio.create_task(live.run()), asyncio.create_task(center.run())]
    await live.wait_synced(5)
    await eventually(lambda: live.events.reader_count == 1, "the center reads the feed")
    yield Rig(fake, ami, live, center)
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks)
    await ami.stop()
    await fake.close()
    driver.close()


async def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 5.0
    while not check():
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.01)


def live_call_ids(rig: Rig) -> set[str]:
    return {call.call_id for call in rig.center.core.book.live_calls()}


async def test_a_citizens_call_is_seen_and_ended_through_the_live_feed(rig: Rig) -> None:
    assert rig.ami.subscriber_count == 1  # the live model alone reads AMI
    rig.fake.event(
        "Newchannel",
        ("Uniqueid", "u-1"),
        ("Channel", "PJSIP/citizens-00000001"),
        ("Context", "from-citizens"),
        ("Exten", "120"),
        ("CallerIDNum", "01020001"),
    )
    await eventually(lambda: "u-1" in live_call_ids(rig), "the citizen's call on the board")
    assert "u-1" in rig.live.snapshot.channels  # the model saw the same event
    rig.fake.event("Hangup", ("Uniqueid", "u-1"), ("Channel", "PJSIP/citizens-00000001"))
    await eventually(lambda: "u-1" not in live_call_ids(rig), "the call ended in the IVR")


async def test_a_reconnect_tells_the_desks_to_resync(rig: Rig) -> None:
    stream = rig.center.subscribe()
    rig.fake.drop_all()
    async with asyncio.timeout(5):
        async for item in stream:
            if isinstance(item, Resync):
                break
    assert rig.ami.subscriber_count == 1
