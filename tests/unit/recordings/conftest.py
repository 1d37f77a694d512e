"""Fixtures for the recordings unit tests: settings in a tmp dir, SQLite, a key, test audio."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rec_support import FakeTranscriber, ManualClock, make_settings

from common.storage import Storage
from dasan.config import Settings
from recordings.keys import KeyRing, NumberProtector
from recordings.system import Recordings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
async def storage(settings: Settings) -> AsyncIterator[Storage]:
    store = await Storage.open(settings.storage_url)
    yield store
    await store.close()


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.generate()


@pytest.fixture
def protector(ring: KeyRing) -> NumberProtector:
    return NumberProtector(ring)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 28, 9, 0, tzinfo=UTC))


@pytest.fixture
async def system(settings: Settings) -> AsyncIterator[Recordings]:
    opened = await Recordings.open(settings, load_transcriber=FakeTranscriber)
    yield opened
    await opened.close()


@pytest.fixture
def call_start() -> datetime:
    return datetime.now(UTC) - timedelta(minutes=5)
