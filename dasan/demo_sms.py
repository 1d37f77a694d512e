"""The demo's text message: one citizen SMS through the real gateway, answered by a consultant.

``make demo`` starts the SMS gateway (``dasan sms up``: Kannel with fakesmsc as the carrier).
After the calls, the fake carrier delivers one Korean SMS from a citizen to 120; the engine
offers it to a consultant (the same routing core as calls); that consultant replies over
the engine's API, and the reply goes back out through Kannel (UCS-2) to the carrier.

Invariants:
- Runs only when the gateway is up with its carrier connected; otherwise it says why and
  reports nothing as done.
- What is reported comes from the system: the conversation list in the database (who holds
  it, how many messages) and the API's answer to the reply (it answers only once Kannel took
  the SMS).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from channels.listing import last_conversations
from channels.sms.kannel import Kannel
from common.storage import Storage
from cti.auth import demo_password
from dasan.config import Settings

SMS_FROM = "0101200007"
SMS_TEXT = "안녕하세요. 여권 재발급은 어디에서 신청하나요?"
SMS_REPLY = (
    "안녕하세요, 120다산콜센터입니다. 여권 재발급은 가까운 구청 민원실에서 신청하실 수 있습니다."
)


@dataclass
class DemoSms:
    sender: str = SMS_FROM
    conversation: str | None = None
    language: str | None = None
    consultant: str | None = None
    messages: int = 0
    replied: bool = False
    gateway_up: bool = True  # False: no gateway to show (`dasan sms up` was not run)
    skipped: str | None = None  # why nothing was (fully) shown

    @property
    def ok(self) -> bool:
        return self.skipped is None and self.replied

    def as_json(self) -> dict[str, Any]:
        return {
            "sms_from": self.sender,
            "conversation": self.conversation,
            "language": self.language,
            "consultant": self.consultant,
            "messages": self.messages,
            "replied": self.replied,
            "skipped": self.skipped,
        }


async def sms_round_trip(
    settings: Settings, say: Callable[[str], None], timeout_s: float = 30.0
) -> DemoSms:
    """Carrier -> Kannel -> engine -> consultant, then the consultant's reply back out."""
    result = DemoSms()
    kannel = Kannel(settings.channels.kannel, settings.state_dir)
    status = await asyncio.to_thread(kannel.status)
    if not (status["running"] and status["carrier_online"]):
        result.gateway_up = False
        result.skipped = "the SMS gateway is not running (`dasan sms up`)"
        say(f"SMS: skipped, {result.skipped}")
        return result
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    data = urllib.parse.quote_from_bytes(SMS_TEXT.encode("utf-16-be"))
    await asyncio.to_thread(kannel.inject, f"{SMS_FROM} 120 ucs2 {data}")
    say(f"SMS: the carrier (fakesmsc) sends one Korean SMS from {SMS_FROM} to 120")
    row = await _held(settings, since, timeout_s)
    if row is None:
        result.skipped = f"the SMS was not offered to a consultant within {timeout_s:.0f} s"
        say(f"SMS: {result.skipped}")
        return result
    result.conversation, result.language = row["id"], row["language"]
    result.consultant = row["consultant"]
    assert result.consultant is not None
    result.replied = await _reply(settings, result.consultant, row["id"])
    held = await _row(settings, row["id"])
    result.messages = int(held["messages"]) if held else 0
    return result


async def _rows(settings: Settings) -> list[dict[str, Any]]:
    storage = await Storage.open(settings.storage_url, migrate=False)
    try:
        return await last_conversations(storage, 20)
    finally:
        await storage.close()


async def _row(settings: Settings, conversation: str) -> dict[str, Any] | None:
    return next((r for r in await _rows(settings) if r["id"] == conversation), None)


async def _held(settings: Settings, since: dt.datetime, timeout_s: float) -> dict[str, Any] | None:
    """The SMS thread opened since ``since`` once a consultant holds it (None: timed out)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for row in await _rows(settings):
            started = dt.datetime.fromisoformat(str(row["started_at"]))
            if row["channel"] == "sms" and started >= since and row["consultant"]:
                return row
        await asyncio.sleep(0.5)
    return None


async def _reply(settings: Settings, consultant: str, conversation: str) -> bool:
    """The consultant answers from the desktop's API; True once the engine (and so Kannel)
    accepted the reply."""
    http = settings.http
    base = f"http://{http.host}:{http.port}"
    password = demo_password(consultant, http.demo_password_secret.get_secret_value())
    timeout = aiohttp.ClientTimeout(total=20)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        login = {"user_id": consultant, "password": password}
        async with session.post(f"{base}/api/login", json=login) as answer:
            if answer.status != 200:
                return False
            token = (await answer.json())["token"]
        headers = {"Authorization": f"Bearer {token}"}
        url = f"{base}/api/conversations/{conversation}/messages"
        async with session.post(url, json={"text": SMS_REPLY}, headers=headers) as answer:
            return 200 <= answer.status < 300
