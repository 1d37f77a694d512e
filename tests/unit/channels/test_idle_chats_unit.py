"""Idle chats end by themselves after ``idle_end_s`` without messages, telling the citizen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from acd.driver import AcdDriver
from channels.acd_link import AcdLink
from channels.conversations import Conversations
from channels.model import Channel, Outcome, Sender
from channels.protect import TextSealer
from channels.service import ChannelsService
from channels.settings import ChannelsSettings
from channels.store import ConversationStore
from channels.texts import idle_ended
from common.storage import Storage
from dasan.config import Settings
from recordings.catalog import Catalog
from recordings.keys import KeyRing

T0 = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _service(
    storage: Storage, ring: KeyRing, settings: Settings, driver: AcdDriver, clock: Clock
) -> ChannelsService:
    store = ConversationStore(storage, TextSealer(ring), clock)
    convs = Conversations(store, Catalog(storage), settings.recordings_dir, ring, clock)
    return ChannelsService(ChannelsSettings(idle_end_s=600), convs, AcdLink(driver), clock=clock)


async def test_a_chat_quiet_for_the_idle_time_ends_with_a_message_in_its_language(
    storage: Storage, ring: KeyRing, settings: Settings, driver: AcdDriver
) -> None:
    clock = Clock()
    service = _service(storage, ring, settings, driver, clock)
    quiet, _ = await service.start_chat("en")
    talking, _ = await service.start_chat("ko")
    await service.route_pending()
    watch = service.hub.watch_conversation(quiet.id)
    clock.advance(300)
    await service.citizen_message(talking.id, "안녕하세요", None)
    assert await service.end_idle() == []
    clock.advance(300)  # the quiet chat: 600 s since its start; the other 300 s since a message
    assert await service.end_idle() == [quiet.id]
    ended = await service.store.get(quiet.id)
    assert ended.ended_at == clock.now and ended.outcome is Outcome.UNANSWERED
    (notice,) = await service.store.messages(quiet.id)
    assert notice.sender is Sender.SYSTEM
    assert notice.text == idle_ended("en", 600) and "10 minutes" in notice.text
    events = [watch.queue.get_nowait() for _ in range(watch.queue.qsize())]
    assert [e["type"] for e in events if e is not None][-2:] == ["message", "ended"]
    assert (await service.store.get(talking.id)).is_open
    assert service.held_count() == 1  # the consultant holding the quiet chat was released
    clock.advance(300)
    assert await service.end_idle() == [talking.id]
    assert "10분" in (await service.store.messages(talking.id))[-1].text


async def test_sms_threads_are_never_ended_for_idleness(
    storage: Storage, ring: KeyRing, settings: Settings, driver: AcdDriver
) -> None:
    clock = Clock()
    service = _service(storage, ring, settings, driver, clock)
    conv = await service.store.open(Channel.SMS, "ko", "general", "digest", "01055550001")
    clock.advance(86_400)
    assert await service.end_idle() == []
    assert (await service.store.get(conv.id)).is_open
