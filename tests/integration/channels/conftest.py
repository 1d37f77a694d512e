"""Text channels through the real engine: Kannel with fakesmsc as the carrier, chat over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from channels.sms.kannel import Kannel
from common.process import port_open
from tests.integration.support import EngineProcess, ItEnv, wait_for

# Two consultants logged in, so tests know who may hold what.
LOGGED_IN = '["c0001", "c0002"]'


@pytest.fixture(scope="module")
def engine_env() -> dict[str, str]:
    return {
        "DASAN_IVR__SPEECH_ENABLED": "false",
        # Chat is open whatever the hour the test runs ("telephone" is always open).
        "DASAN_CHANNELS__HOURS_SERVICE": "telephone",
        "DASAN_ACD__LOGGED_IN": LOGGED_IN,
    }


@pytest.fixture(scope="module")
def kannel(it_env: ItEnv) -> Iterator[Kannel]:
    settings = it_env.settings
    gateway = Kannel(settings.channels.kannel, settings.state_dir)
    gateway.up()
    yield gateway
    gateway.down()


@pytest.fixture
def web_engine(engine: EngineProcess, it_env: ItEnv) -> EngineProcess:
    http = it_env.settings.http
    engine.need_http = True
    wait_for(lambda: port_open(http.host, http.port), 30, "the engine's HTTP edge")
    return engine


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
