"""AmiClient against a fake AMI server on 127.0.0.1: login, actions, timeouts, reconnects."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from cti.ami import (
    AmiActionError,
    AmiClient,
    AmiConnectionLost,
    AmiDisconnected,
    AmiEvent,
    AmiEventsDropped,
    AmiLoginError,
    AmiReconnected,
    AmiStreamItem,
    AmiSubscription,
    AmiTimeout,
)

from .fake_ami import FakeAmi, encode, make_settings


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmi]:
    server = FakeAmi()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def client(fake: FakeAmi) -> AsyncIterator[AmiClient]:
    ami = AmiClient(make_settings(fake.port))
    await ami.start()
    yield ami
    await ami.stop()


async def next_item(sub: AmiSubscription, within_s: float = 3.0) -> AmiStreamItem:
    async with asyncio.timeout(within_s):
        return await anext(sub)


async def next_event(sub: AmiSubscription, name: str) -> AmiEvent:
    while True:
        item = await next_item(sub)
        if isinstance(item, AmiEvent) and item.name == name:
            return item


async def test_login_actions_lists_and_command(fake: FakeAmi, client: AmiClient) -> None:
    assert client.connected
    assert client.asterisk_version == "11.0.0"
    fake.lists["CoreShowChannels"] = [[("Channel", "PJSIP/a-1"), ("Uniqueid", "1.1")]]
    channels = await client.action_list("CoreShowChannels")
    assert [e.uniqueid for e in channels] == ["1.1"]
    pong = await client.action("Ping")
    assert pong.headers["Ping"] == "Pong"
    assert (await client.command("core show version")).startswith("Asterisk 22.10.1")
    login = next(a for a in fake.actions if a["Action"] == "Login")
    assert login["Username"] == "dasan" and login["Events"] == "on"


async def test_empty_list_reported_as_error_is_empty(fake: FakeAmi, client: AmiClient) -> None:
    assert await client.action_list("PJSIPShowContacts") == []
    fake.lists["PJSIPShowContacts"] = [[("Endpoint", "c0001"), ("Uri", "sip:c0001@h")]]
    (contact,) = await client.action_list("PJSIPShowContacts")
    assert contact.get("Uri") == "sip:c0001@h"
    with pytest.raises(AmiActionError):
        await client.action_list("QueueStatus")  # other errors still raise


async def test_action_error_and_command_error_carry_asterisk_message(client: AmiClient) -> None:
    with pytest.raises(AmiActionError, match="Invalid/unknown command") as info:
        await client.action("Originate", Channel="PJSIP/c0001")
    assert info.value.message == "Invalid/unknown command"
    with pytest.raises(AmiActionError, match="No such command 'core show nonsense'"):
        await client.command("core show nonsense")


async def test_login_failure_message(fake: FakeAmi) -> None:
    ami = AmiClient(make_settings(fake.port, secret=SecretStr("wrong")))
    with pytest.raises(
        AmiLoginError, match="refused Login for user 'dasan': Authentication failed"
    ):
        await ami.start()
    assert not ami.connected


async def test_connect_refused_names_host_and_port(fake: FakeAmi) -> None:
    port = fake.port
    await fake.stop_listening()
    ami = AmiClient(make_settings(port))
    with pytest.raises(AmiDisconnected, match=f"cannot connect to AMI at 127.0.0.1:{port}"):
        await ami.start()


async def test_banner_timeout() -> None:
    accepted: list[asyncio.StreamWriter] = []
    silent = await asyncio.start_server(lambda r, w: accepted.append(w), "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    ami = AmiClient(make_settings(port, connect_timeout_s=0.2))
    with pytest.raises(AmiTimeout, match=r"no banner or Login reply within 0\.2s"):
        await ami.start()
    silent.close()
    for writer in accepted:
        writer.close()
        await writer.wait_closed()
    await silent.wait_closed()


async def test_action_timeout_then_late_reply_ignored(fake: FakeAmi, client: AmiClient) -> None:
    with pytest.raises(AmiTimeout, match=r"SlowThing got no reply within 0\.1s"):
        await client.action("SlowThing", timeout=0.1)
    slow = next(a for a in fake.actions if a["Action"] == "SlowThing")
    fake.send(encode([("Response", "Success"), ("ActionID", slow["ActionID"])]))
    assert (await client.action("Ping")).ok
    assert client.connected


async def test_not_connected_raises_at_once(fake: FakeAmi, client: AmiClient) -> None:
    await fake.stop_listening()
    with client.subscribe() as sub:
        fake.drop_all()
        lost = await next_item(sub)
    assert isinstance(lost, AmiConnectionLost)
    assert not client.connected
    with pytest.raises(AmiDisconnected, match="not connected; action Ping not sent"):
        await client.action("Ping")


async def test_pending_action_fails_when_link_drops(fake: FakeAmi, client: AmiClient) -> None:
    task = asyncio.create_task(client.action("SlowForever", timeout=5))
    await fake.wait_for(lambda: any(a["Action"] == "SlowForever" for a in fake.actions))
    fake.drop_all()
    with pytest.raises(AmiDisconnected, match="connection lost"):
        await task


async def test_reconnect_notice_then_new_events(fake: FakeAmi, client: AmiClient) -> None:
    with client.subscribe() as sub:
        fake.event("Newchannel", ("Uniqueid", "1.1"))
        assert (await next_event(sub, "Newchannel")).uniqueid == "1.1"
        fake.drop_all()
        items = [await next_item(sub) for _ in range(3)]
    assert isinstance(items[0], AmiConnectionLost)
    assert isinstance(items[1], AmiReconnected)
    # the FullyBooted that followed the new Login comes after the reconnect notice
    assert isinstance(items[2], AmiEvent) and items[2].name == "FullyBooted"
    assert client.connected and client.reconnects == 1 and fake.logins == 2
    assert (await client.action("Ping")).ok


async def test_a_pbx_that_finishes_booting_after_the_login_gets_a_second_resync(
    fake: FakeAmi, client: AmiClient
) -> None:
    """Asterisk restarted: AMI takes the login while modules still load; the state owners
    resync at login and once more when FullyBooted comes, and only then."""
    with client.subscribe() as sub:
        fake.booted = False
        fake.drop_all()
        lost, login = await next_item(sub), await next_item(sub)
        assert isinstance(lost, AmiConnectionLost)
        assert login == AmiReconnected(attempts=login.attempts, booted=False)
        fake.event("Newchannel", ("Uniqueid", "2.1"))  # traffic before the boot completes
        assert (await next_event(sub, "Newchannel")).uniqueid == "2.1"
        fake.finish_boot()
        booted_event, booted = await next_item(sub), await next_item(sub)
        assert isinstance(booted_event, AmiEvent) and booted_event.name == "FullyBooted"
        assert booted == AmiReconnected(attempts=login.attempts, booted=True)
        # A later FullyBooted on the same connection (a reload) is no new boot of ours.
        fake.finish_boot()
        fake.event("Newchannel", ("Uniqueid", "2.2"))
        again = [await next_item(sub) for _ in range(2)]
    assert [type(i) for i in again] == [AmiEvent, AmiEvent]
    assert [i.name for i in again if isinstance(i, AmiEvent)] == ["FullyBooted", "Newchannel"]


async def test_backoff_doubles_to_max_and_logs_each_attempt(
    fake: FakeAmi, caplog: pytest.LogCaptureFixture
) -> None:
    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(delay)
        if len(delays) == 5:
            await fake.start()  # the server comes back on the same port
        await asyncio.sleep(0)

    ami = AmiClient(
        make_settings(fake.port, reconnect_min_s=0.1, reconnect_max_s=0.5), sleep=record
    )
    await ami.start()
    caplog.set_level(logging.WARNING, logger="cti.ami.client")
    with ami.subscribe() as sub:
        await fake.stop_listening()
        fake.drop_all()
        while not isinstance(await next_item(sub), AmiReconnected):
            pass
    await ami.stop()
    assert delays == [0.1, 0.2, 0.4, 0.5, 0.5]
    attempts = [r.getMessage() for r in caplog.records if "reconnect attempt" in r.getMessage()]
    assert [m.split(" failed")[0] for m in attempts] == [
        f"AMI reconnect attempt {n}" for n in range(1, 5)
    ]


async def test_slow_subscriber_loses_only_its_own_oldest(fake: FakeAmi, client: AmiClient) -> None:
    slow = client.subscribe(maxsize=5, name="slow")
    fast = client.subscribe(maxsize=1000, name="fast")
    for n in range(100):
        fake.event("UserEvent", ("Seq", str(n)))
    seen = [(await next_event(fast, "UserEvent")).get("Seq") for _ in range(100)]
    assert seen == [str(n) for n in range(100)]
    dropped = await next_item(slow)
    assert isinstance(dropped, AmiEventsDropped)
    rest = [await next_item(slow) for _ in range(5)]
    assert [e.get("Seq") for e in rest if isinstance(e, AmiEvent)] == [
        str(n) for n in range(95, 100)
    ]
    assert dropped.count == 95 == slow.dropped
    assert fast.dropped == 0


async def test_junk_from_server_drops_link_and_reconnects(fake: FakeAmi, client: AmiClient) -> None:
    with client.subscribe() as sub:
        fake.send(b"this is not AMI\r\n\r\n")
        lost = await next_item(sub)
        assert isinstance(lost, AmiConnectionLost)
        assert "not an AMI header line" in lost.reason
        assert isinstance(await next_item(sub), AmiReconnected)


async def test_unanswered_ping_drops_link(fake: FakeAmi) -> None:
    ami = AmiClient(make_settings(fake.port, ping_interval_s=0.05, action_timeout_s=0.1))
    await ami.start()
    with ami.subscribe() as sub:
        fake.answer_ping = False
        lost = await next_item(sub)
        fake.answer_ping = True
        assert isinstance(lost, AmiConnectionLost)
        assert "keep-alive Ping unanswered" in lost.reason
        assert isinstance(await next_item(sub), AmiReconnected)
    await ami.stop()


async def test_stop_ends_subscriptions_after_draining(fake: FakeAmi) -> None:
    ami = AmiClient(make_settings(fake.port))
    await ami.start()
    sub = ami.subscribe()
    fake.event("UserEvent", ("Seq", "last"))
    await fake.wait_for(lambda: len(sub) >= 1)
    await ami.stop()
    names = [item.name async for item in sub if isinstance(item, AmiEvent)]
    assert names == ["UserEvent"]
    assert any(a["Action"] == "Logoff" for a in fake.actions)
    assert not ami.connected


async def test_stop_does_not_reconnect_after_goodbye(fake: FakeAmi) -> None:
    """Asterisk closes the socket after Logoff; a concurrent cancel must not be swallowed."""
    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(delay)
        await asyncio.sleep(0)

    for _ in range(5):
        ami = AmiClient(make_settings(fake.port), sleep=record)
        await ami.start()
        await ami.stop()
        assert not ami.connected
    assert delays == []
    assert fake.logins == 5


async def test_subscribing_after_stop_ends_at_once(fake: FakeAmi) -> None:
    ami = AmiClient(make_settings(fake.port))
    await ami.start()
    await ami.stop()
    late = [item async for item in ami.subscribe()]
    assert late == []
    with pytest.raises(RuntimeError, match="create a new one"):
        await ami.start()
