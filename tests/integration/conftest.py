"""Integration tier: a real Asterisk 22 container, `dasan serve`, SIPp and PostgreSQL.

`make test` runs this tier inside a private network namespace (own loopback), so the fixed
contract ports (5060, 5038, 4573, 8120, 5090) never collide with a PBX left up by `make demo`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from cti.ami.client import AmiClient
from dasan.pbx.container import PbxContainer
from dasan.sipp import ConsultantUas
from tests.integration.support import (
    REPO,
    AmiRecorder,
    EngineProcess,
    ItEnv,
    assert_no_leaked_channels,
    create_database,
    drop_database,
    mount_tmpfs,
    running_pbx,
    unmount,
    write_config,
)

# The recordings folder is a filesystem of its own, so the disk-full test can fill it.
RECORDINGS_TMPFS = "768m"


@pytest.fixture(scope="session")
def it_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ItEnv]:
    if not (REPO / "var" / "prompts").is_dir():
        raise pytest.UsageError("prompts are not built: run `make prompts` (make test does)")
    root = tmp_path_factory.mktemp("dasan-it")
    database = create_database("dasan_it")
    recordings = root / "recordings"
    mount_tmpfs(recordings, RECORDINGS_TMPFS)
    env = ItEnv(root=root, config_path=write_config(root, database, recordings), database=database)
    try:
        yield env
    finally:
        unmount(recordings)
        drop_database(database)


@pytest.fixture(scope="session")
def pbx(it_env: ItEnv) -> Iterator[PbxContainer]:
    with running_pbx(it_env) as container:
        yield container


@pytest.fixture(scope="module")
def engine_env() -> dict[str, str]:
    """Extra environment for this module's engine (override in a test module)."""
    return {}


@pytest.fixture(scope="module")
def engine(pbx: PbxContainer, it_env: ItEnv, engine_env: dict[str, str]) -> Iterator[EngineProcess]:
    """`dasan serve` for one test module (modules may configure it through engine_env)."""
    proc = EngineProcess(it_env, engine_env)
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
async def ami(pbx: PbxContainer, it_env: ItEnv) -> AsyncIterator[AmiClient]:
    client = AmiClient(it_env.settings.ami)
    await client.start()
    try:
        yield client
        # Every integration test ends with no channel left behind.
        await assert_no_leaked_channels(client)
    finally:
        await client.stop()


@pytest.fixture
async def recorder(ami: AmiClient) -> AsyncIterator[AmiRecorder]:
    async with AmiRecorder(ami) as rec:
        yield rec


@pytest.fixture
def sipp_dir(tmp_path: Path) -> Path:
    return tmp_path / "sipp"


@pytest.fixture
async def consultants(sipp_dir: Path) -> AsyncIterator[ConsultantUas]:
    """The default consultant UAS: answers after 0.3 s, talks 3 s, hangs up."""
    uas = ConsultantUas(sipp_dir / "uas", ring_ms=300, talk_ms=3000)
    await uas.start()
    yield uas
    await uas.stop()
