"""SMS through a real Kannel: fakesmsc plays the carrier, a consultant answers in Korean.

Done-when items proven here: an SMS sent by fakesmsc reaches a consultant and the Korean reply
(long enough to need concatenated UCS-2 parts) comes back through Kannel to fakesmsc with its
delivery reports kept; an engine killed mid-exchange loses no message (Kannel retries its
get-url until the new engine answers); opt-out is honored; the transcript lands in the catalog
and the audit passes.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from sqlalchemy import func, select

from channels.models import SmsDeliveryReportRow, SmsOutboxRow
from channels.protect import TextSealer
from channels.sms.codec import SmsRefused
from channels.sms.gateway import SmsGateway
from channels.sms.kannel import Kannel
from common.storage import Storage
from recordings.keys import load_key_ring
from recordings.layout import key_file
from tests.integration.channels.helpers import carrier_says, held_sms, mine, received_by
from tests.integration.cti.helpers import HttpUser
from tests.integration.support import EngineProcess, ItEnv, dasan_json, eventually

CITIZEN = "01055550001"
QUESTION = "안녕하세요. 472번 버스 노선이 바뀌었나요?"
REPLY = (
    "안녕하세요, 120다산콜센터입니다. 문의하신 472번 버스는 이번 달부터 신사역을 지나지 않고 "
    "논현역으로 돌아갑니다. 자세한 노선은 서울교통포털에서 확인하실 수 있습니다."
)


async def _dlr_count(storage: Storage) -> tuple[int, int]:
    async with storage.session() as session:
        sent = await session.scalar(select(func.count()).select_from(SmsOutboxRow))
        reports = await session.scalar(select(func.count()).select_from(SmsDeliveryReportRow))
    return int(sent or 0), int(reports or 0)


async def test_sms_round_trip_in_korean_survives_an_engine_restart(
    kannel: Kannel, web_engine: EngineProcess, it_env: ItEnv, http: aiohttp.ClientSession
) -> None:
    env = it_env
    carrier_says(kannel, CITIZEN, QUESTION)
    row = await held_sms(env, lambda r: r["channel"] == "sms" and not r["ended_at"])
    consultant = await HttpUser(http, env.settings, row["consultant"]).login()
    (thread,) = [t for t in await mine(consultant) if t["id"] == row["id"]]
    assert [m["text"] for m in thread["messages"]] == [QUESTION]
    assert thread["language"] == "ko"

    await consultant.ok("POST", f"/api/conversations/{row['id']}/messages", {"text": REPLY})
    got = await eventually(
        lambda: _async(received_by(kannel, CITIZEN)), lambda texts: REPLY in texts, 30, "the reply"
    )
    assert REPLY in got

    # The engine dies mid-exchange; the citizen writes meanwhile; nothing is lost.
    web_engine.kill()
    carrier_says(kannel, CITIZEN, "노선도는 어디서 받을 수 있나요?")
    web_engine.start()
    # A fresh client: the old one's pooled connections went down with the engine.
    async with aiohttp.ClientSession() as fresh:
        await _after_restart(kannel, env, fresh, row)


async def _after_restart(
    kannel: Kannel, env: ItEnv, http: aiohttp.ClientSession, row: dict[str, Any]
) -> None:
    consultant = await HttpUser(http, env.settings, row["consultant"]).login()

    async def texts() -> list[str]:
        views = [t for t in await mine(consultant) if t["id"] == row["id"]]
        return [m["text"] for m in views[0]["messages"]] if views else []

    seen = await eventually(texts, lambda t: len(t) == 3, 60, "the message sent while down")
    assert seen == [QUESTION, REPLY, "노선도는 어디서 받을 수 있나요?"]

    storage = await Storage.open(env.settings.storage_url)
    try:
        await eventually(lambda: _dlr_count(storage), lambda c: c[0] >= 1 and c[1] >= 1, 30, "DLRs")
    finally:
        await storage.close()

    await consultant.ok("POST", f"/api/conversations/{row['id']}/end")
    listed = next(
        r for r in dasan_json(env, "conversations", "--last", "10") if r["id"] == row["id"]
    )
    assert listed["record"]["format"] == "jsonl" and listed["record"]["encrypted"] is True
    report = dasan_json(env, "recordings", "audit")
    assert report["ok"], report["gaps"]


async def test_opt_out_is_honored(kannel: Kannel, web_engine: EngineProcess, it_env: ItEnv) -> None:
    number = "01055550002"
    carrier_says(kannel, number, "수신거부")
    await eventually(
        lambda: _async(received_by(kannel, number)),
        lambda texts: any("수신이 거부" in t for t in texts),
        30,
        "the opt-out confirmation",
    )
    settings = it_env.settings
    storage = await Storage.open(settings.storage_url)
    sealer = TextSealer(load_key_ring(key_file(settings)))
    gateway = SmsGateway(settings.channels.kannel, storage, sealer.numbers)
    try:
        refused: SmsRefused | None = None
        try:
            await gateway.send(number, "안내 문자입니다", purpose="notice")
        except SmsRefused as exc:
            refused = exc
        assert refused is not None and refused.reason == "opted_out"
        assert await gateway.send("01055550003", "안내 문자입니다", purpose="notice") > 0
    finally:
        await gateway.close()
        await storage.close()


async def _async(value: Any) -> Any:
    return value
