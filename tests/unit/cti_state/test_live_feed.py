"""The live model's event feed: the engine's one AMI subscription, passed on to every other
reader in wire order with the stream's notices; a slow reader, a model defect, a restart of the
model and the end of the AMI stream each handled without losing a reader's place."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from ami.fake_ami import FakeAmi, make_settings

from cti.ami import AmiClient, AmiEvent, AmiEventsDropped, AmiReconnected, AmiStreamItem
from cti.ami.fanout import Subscription
from cti.live.service import LiveState

NOW = 1795046500.0


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmi]:
    server = FakeAmi()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def ami(fake: FakeAmi) -> AsyncIterator[AmiClient]:
    client = AmiClient(make_settings(fake.port))
    await client.start()
    yield client
    await client.stop()


def dtmf(fake: FakeAmi, uid: str, digit: str) -> None:
    fake.event("DTMFEnd", ("Uniqueid", uid), ("Digit", digit), ("Direction", "Received"))


def is_key(item: AmiStreamItem) -> bool:
    return isinstance(item, AmiEvent) and item.name == "DTMFEnd"


async def take(sub: Subscription[AmiStreamItem], keys: int) -> list[AmiStreamItem]:
    """Every item up to and including the ``keys``-th DTMFEnd."""
    got: list[AmiStreamItem] = []
    async with asyncio.timeout(5):
        async for item in sub:
            got.append(item)
            if sum(map(is_key, got)) == keys:
                break
    return got


def digits(items: list[AmiStreamItem]) -> list[str]:
    return [i.get("Digit") for i in items if isinstance(i, AmiEvent) and is_key(i)]


async def test_readers_get_the_one_subscriptions_events_in_wire_order(
    fake: FakeAmi, ami: AmiClient
) -> None:
    live = LiveState(ami, clock=lambda: NOW)
    task = asyncio.create_task(live.run())
    await asyncio.sleep(0)
    acd, keys = live.events.subscribe(name="acd"), live.events.subscribe(name="keys")
    assert ami.subscriber_count == 1 and live.events.reader_count == 2
    fake.event("Newchannel", ("Uniqueid", "1.2"), ("Channel", "PJSIP/c0001-00000001"))
    for n in range(5):
        dtmf(fake, "1.1", str(n))
    for sub in (acd, keys):
        got = await take(sub, 5)
        assert next(i.name for i in got if isinstance(i, AmiEvent)) == "Newchannel"
        assert digits(got) == ["0", "1", "2", "3", "4"]
    await live.wait_synced(5)
    assert "1.2" in live.snapshot.channels  # the model read the same events
    task.cancel()
    await asyncio.wait([task])


async def test_a_reconnect_reaches_the_readers_as_it_reaches_a_subscriber(
    fake: FakeAmi, ami: AmiClient
) -> None:
    live = LiveState(ami, clock=lambda: NOW)
    task = asyncio.create_task(live.run())
    await asyncio.sleep(0)
    sub = live.events.subscribe(name="cti")
    fake.drop_all()
    async with asyncio.timeout(5):
        async for item in sub:
            if isinstance(item, AmiReconnected):
                break
    dtmf(fake, "1.1", "5")
    assert digits(await take(sub, 1)) == ["5"]
    task.cancel()
    await asyncio.wait([task])


async def test_a_slow_reader_loses_only_its_own_oldest_items_and_is_told(
    fake: FakeAmi, ami: AmiClient
) -> None:
    live = LiveState(ami, clock=lambda: NOW)
    task = asyncio.create_task(live.run())
    await asyncio.sleep(0)
    slow, fast = live.events.subscribe(maxsize=2, name="slow"), live.events.subscribe(name="fast")
    for n in range(5):
        dtmf(fake, "1.1", str(n))
    assert digits(await take(fast, 5)) == ["0", "1", "2", "3", "4"]
    got = await take(slow, 2)
    assert isinstance(got[0], AmiEventsDropped) and got[0].count == 3
    assert digits(got) == ["3", "4"]
    task.cancel()
    await asyncio.wait([task])


async def test_an_event_the_model_cannot_apply_still_reaches_the_readers(
    fake: FakeAmi, ami: AmiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = LiveState(ami, clock=lambda: NOW)
    task = asyncio.create_task(live.run())
    await live.wait_synced(5)
    apply = live._reducer.apply

    def broken(snapshot, event, now):  # type: ignore[no-untyped-def]
        if event.get("Digit") == "1":
            raise ValueError("a model defect (test)")
        return apply(snapshot, event, now)

    monkeypatch.setattr(live._reducer, "apply", broken)
    sub = live.events.subscribe(name="keys")
    for n in range(3):
        dtmf(fake, "1.1", str(n))
    assert digits(await take(sub, 3)) == ["0", "1", "2"]
    await live.wait_synced(5)
    assert live.resyncs == 2 and not task.done()  # the model resynced instead of stopping
    task.cancel()
    await asyncio.wait([task])


async def test_readers_keep_their_place_when_the_model_restarts(
    fake: FakeAmi, ami: AmiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = LiveState(ami, clock=lambda: NOW)
    sub = live.events.subscribe(name="cti")

    def crash(*_args: object) -> None:
        raise RuntimeError("resync crashed (test)")

    monkeypatch.setattr(live, "_install", crash)
    with pytest.raises(ExceptionGroup):
        async with asyncio.timeout(5):
            await live.run()
    monkeypatch.undo()
    task = asyncio.create_task(live.run())  # as the supervisor restarts it
    await live.wait_synced(5)
    dtmf(fake, "1.1", "8")
    got = await take(sub, 1)
    assert got[0] == AmiEventsDropped(0)  # events between the two runs were not seen
    assert digits(got) == ["8"] and not sub.closed
    task.cancel()
    await asyncio.wait([task])


async def test_the_readers_end_when_the_ami_stream_ends(ami: AmiClient) -> None:
    live = LiveState(ami, clock=lambda: NOW)
    task = asyncio.create_task(live.run())
    await asyncio.sleep(0)
    sub = live.events.subscribe(name="acd")
    await ami.stop()
    async with asyncio.timeout(5):
        await task
        assert [item async for item in sub if isinstance(item, AmiEvent)] == []
    assert sub.closed and live.events.subscribe().closed
