"""CTI through the real PBX: the session's engine over HTTP, consultants who talk long enough
for call control, and a SIPp UAS for outside numbers (127.0.0.1:5092)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from dasan.sipp import ConsultantUas
from tests.integration.cti.helpers import HttpUser, Rig
from tests.integration.support import AmiRecorder, EngineProcess, ItEnv, port_open, wait_for


@pytest.fixture(scope="module")
def engine_env() -> dict[str, str]:
    """The CTI scenarios press keys only: no Korean speech model to load (faster start)."""
    return {"DASAN_IVR__SPEECH_ENABLED": "false"}


@pytest.fixture
def cti_engine(engine: EngineProcess, it_env: ItEnv) -> EngineProcess:
    """The session's engine, once its HTTP edge answers."""
    http = it_env.settings.http
    wait_for(lambda: port_open(http.host, http.port), 30, "the engine's HTTP edge")
    return engine


@pytest.fixture
async def agents(sipp_dir: Path) -> AsyncIterator[ConsultantUas]:
    """Every consultant phone (5090): answers after 0.3 s and talks until hung up (60 s)."""
    uas = ConsultantUas(sipp_dir / "agents", ring_ms=300, talk_ms=60_000)
    await uas.start()
    yield uas
    await uas.stop()


@pytest.fixture
async def outside(sipp_dir: Path) -> AsyncIterator[ConsultantUas]:
    """Outside numbers (departments, hospitals, supervisors' mobiles) on 127.0.0.1:5092."""
    uas = ConsultantUas(sipp_dir / "outside", port=5092, ring_ms=300, talk_ms=60_000)
    await uas.start()
    yield uas
    await uas.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def supervisor(
    cti_engine: EngineProcess, it_env: ItEnv, http: aiohttp.ClientSession
) -> HttpUser:
    return await HttpUser(http, it_env.settings, "supervisor").login()


@pytest.fixture
def phones(agents: ConsultantUas, outside: ConsultantUas) -> tuple[ConsultantUas, ConsultantUas]:
    return agents, outside


@pytest.fixture
async def rig(
    phones: tuple[ConsultantUas, ConsultantUas],
    recorder: AmiRecorder,
    sipp_dir: Path,
    it_env: ItEnv,
    supervisor: HttpUser,
) -> AsyncIterator[Rig]:
    """Everything a CTI scenario needs, with the phones up and the engine's HTTP answering."""
    rig = Rig(recorder, sipp_dir, it_env, supervisor.session, supervisor)
    yield rig
    await rig.finish()
