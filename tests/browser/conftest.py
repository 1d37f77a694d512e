"""Browser tier: real Chromium (Debian's, through Playwright) against a real engine and PBX.

This tier has its own PBX and engine, configured so that only the interpreter ``c0462`` is
logged in at start: the consultant the test signs in on the desktop is then the only one who
can take the citizen's call. The PBX lives for this module only (the integration tier starts
its own afterwards, on the same loopback ports); `make test` runs the tier inside a private
network namespace like the integration tier.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from dasan.pbx.container import PbxContainer
from dasan.sipp import ConsultantUas
from tests.integration.support import (
    REPO,
    EngineProcess,
    ItEnv,
    create_database,
    drop_database,
    port_open,
    running_pbx,
    write_config,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Two pages watch live updates side by side: neither may be throttled as a background tab.
    "--disable-renderer-backgrounding",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
]
ARTIFACTS = REPO / "test-artifacts" / "browser"
INTERPRETER = "c0462"  # English interpreter (skill interp_en), logged in and ready at start


@pytest.fixture(scope="module")
def browser_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ItEnv]:
    if not (REPO / "var" / "prompts").is_dir():
        raise pytest.UsageError("prompts are not built: run `make prompts` (make test does)")
    for port in (5060, 5038, 8120):
        if port_open("127.0.0.1", port):
            raise pytest.UsageError(
                f"127.0.0.1:{port} is taken: the browser tier needs its own PBX and engine "
                "(run it alone, or before the integration tier, in a private network namespace)"
            )
    root = tmp_path_factory.mktemp("dasan-browser")
    database = create_database("dasan_browser")
    extra = f'[acd]\nlogged_in = ["{INTERPRETER}"]'
    config = write_config(root, database, root / "recordings", extra_toml=extra)
    env = ItEnv(root=root, config_path=config, database=database)
    yield env
    drop_database(database)


@pytest.fixture(scope="module")
def browser_pbx(browser_env: ItEnv) -> Iterator[PbxContainer]:
    with running_pbx(browser_env) as container:
        yield container


@pytest.fixture(scope="module")
def browser_engine(browser_pbx: PbxContainer, browser_env: ItEnv) -> Iterator[EngineProcess]:
    proc = EngineProcess(browser_env)
    proc.need_http = True
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
async def phones(tmp_path: Path) -> AsyncIterator[ConsultantUas]:
    """Every consultant and interpreter phone (5090): answers after 0.3 s, talks up to 60 s."""
    uas = ConsultantUas(tmp_path / "sipp" / "phones", ring_ms=300, talk_ms=60_000)
    await uas.start()
    yield uas
    await uas.stop()


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
