"""Live suggestions (agent assist, issue 16) in a real browser against a real engine, PBX and
SIPp call: the knowledge base holds the generated corpus; a citizen's Korean call reaches the
consultant signed in on /desktop, and the citizen's audio (espeak-ng Korean, streamed as G.711
by SIPp for the whole call) asks about the bus transfer discount; the speech workers transcribe
the call's recording as the PBX writes it and the desktop shows a bus transfer discount case
among the cases for what was just said. The consultant marks it helped, and the case's helped
count (which feeds ranking) goes up.

The consultants' phone streams silence here: the recording mixes both sides, and a consultant
talking over the citizen the whole time (the shipped clip) is not a conversation. How fast the
suggestion comes is measured in ``benchmarks/assist_latency.py``, never asserted here.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from cti.auth import demo_password
from dasan.sipp import CitizenCalls, ConsultantUas, Dtmf, run_citizens
from tests.integration.support import EngineProcess, ItEnv, dasan_json

CONSULTANT = "c0001"
CALLER = "0103100"
QUESTION = "버스 환승 할인 신청 방법"  # espeak-ng, read slowly
TOPIC = "버스 환승 할인"


def _ulaw(folder: Path, name: str, *sox_input: str, effects: tuple[str, ...] = ()) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{name}-ulaw.wav"
    cmd = ["sox", *sox_input, "-r", "8000", "-c", "1", "-e", "u-law", str(out), *effects]
    subprocess.run(cmd, check=True, capture_output=True)
    return out


def question_audio(folder: Path) -> Path:
    """The question, then 2.5 s of quiet (the recognizer's end of utterance), looped by SIPp."""
    raw = folder / "question-raw.wav"
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["espeak-ng", "-v", "ko", "-s", "120", "-w", str(raw), QUESTION],
        check=True,
        capture_output=True,
    )
    return _ulaw(folder, "question", str(raw), effects=("pad", "0.5", "2.5"))


@pytest.fixture(scope="module", autouse=True)
def corpus_loaded(browser_env: ItEnv) -> None:
    """The generated knowledge base (about 17,000 cases) in the engine's database, before
    the engine starts (autouse: set up before the module's other fixtures)."""
    assert int(dasan_json(browser_env, "kb", "generate")["cases"]) >= 15_000


@pytest.fixture
async def quiet_phones(tmp_path: Path) -> AsyncIterator[ConsultantUas]:
    """Every consultant's phone (5090): answers after 0.3 s, listens (streams silence)."""
    silence = _ulaw(tmp_path / "media", "silence", "-n", effects=("trim", "0", "5"))
    uas = ConsultantUas(tmp_path / "sipp" / "phones", ring_ms=300, talk_ms=60_000, audio=silence)
    await uas.start()
    yield uas
    await uas.stop()


async def _sign_in_ready(desk: Page, base: str, secret: str) -> None:
    await desk.goto(f"{base}/desktop")
    await desk.get_by_test_id("login-user").fill(CONSULTANT)
    await desk.get_by_test_id("login-password").fill(demo_password(CONSULTANT, secret))
    await desk.get_by_test_id("login-submit").click()
    await expect(desk.get_by_test_id("connection")).to_have_attribute("data-status", "live")
    state = desk.get_by_test_id("my-state")
    await expect(state).to_have_attribute("data-state", "logged_out")
    await desk.get_by_test_id("btn-acd-login").click()
    await expect(state).to_have_attribute("data-state", "not_ready")
    await desk.get_by_test_id("btn-ready").click()
    await expect(state).to_have_attribute("data-state", "ready")


async def _helped_count(desk: Page, case_id: str) -> int:
    script = """async (id) => {
      const { api } = await import("/static/common.js");
      return (await api("GET", `/api/kb/cases/${id}`)).helped;
    }"""
    return int(await desk.evaluate(script, case_id))


@pytest.mark.timeout(420)
async def test_what_the_citizen_asks_brings_a_matching_case_to_the_desktop(
    browser_engine: EngineProcess,
    quiet_phones: ConsultantUas,
    chromium: Browser,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    settings = browser_engine.env.settings
    base = f"http://{settings.http.host}:{settings.http.port}"
    secret = settings.http.demo_password_secret.get_secret_value()
    context = await chromium.new_context(locale="ko-KR", viewport={"width": 1280, "height": 1100})
    desk = await context.new_page()
    await _sign_in_ready(desk, base, secret)

    spec = CitizenCalls(
        calls=1,
        digits=(Dtmf("1", 1500), Dtmf("3", 500)),
        hangup_after_ms=90_000,
        caller=CALLER,
        audio=question_audio(tmp_path / "media"),
    )
    call = asyncio.create_task(run_citizens(spec, tmp_path / "sipp" / "citizen"))
    await expect(desk.get_by_test_id("call-state")).to_have_attribute(
        "data-state", "talking", timeout=60_000
    )
    matching = desk.get_by_test_id("kb-live-case").filter(has_text=TOPIC).first
    try:
        await expect(matching).to_be_visible(timeout=60_000)
    finally:
        await desk.screenshot(path=artifacts / "assist-0-suggestions.png", full_page=True)
    heard = await desk.get_by_test_id("kb-heard").text_content()
    print(f"heard: {heard!r}")  # shown with -rP

    case_id = await matching.get_attribute("data-case-id")
    assert case_id is not None
    before = await _helped_count(desk, case_id)
    # The list is redrawn at every utterance (the audio loops): click by case id.
    shown = desk.locator(f'[data-testid="kb-live-case"][data-case-id="{case_id}"]').first
    await shown.get_by_test_id("kb-live-case-helped").click()
    async with asyncio.timeout(10):
        while await _helped_count(desk, case_id) != before + 1:  # noqa: ASYNC110 - polling the API
            await asyncio.sleep(0.2)

    await desk.get_by_test_id("btn-hangup").click()
    await expect(desk.get_by_test_id("my-state")).to_have_attribute("data-state", "wrap_up")
    assert (await call).ok
    await context.close()
