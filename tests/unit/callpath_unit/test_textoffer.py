"""The after-hours SMS offer (callpath.textoffer) over a real AgiSession and a fake sender."""

from __future__ import annotations

import asyncio

import pytest

from callpath.textoffer import TextSender, gateway_listening, keep_offer, offer_tags
from channels.sms.codec import SmsRefused
from ivr.agi import AgiSession

from .support import agi_call, replies

pytestmark = pytest.mark.unit

PBX = "/var/lib/dasan/prompts"
CHAT = "http://127.0.0.1:8120/chat"


class FakeSms:
    """Records each SMS; ``refuse`` makes it answer as ChannelsService does on a refusal."""

    def __init__(self, refuse: str | None = None) -> None:
        self.refuse = refuse
        self.sent: list[tuple[str, str, str]] = []

    async def send(self, number: str, text: str, language: str) -> int:
        self.sent.append((number, text, language))
        if self.refuse is not None:
            raise SmsRefused(self.refuse, "refused by the fake gateway")
        return len(self.sent)


async def offer(sender: TextSender | None, caller: str | None) -> tuple[bool, list[str]]:
    results: list[bool] = []

    async def handler(session: AgiSession) -> None:
        results.append(await keep_offer(session, sender, caller, "ja", PBX))

    async with agi_call(handler, replies({})) as peer:
        pass
    return results[0], peer.commands


def played(commands: list[str]) -> list[str]:
    return [c.split()[2] for c in commands if c.startswith("STREAM FILE")]


async def test_an_accepted_sms_carries_link_and_hours_then_the_caller_hears_it_was_sent() -> None:
    fake = FakeSms()
    sent, commands = await offer(TextSender(fake.send, CHAT), "010-1234-5678")
    assert sent
    ((number, text, language),) = fake.sent
    assert number == "01012345678" and language == "ja"
    assert CHAT in text and "09:00-22:00" in text and "チャット" in text
    assert played(commands) == [f"{PBX}/ja/sms_sent"]


async def test_a_refused_sms_is_apologized_for_never_confirmed() -> None:
    fake = FakeSms(refuse="gateway")
    sent, commands = await offer(TextSender(fake.send, CHAT), "01012345678")
    assert not sent and len(fake.sent) == 1
    assert played(commands) == [f"{PBX}/ja/sms_failed"]


@pytest.mark.parametrize("caller", [None, "", "anonymous", "<unknown>"])
async def test_no_dialable_number_sends_nothing_and_apologizes(caller: str | None) -> None:
    fake = FakeSms()
    sent, commands = await offer(TextSender(fake.send, CHAT), caller)
    assert not sent and fake.sent == []
    assert played(commands) == [f"{PBX}/ja/sms_failed"]


async def test_no_gateway_sends_nothing_and_apologizes() -> None:
    sent, commands = await offer(None, "01012345678")
    assert not sent and played(commands) == [f"{PBX}/ja/sms_failed"]


def test_the_offer_is_made_only_with_a_gateway_and_a_dialable_number() -> None:
    sender = TextSender(FakeSms().send, CHAT)
    assert offer_tags(sender, "01012345678") == {"sms_offer": "yes"}
    assert offer_tags(None, "01012345678") == {}
    assert offer_tags(sender, "anonymous") == {}
    assert offer_tags(sender, None) == {}


async def test_a_gateway_is_offered_only_while_it_listens() -> None:
    server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        assert await gateway_listening("127.0.0.1", port)
    await server.wait_closed()
    assert not await gateway_listening("127.0.0.1", port)
