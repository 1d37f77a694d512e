"""Chat in the browser: a citizen chats in Korean on /chat, a consultant answers on /desktop.

The chat page passes axe-core's WCAG 2.2 AA rules (axe shipped in the dev extra's wheel, not
fetched), is used by keyboard only (Tab, Enter), keeps the conversation across a reload, and
shows markup sent in a message as inert text. The conversation is then listed by
`dasan conversations --json` with its sealed transcript in the catalog and the audit passes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, expect

from cti.auth import demo_password
from tests.integration.support import (
    REPO,
    EngineProcess,
    ItEnv,
    create_database,
    dasan_json,
    drop_database,
    port_open,
    write_config,
)

CONSULTANT = "c0001"
QUESTION = "안녕하세요. 주차 단속 문의드립니다."
ANSWER = "네, 어느 구에서 단속되셨나요?"
MARKUP = '<img src="x" onerror="window.pwned=1"><b>굵게</b>'
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture(scope="module")
def browser_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ItEnv]:
    """This module's installation: c0001 ready at start, chat open whatever the hour."""
    if not (REPO / "var" / "prompts").is_dir():
        raise pytest.UsageError("prompts are not built: run `make prompts` (make test does)")
    for port in (5060, 5038, 8120):
        if port_open("127.0.0.1", port):
            raise pytest.UsageError(f"127.0.0.1:{port} is taken: run the browser tier alone")
    root = tmp_path_factory.mktemp("dasan-browser-chat")
    database = create_database("dasan_browser_chat")
    extra = f'[acd]\nlogged_in = ["{CONSULTANT}"]\n[channels]\nhours_service = "telephone"'
    config = write_config(root, database, root / "recordings", extra_toml=extra)
    yield ItEnv(root=root, config_path=config, database=database)
    drop_database(database)


async def _axe_clean(page: Page, what: str) -> None:
    results = await Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG}})
    assert results.violations_count == 0, f"{what}:\n{results.generate_report()}"


async def _desk(chromium: Browser, base: str, secret: str) -> Page:
    page = await (await chromium.new_context(locale="ko-KR")).new_page()
    await page.goto(f"{base}/desktop")
    await page.get_by_test_id("login-user").fill(CONSULTANT)
    await page.get_by_test_id("login-password").fill(demo_password(CONSULTANT, secret))
    await page.get_by_test_id("login-submit").click()
    await expect(page.get_by_test_id("desktop")).to_be_visible()
    return page


async def test_citizen_chats_in_korean_and_a_consultant_answers_on_the_desktop(
    browser_engine: EngineProcess, chromium: Browser, artifacts: Path
) -> None:
    env = browser_engine.env
    settings = env.settings
    base = f"http://{settings.http.host}:{settings.http.port}"
    secret = settings.http.demo_password_secret.get_secret_value()
    citizen = await (await chromium.new_context(locale="ko-KR")).new_page()
    await citizen.goto(f"{base}/chat")
    await expect(citizen.locator("h1")).to_have_text("120다산콜센터 채팅 상담")
    assert await citizen.evaluate("document.documentElement.lang") == "ko"
    await _axe_clean(citizen, "chat page before the chat")

    # Keyboard only: Tab to the start button, Enter; type, Enter sends.
    await citizen.get_by_role("button", name="채팅 시작").focus()
    await citizen.keyboard.press("Enter")
    box = citizen.get_by_label("메시지")
    await expect(box).to_be_focused()
    await box.type(QUESTION)
    await citizen.keyboard.press("Enter")
    log = citizen.get_by_role("log")
    await expect(log.locator("li.citizen")).to_contain_text(QUESTION)

    desk = await _desk(chromium, base, secret)
    thread = desk.get_by_test_id("thread")
    await expect(thread).to_contain_text(QUESTION, timeout=20_000)
    await expect(log.locator("li.citizen .receipt").first).to_have_text("읽음")
    await box.type("추가 질문")  # typing shows on the desk
    await expect(thread.get_by_role("status")).to_have_text("시민이 입력 중…")
    await box.fill("")
    await thread.get_by_test_id("chat-reply").fill(ANSWER)
    await thread.get_by_test_id("chat-send").click()
    await expect(log.locator("li.consultant")).to_contain_text(ANSWER)

    # Markup in a message stays text on both sides.
    await box.fill(MARKUP)
    await citizen.keyboard.press("Enter")
    await expect(thread).to_contain_text(MARKUP)
    assert await desk.locator("[data-testid=thread] img").count() == 0
    assert await citizen.locator("#log img").count() == 0
    assert await desk.evaluate("window.pwned") is None

    await citizen.get_by_role("button", name="큰 글씨").click()
    await _axe_clean(citizen, "chat page during the chat, large text")
    await citizen.screenshot(path=str(artifacts / "chat-citizen.png"))
    await desk.screenshot(path=str(artifacts / "chat-desktop.png"), full_page=True)

    await citizen.reload()
    await expect(log.locator("li")).to_have_count(3, timeout=15_000)
    await expect(log).to_contain_text(QUESTION)
    await expect(log).to_contain_text(ANSWER)

    await thread.get_by_test_id("chat-end").click()
    await expect(citizen.get_by_role("log")).to_contain_text("대화가 끝났습니다")
    with contextlib.suppress(Exception):
        await citizen.context.close()
    rows = dasan_json(env, "conversations", "--last", "5")
    (chat,) = [r for r in rows if r["channel"] == "chat"]
    assert (chat["language"], chat["consultant"], chat["messages"]) == ("ko", CONSULTANT, 3)
    assert chat["record"]["format"] == "jsonl" and chat["record"]["encrypted"] is True
    report = dasan_json(env, "recordings", "audit")
    assert report["ok"], report["gaps"]
    assert report["hashes_verified"] >= 1
