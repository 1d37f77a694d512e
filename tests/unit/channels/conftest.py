"""Fixtures for the text channels' unit tests: SQLite in a tmp dir, a key, the real ACD driver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from acd.driver import AcdDriver
from acd.settings import AcdSettings
from channels.acd_link import AcdLink
from channels.conversations import Conversations
from channels.protect import TextSealer
from channels.service import ChannelsService
from channels.settings import ChannelsSettings
from channels.store import ConversationStore
from common.storage import Storage
from dasan.config import Settings
from recordings.catalog import Catalog
from recordings.keys import KeyRing
from recordings.settings import RecordingsSettings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        cache_dir=tmp_path / "cache",
        recordings=RecordingsSettings(transcription_enabled=False),
    )


@pytest.fixture
async def storage(settings: Settings) -> AsyncIterator[Storage]:
    store = await Storage.open(settings.storage_url)
    yield store
    await store.close()


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.generate()


@pytest.fixture
def conversations(storage: Storage, ring: KeyRing, settings: Settings) -> Conversations:
    store = ConversationStore(storage, TextSealer(ring))
    return Conversations(store, Catalog(storage), settings.recordings_dir, ring)


@pytest.fixture
async def driver() -> AsyncIterator[AcdDriver]:
    acd = AcdDriver(AcdSettings(logged_in=("c0001", "c0002")), None)
    acd.log_in_roster()
    yield acd
    acd.close()


@pytest.fixture
def service(conversations: Conversations, driver: AcdDriver) -> ChannelsService:
    return ChannelsService(ChannelsSettings(), conversations, AcdLink(driver))
