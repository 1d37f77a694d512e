"""129 end to end: a citizen dials 129 (SIPp), a consultant with the care129 skill takes the
call, creates a ticket through the API the desktop uses (prefilled from the call), it lands in
the district's department; the official signs in on /officials in Chromium, accepts and
resolves it; the citizen's updates become recorded call-back requests (no SMS claimed), and
the ticket's timeline holds the call, the routing, the official's steps and the updates.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, expect

from care.officials import set_official
from care.rules import load_rules
from common.storage import Storage
from cti.auth import demo_password
from dasan.sipp import CitizenCalls, ConsultantUas, Dtmf, run_citizens
from tests.integration.support import EngineProcess

CONSULTANT = "c0007"  # Korean, care129 proficiency 4
OFFICIAL = "kim.gangnam"
OFFICIAL_PASSWORD = "official-pass-129"
CALLER = "0103000"


async def _token(http: aiohttp.ClientSession, base: str, user: str, password: str) -> str:
    async with http.post(f"{base}/api/login", json={"user_id": user, "password": password}) as r:
        assert r.status == 200, await r.text()
        token: str = (await r.json())["token"]
        return token


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _talking_call(http: aiohttp.ClientSession, base: str, token: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        async with http.get(f"{base}/api/calls", headers=_auth(token)) as r:
            calls: list[dict[str, Any]] = await r.json()
        for call in calls:
            if call.get("consultant_id") == CONSULTANT and call.get("state") == "talking":
                return str(call["call_id"])
        await asyncio.sleep(0.5)  # poll interval, bounded by the deadline
    raise AssertionError(f"no call reached {CONSULTANT} within 60 s")


@pytest.mark.timeout(240)
async def test_129_ticket_reaches_the_district_and_the_citizen_hears_back(
    browser_engine: EngineProcess,
    phones: ConsultantUas,
    chromium: Browser,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    settings = browser_engine.env.settings
    base = f"http://{settings.http.host}:{settings.http.port}"
    secret = settings.http.demo_password_secret.get_secret_value()
    storage = await Storage.open(settings.storage_url)
    try:
        await set_official(storage, load_rules(), OFFICIAL, "gangnam.construction")
    finally:
        await storage.close()
    async with aiohttp.ClientSession() as http:
        admin = await _token(http, base, "admin", demo_password("admin", secret))
        body = {"user_id": OFFICIAL, "role": "official", "password": OFFICIAL_PASSWORD}
        async with http.post(f"{base}/api/users", json=body, headers=_auth(admin)) as r:
            assert r.status in (200, 201), await r.text()
        supervisor = await _token(http, base, "supervisor", demo_password("supervisor", secret))
        for step in ("login", "ready"):
            url = f"{base}/api/consultants/{CONSULTANT}/{step}"
            async with http.post(url, headers=_auth(supervisor)) as r:
                assert r.status < 300, await r.text()
        spec = CitizenCalls(
            calls=1, digits=(Dtmf("1", 1500),), hangup_after_ms=60_000, caller=CALLER, service="129"
        )
        citizen = asyncio.create_task(run_citizens(spec, tmp_path / "sipp" / "citizen"))
        call_id = await _talking_call(http, base, supervisor)

        consultant = await _token(http, base, CONSULTANT, demo_password(CONSULTANT, secret))
        ticket_body = {
            "call_id": call_id,
            "category": "road",
            "district": "gangnam",
            "address": "테헤란로 152 앞 횡단보도",
            "description": "도로에 깊은 구멍이 있어 위험합니다",
            "urgency": "high",
            "consent": True,
        }
        async with http.post(
            f"{base}/api/care/tickets", json=ticket_body, headers=_auth(consultant)
        ) as r:
            assert r.status == 201, await r.text()
            ticket = await r.json()
        assert (ticket["department"], ticket["language"]) == ("gangnam.construction", "ko")

        page = await (await chromium.new_context(locale="ko-KR")).new_page()
        await page.goto(f"{base}/officials")
        await page.locator("#user").fill(OFFICIAL)
        await page.locator("#password").fill(OFFICIAL_PASSWORD)
        await page.locator("#login button[type=submit]").click()
        row = page.locator(f'#queue tr[data-ticket="{ticket["id"]}"]')
        await expect(row).to_be_visible()
        await row.click()
        await page.locator("#accept").click()
        await expect(page.locator('#timeline li[data-kind="accepted"]')).to_have_count(1)
        await page.locator("#note").fill("보수 공사를 마쳤습니다")
        await page.locator("#resolve").click()
        await expect(page.locator('#timeline li[data-kind="resolved"]')).to_have_count(1)
        await page.screenshot(path=artifacts / "officials-resolved.png", full_page=True)

        async with http.get(
            f"{base}/api/care/tickets/{ticket['id']}", headers=_auth(supervisor)
        ) as r:
            detail = await r.json()
        assert detail["ticket"]["status"] == "resolved"
        kinds = [e["kind"] for e in detail["timeline"]]
        for kind in ("created", "call", "routed", "accepted", "resolved", "notification"):
            assert kind in kinds, kinds
        assert any(e["call_id"] == call_id for e in detail["timeline"])
        states = [n["state"] for n in detail["notifications"]]
        assert states == ["callback-requested", "callback-requested"]
        async with http.get(f"{base}/api/care/callbacks", headers=_auth(supervisor)) as r:
            requests = [c for c in await r.json() if c["ticket_id"] == ticket["id"]]
        assert [c["kind"] for c in requests] == ["ticket-update", "ticket-update"]
        assert all(c["number_tail"] == "…01" for c in requests)  # SIPp's caller 01030001
        assert (await citizen).ok
