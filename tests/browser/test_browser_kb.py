"""The knowledge base in a real browser against a real engine, PBX and SIPp calls: a
supervisor writes a case on /kb and an admin publishes it (four eyes); a citizen's real call
routed to the documents service pops on the consultant's desktop with that case among the
suggested cases before a word is said; the consultant writes a disposition and a note; the
next call from the same number shows the note in the caller's earlier notes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from cti.auth import demo_password
from dasan.sipp import CitizenCalls, ConsultantUas, Dtmf, SippResult, run_citizens
from tests.integration.support import EngineProcess

CONSULTANT = "c0001"
CALLER = "0103000"  # SIPp appends its call number: each run's first call comes from 01030001
NOTE = "여권 재발급 서류 안내, 사진 규격 다시 확인 후 재방문 예정"


async def _sign_in(page: Page, url: str, user: str, secret: str) -> None:
    await page.goto(url)
    await page.get_by_test_id("login-user").fill(user)
    await page.get_by_test_id("login-password").fill(demo_password(user, secret))
    await page.get_by_test_id("login-submit").click()


async def _write_and_publish(editor: Page, reviewer: Page, base: str, secret: str) -> None:
    await _sign_in(editor, f"{base}/kb", "supervisor", secret)
    await editor.get_by_test_id("f-title").fill("여권 재발급 신청 방법")
    await editor.get_by_test_id("f-question").fill("여권을 재발급받으려면 무엇을 준비하나요?")
    await editor.get_by_test_id("f-answer").fill(
        "구청 민원여권과에 신분증과 사진 1매를 가져오세요."
    )
    await editor.get_by_test_id("f-service").fill("passport")
    await editor.get_by_test_id("f-tags").fill("여권|재발급|서류")
    await editor.get_by_test_id("f-department").fill("서울시 여권과")
    await editor.get_by_test_id("f-save").click()
    await expect(editor.get_by_test_id("version")).to_have_count(1)
    await editor.get_by_test_id("btn-submit").click()
    await expect(editor.get_by_test_id("version").first).to_contain_text("review")
    await _sign_in(reviewer, f"{base}/kb", "admin", secret)
    await reviewer.get_by_test_id("queue-review").get_by_test_id("queue-item").first.click()
    await reviewer.get_by_test_id("review-comment").fill("확인했습니다")
    await reviewer.get_by_test_id("btn-publish").click()
    await expect(reviewer.get_by_test_id("version").first).to_contain_text("published")


async def _call(tmp_path: Path, name: str) -> SippResult:
    spec = CitizenCalls(
        calls=1, digits=(Dtmf("1", 1500), Dtmf("3", 500)), hangup_after_ms=90_000, caller=CALLER
    )
    return await run_citizens(spec, tmp_path / "sipp" / name)


async def _ready(desk: Page) -> None:
    await expect(desk.get_by_test_id("connection")).to_have_attribute("data-status", "live")
    state = desk.get_by_test_id("my-state")
    await expect(state).to_have_attribute("data-state", "logged_out")
    await desk.get_by_test_id("btn-acd-login").click()
    await expect(state).to_have_attribute("data-state", "not_ready")
    await desk.get_by_test_id("btn-ready").click()
    await expect(state).to_have_attribute("data-state", "ready")


@pytest.mark.timeout(300)
async def test_published_case_pops_and_the_note_follows_the_caller(
    browser_engine: EngineProcess,
    phones: ConsultantUas,
    chromium: Browser,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    settings = browser_engine.env.settings
    base = f"http://{settings.http.host}:{settings.http.port}"
    secret = settings.http.demo_password_secret.get_secret_value()
    pages = [
        await (
            await chromium.new_context(locale="ko-KR", viewport={"width": 1280, "height": 1100})
        ).new_page()
        for _ in range(3)
    ]
    editor, reviewer, desk = pages
    await _write_and_publish(editor, reviewer, base, secret)

    await _sign_in(desk, f"{base}/desktop", CONSULTANT, secret)
    await _ready(desk)
    first = asyncio.create_task(_call(tmp_path, "first"))
    await expect(desk.get_by_test_id("call-state")).to_have_attribute(
        "data-state", "talking", timeout=45_000
    )
    cases = desk.get_by_test_id("kb-case")
    try:
        await expect(cases.filter(has_text="여권 재발급 신청 방법")).to_have_count(
            1, timeout=10_000
        )
    finally:
        await desk.screenshot(path=artifacts / "kb-0-cases.png", full_page=True)
    await desk.screenshot(path=artifacts / "kb-1-screen-pop.png", full_page=True)
    await desk.get_by_test_id("kb-disposition").select_option("callback")
    await desk.get_by_test_id("kb-note").fill(NOTE)
    await desk.get_by_test_id("kb-save").click()
    await expect(desk.get_by_test_id("kb-history-note").filter(has_text=NOTE)).to_have_count(1)
    await desk.get_by_test_id("btn-hangup").click()
    await expect(desk.get_by_test_id("my-state")).to_have_attribute("data-state", "wrap_up")
    await desk.get_by_test_id("btn-wrap-up-done").click()
    await expect(desk.get_by_test_id("my-state")).to_have_attribute("data-state", "ready")
    assert (await first).ok

    second = asyncio.create_task(_call(tmp_path, "second"))
    await expect(desk.get_by_test_id("call-state")).to_have_attribute(
        "data-state", "talking", timeout=45_000
    )
    shown = desk.get_by_test_id("kb-history-note").filter(has_text=NOTE)
    try:
        await expect(shown).to_have_count(1, timeout=20_000)
        await expect(shown).to_contain_text("callback")
    finally:
        await desk.screenshot(path=artifacts / "kb-2-next-call.png", full_page=True)
    await desk.get_by_test_id("btn-hangup").click()
    await expect(desk.get_by_test_id("my-state")).to_have_attribute("data-state", "wrap_up")
    assert (await second).ok
