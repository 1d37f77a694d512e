"""LiveState over a real AmiClient and a fake AMI server: startup resync, live updates,
resync after reconnect and after lost events, events seen during a resync kept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from ami.fake_ami import FakeAmi, encode, make_settings

from cti.ami import AmiClient
from cti.ami.fanout import Subscription
from cti.live.model import (
    ChannelChanged,
    ChannelHungUp,
    ChannelState,
    LiveChange,
    LiveSnapshot,
    StateChangesDropped,
    StateResynced,
    StateStale,
)
from cti.live.service import LiveState

from .events import bridge, call_events, snap

NOW = 1795046500.0
CSC = [*snap("1.1", "PJSIP/citizen-1", num="010"), ("BridgeId", "B1"), ("Application", "Dial"),
       ("ApplicationData", "PJSIP/c0001"), ("Duration", "00:00:10")]  # fmt: skip


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmi]:
    server = FakeAmi()
    server.lists["CoreShowChannels"] = [CSC]
    server.lists["BridgeList"] = [bridge("B1", 1)]
    server.lists["PJSIPShowContacts"] = [
        [("Endpoint", "c0001"), ("Uri", "sip:c0001@127.0.0.1:5090"), ("Status", "Reachable")]
    ]
    server.lists["DeviceStateList"] = [[("Device", "PJSIP/c0001"), ("State", "NOT_INUSE")]]
    await server.start()
    yield server
    await server.close()


class Running:
    def __init__(self, ami: AmiClient, live: LiveState, task: asyncio.Task[None]) -> None:
        self.ami, self.live, self.task = ami, live, task


@pytest.fixture
async def running(fake: FakeAmi) -> AsyncIterator[Running]:
    ami = AmiClient(make_settings(fake.port))
    await ami.start()
    live = LiveState(ami, clock=lambda: NOW, resync_retry_s=0.05)
    task = asyncio.create_task(live.run())
    yield Running(ami, live, task)
    await ami.stop()
    async with asyncio.timeout(5):
        await task


async def next_change(sub: Subscription[LiveChange], kind: type) -> LiveChange:
    async with asyncio.timeout(5):
        async for change in sub:
            if isinstance(change, kind):
                return change
    raise AssertionError(f"subscription ended before a {kind.__name__}")


async def test_startup_resync_builds_state(running: Running) -> None:
    snapshot = await running.live.wait_synced(5)
    assert snapshot.synced
    channel = snapshot.channels["1.1"]
    assert channel.bridge_id == "B1" and channel.created_at == NOW - 10
    assert snapshot.bridges["B1"].members == ("1.1",)
    endpoint = snapshot.endpoints["c0001"]
    assert endpoint.reachable is True and not endpoint.in_use


async def test_live_events_update_and_publish(fake: FakeAmi, running: Running) -> None:
    await running.live.wait_synced(5)
    with running.live.subscribe() as sub:
        for event in call_events(3)[:2]:
            fake.send(encode(event.headers.multi_items()))
        changed = await next_change(sub, ChannelChanged)
        assert isinstance(changed, ChannelChanged)
        assert changed.channel.uniqueid == "1795046400.6"
        fake.event("Hangup", *snap("1.1", "PJSIP/citizen-1"), ("Cause", "16"),
                   ("Cause-txt", "Normal Clearing"))  # fmt: skip
        hungup = await next_change(sub, ChannelHungUp)
        assert isinstance(hungup, ChannelHungUp) and hungup.channel.uniqueid == "1.1"
    snapshot = running.live.snapshot
    assert "1.1" not in snapshot.channels and snapshot.bridges["B1"].members == ()
    assert snapshot.channels["1795046400.6"].state is ChannelState.UP


async def test_reconnect_marks_stale_then_replaces_state(fake: FakeAmi, running: Running) -> None:
    await running.live.wait_synced(5)
    with running.live.subscribe() as sub:
        fake.lists["CoreShowChannels"] = [[*snap("2.2", "PJSIP/citizen-2"), ("Duration", "0:0:1")]]
        fake.lists["BridgeList"] = []
        fake.drop_all()
        stale = await next_change(sub, StateStale)
        assert isinstance(stale, StateStale) and "closed by peer" in stale.reason
        assert not running.live.snapshot.synced
        resynced = await next_change(sub, StateResynced)
    assert isinstance(resynced, StateResynced)
    assert set(resynced.snapshot.channels) == {"2.2"}
    assert resynced.snapshot.bridges == {}
    assert running.live.snapshot is resynced.snapshot and running.live.resyncs == 2


async def test_a_restarted_pbx_is_resynced_again_once_fully_booted(
    fake: FakeAmi, running: Running
) -> None:
    """Asterisk restarted: the login comes while its modules load (no channels, no endpoints
    yet); the calls and endpoints it has once booted replace that half-empty state."""
    await running.live.wait_synced(5)
    with running.live.subscribe() as sub:
        fake.booted = False
        loading = {"CoreShowChannels": [], "BridgeList": [], "PJSIPShowContacts": []}
        booted = {name: fake.lists[name] for name in loading}
        fake.lists.update(loading)
        fake.drop_all()
        early = await next_change(sub, StateResynced)
        assert isinstance(early, StateResynced) and early.snapshot.channels == {}
        fake.lists.update(booted)
        fake.finish_boot()
        again = await next_change(sub, StateResynced)
    assert isinstance(again, StateResynced)
    assert set(again.snapshot.channels) == {"1.1"}
    assert again.snapshot.endpoints["c0001"].reachable is True


async def test_events_during_resync_are_replayed_in_order(fake: FakeAmi, running: Running) -> None:
    await running.live.wait_synced(5)
    new = snap("3.3", "PJSIP/citizen-3", state="Ring")
    gone = [("Event", "Hangup"), *snap("1.1", "PJSIP/citizen-1"), ("Cause", "16")]
    fake.around_list["CoreShowChannels"] = (
        encode([("Event", "Newchannel"), *new]),  # before the reply: not in the list
        encode(gone),  # between two list items
        encode([("Event", "Newstate"), *snap("3.3", "PJSIP/citizen-3", state="Up")]),
    )
    fake.lists["CoreShowChannels"] = [CSC, [*snap("4.4", "PJSIP/c0009-1"), ("Duration", "0:0:2")]]
    with running.live.subscribe() as sub:
        fake.drop_all()
        resynced = await next_change(sub, StateResynced)
    assert isinstance(resynced, StateResynced)
    await fake.wait_for(lambda: "3.3" in running.live.snapshot.channels
                and running.live.snapshot.channels["3.3"].state is ChannelState.UP)  # fmt: skip
    snapshot = running.live.snapshot
    assert set(snapshot.channels) == {"3.3", "4.4"}  # 1.1 hung up during the resync
    assert running.live.events_replayed >= 3  # FullyBooted, Newchannel, Hangup at least
    assert snapshot.bridges["B1"].members == ()


async def test_lost_events_trigger_resync(fake: FakeAmi) -> None:
    ami = AmiClient(make_settings(fake.port))
    await ami.start()
    live = LiveState(ami, clock=lambda: NOW, ami_queue=4)
    task = asyncio.create_task(live.run())
    await live.wait_synced(5)
    for n in range(40):
        fake.event("Newstate", *snap(f"7.{n}", f"PJSIP/x-{n}"))
    await fake.wait_for(lambda: live.resyncs >= 2 and live.snapshot.synced)
    await ami.stop()
    async with asyncio.timeout(5):
        await task
    assert live.snapshot.synced


async def test_resync_failure_is_retried(fake: FakeAmi) -> None:
    fake.fail_actions.add("BridgeList")
    ami = AmiClient(make_settings(fake.port))
    await ami.start()
    live = LiveState(ami, clock=lambda: NOW, resync_retry_s=0.02)
    task = asyncio.create_task(live.run())
    await fake.wait_for(lambda: sum(a["Action"] == "BridgeList" for a in fake.actions) >= 3)
    assert not live.snapshot.synced and ami.reconnects == 0
    fake.fail_actions.clear()
    await live.wait_synced(5)
    await ami.stop()
    async with asyncio.timeout(5):
        await task


async def test_slow_state_subscriber_told_of_drops(fake: FakeAmi, running: Running) -> None:
    await running.live.wait_synced(5)
    with running.live.subscribe(maxsize=2) as slow:
        for n in range(10):
            fake.event("Newstate", *snap(f"8.{n}", f"PJSIP/y-{n}"))
        await fake.wait_for(lambda: len(running.live.snapshot.channels) == 11)
        first = await anext(slow)
    assert isinstance(first, StateChangesDropped) and first.count == 8
    assert isinstance(running.live.snapshot, LiveSnapshot)


async def test_state_started_before_the_client_syncs_on_first_login(fake: FakeAmi) -> None:
    ami = AmiClient(make_settings(fake.port))
    live = LiveState(ami, clock=lambda: NOW)
    task = asyncio.create_task(live.run())
    await asyncio.sleep(0)  # let run() subscribe and try its first resync (AMI not up yet)
    await ami.start()
    snapshot = await live.wait_synced(5)
    assert set(snapshot.channels) == {"1.1"}
    await ami.stop()
    async with asyncio.timeout(5):
        await task
