"""A consultant's day in a real browser: sign in on /desktop, go ready, take a real SIPp call
with its screen pop, add an interpreter (a SIPp phone answers for them) and see three
parties, hang up, finish wrap-up -- while a supervisor's /wallboard in a second browser
follows every step within a second. Screenshots of both pages at each step are kept under
test-artifacts/browser/, with the measured wallboard delays.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect

from cti.auth import demo_password
from dasan.sipp import CitizenCalls, ConsultantUas, Dtmf, run_citizens
from tests.integration.support import EngineProcess

CONSULTANT = "c0001"
CALLER = "0102000"  # SIPp appends its call number: the first call comes from 01020001
STATES = ("ready", "ringing", "talking", "wrap_up", "not_ready", "logged_out")
WALLBOARD_WITHIN_S = 1.0


class Session:
    """Both pages, the supervisor's API view to compare the wallboard with, and the record."""

    def __init__(
        self, desk: Page, wall: Page, http: aiohttp.ClientSession, base: str, out: Path
    ) -> None:
        self.desk, self.wall, self.http, self.base, self.out = desk, wall, http, base, out
        self.token = ""
        # Per step: how long the step took, and how long the wallboard lagged behind it.
        self.delays: dict[str, dict[str, float]] = {}

    async def states(self) -> Counter[str]:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.http.get(f"{self.base}/api/consultants", headers=headers) as response:
            assert response.status == 200
            return Counter(v["state"] for v in await response.json())

    async def shown(self) -> dict[str, int]:
        counts = {}
        for state in STATES:
            text = await self.wall.get_by_test_id(f"state-count-{state}").text_content()
            counts[state] = int(text) if text and text.isdigit() else -1
        return counts

    async def step(self, name: str, action: Callable[[], Awaitable[None]]) -> None:
        """Run one step (it returns once the desktop shows its result); then the wallboard
        must agree with the center's consultant states within a second."""
        started = time.monotonic()
        await action()
        checked = time.monotonic()
        while True:
            want = await self.states()
            shown = await self.shown()
            if all(shown[s] == want.get(s, 0) for s in STATES):
                break
            if time.monotonic() - checked > WALLBOARD_WITHIN_S:
                raise AssertionError(f"{name}: wallboard shows {shown}, the center has {want}")
            await asyncio.sleep(0.05)  # poll interval, bounded by the deadline above
        done = time.monotonic()
        self.delays[name] = {
            "step_s": round(checked - started, 3),
            "wallboard_lag_s": round(done - checked, 3),
        }
        await self.desk.screenshot(path=self.out / f"{name}-desktop.png", full_page=True)
        await self.wall.screenshot(path=self.out / f"{name}-wallboard.png", full_page=True)


async def _sign_in(page: Page, url: str, user: str, password: str) -> None:
    await page.goto(url)
    await page.get_by_test_id("login-user").fill(user)
    await page.get_by_test_id("login-password").fill(password)
    await page.get_by_test_id("login-submit").click()
    await expect(page.get_by_test_id("connection")).to_have_attribute("data-status", "live")


@pytest.mark.timeout(240)
async def test_consultant_takes_a_call_with_an_interpreter_while_the_wallboard_follows(
    browser_engine: EngineProcess,
    phones: ConsultantUas,
    chromium: Browser,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    settings = browser_engine.env.settings
    base = f"http://{settings.http.host}:{settings.http.port}"
    secret = settings.http.demo_password_secret.get_secret_value()
    desk = await (
        await chromium.new_context(locale="ko-KR", viewport={"width": 1280, "height": 1000})
    ).new_page()
    wall = await (
        await chromium.new_context(locale="ko-KR", viewport={"width": 1280, "height": 1000})
    ).new_page()
    async with aiohttp.ClientSession() as http:
        s = Session(desk, wall, http, base, artifacts)
        login = {"user_id": "supervisor", "password": demo_password("supervisor", secret)}
        async with http.post(f"{base}/api/login", json=login) as response:
            s.token = (await response.json())["token"]
        await _sign_in(wall, f"{base}/wallboard", "supervisor", demo_password("supervisor", secret))
        await _sign_in(desk, f"{base}/desktop", CONSULTANT, demo_password(CONSULTANT, secret))
        state = desk.get_by_test_id("my-state")
        await expect(state).to_have_attribute("data-state", "logged_out")

        async def log_in() -> None:
            await desk.get_by_test_id("btn-acd-login").click()
            await expect(state).to_have_attribute("data-state", "not_ready")

        async def ready() -> None:
            await desk.get_by_test_id("btn-ready").click()
            await expect(state).to_have_attribute("data-state", "ready")

        await s.step("1-logged-in", log_in)
        await s.step("2-ready", ready)
        citizen = asyncio.create_task(_citizen_call(tmp_path))
        await s.step("3-screen-pop", lambda: _screen_pop(desk))
        await s.step("4-interpreter", lambda: _interpreter(desk))

        async def hang_up() -> None:
            await desk.get_by_test_id("btn-hangup").click()
            await expect(state).to_have_attribute("data-state", "wrap_up")
            await expect(desk.get_by_test_id("party")).to_have_count(0)

        async def wrap_up_done() -> None:
            await desk.get_by_test_id("btn-wrap-up-done").click()
            await expect(state).to_have_attribute("data-state", "ready")

        await s.step("5-hung-up", hang_up)
        await s.step("6-wrap-up-done", wrap_up_done)
        assert (await citizen).ok
        await expect(wall.get_by_test_id("kpi-waiting")).to_have_text("0")
        general = wall.locator('[data-testid="queue-row"][data-queue="general"] td').nth(4)
        await expect(general).to_have_text("1")  # answered today in the general queue
    (artifacts / "wallboard-delays.json").write_text(json.dumps(s.delays, indent=1))


async def _citizen_call(tmp_path: Path) -> object:
    spec = CitizenCalls(
        calls=1, digits=(Dtmf("1", 1500), Dtmf("1", 500)), hangup_after_ms=90_000, caller=CALLER
    )
    return await run_citizens(spec, tmp_path / "sipp" / "citizen")


async def _screen_pop(desk: Page) -> None:
    """The routed call rings the desktop's consultant (the phone answers): the screen pop."""
    await expect(desk.get_by_test_id("call-state")).to_have_attribute(
        "data-state", "talking", timeout=45_000
    )
    await expect(desk.get_by_test_id("pop-number")).to_have_text(f"{CALLER}1")
    await expect(desk.get_by_test_id("pop-language")).to_contain_text("(ko)")
    journey = desk.get_by_test_id("journey-step")
    await expect(journey.first).to_be_visible()
    assert await journey.count() >= 5  # welcome (with the notice), language choice, menu, route
    await expect(journey.filter(has_text="language")).not_to_have_count(0)
    parties = desk.get_by_test_id("party")
    await expect(parties).to_have_count(2)


async def _interpreter(desk: Page) -> None:
    # A voice call: the Korean Sign Language interpreter (video calls only) is not offered.
    await expect(desk.get_by_test_id("option-interpreter-sign")).to_be_disabled()
    await expect(desk.get_by_test_id("option-interpreter-sign")).to_have_attribute("hidden", "")
    await desk.get_by_test_id("select-interpreter-language").select_option("en")
    await desk.get_by_test_id("btn-add-interpreter").click()
    parties = desk.get_by_test_id("party")
    await expect(parties).to_have_count(3, timeout=20_000)
    for kind in ("citizen", "consultant", "interpreter"):
        party = desk.locator(f'[data-testid="party"][data-kind="{kind}"]')
        await expect(party).to_have_attribute("data-state", "connected", timeout=20_000)
