"""Chat delivery latency with 300 concurrent chats (issue 14), in one process.

The real web edge of the text channels (``channels.web.ChannelRoutes``) on aiohttp, the real
store (SQLite, WAL, every message sealed and committed before it is relayed; messages
arriving together share one transaction), the real ACD
driver with the shipped roster: 300 citizens start a chat and open their WebSocket, routing
gives them out (at most 3 per consultant), each holding consultant opens the desk socket, then
every citizen sends ``MESSAGES`` messages (one after the other, all citizens at once). Measured:
from the citizen's send to the message event on the consultant's socket, p50/p99/max.

Output: benchmarks/results/chat_delivery.json. Run: ``python -m benchmarks.chat_delivery``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from acd.driver import AcdDriver
from acd.settings import AcdSettings
from channels.acd_link import AcdLink
from channels.conversations import Conversations
from channels.protect import TextSealer
from channels.service import ChannelsService
from channels.settings import ChannelsSettings
from channels.store import ConversationStore
from channels.web import ChannelRoutes
from common.principal import Principal, Role
from common.storage import Storage
from recordings.catalog import Catalog
from recordings.keys import KeyRing

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "chat_delivery.json"
CHATS = 300
MESSAGES = 5
PORT = 18121


async def _auth(token: str, origin: str) -> Principal | None:
    return Principal(token, Role.CONSULTANT, origin) if token.startswith("c") else None


async def _start(folder: Path) -> tuple[ChannelsService, web.AppRunner, Storage, AcdDriver]:
    storage = await Storage.open(f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}")
    ring = KeyRing.generate()
    store = ConversationStore(storage, TextSealer(ring))
    driver = AcdDriver(AcdSettings(), None)
    driver.log_in_roster()
    settings = ChannelsSettings(max_messages_per_minute=1000)
    conversations = Conversations(store, Catalog(storage), folder / "spool", ring)
    service = ChannelsService(settings, conversations, AcdLink(driver))
    app = web.Application()
    app.router.add_routes([r for r, _a in ChannelRoutes(service, _auth).route_defs()])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", PORT).start()
    return service, runner, storage, driver


async def _citizen(http: aiohttp.ClientSession) -> tuple[str, aiohttp.ClientWebSocketResponse]:
    base = f"127.0.0.1:{PORT}"
    async with http.post(f"http://{base}/api/chat/start", json={"language": "ko"}) as answer:
        body = await answer.json()
    ws = await http.ws_connect(f"ws://{base}/api/chat/ws", max_msg_size=0)
    await ws.send_json({"type": "auth", "token": body["token"]})
    await ws.receive_json()
    return str(body["conversation"]["id"]), ws


async def _desk(
    http: aiohttp.ClientSession,
    consultant: str,
    sent: dict[str, float],
    lat: list[float],
    done: asyncio.Event,
) -> asyncio.Task[None]:
    ws = await http.ws_connect(f"ws://127.0.0.1:{PORT}/api/conversations/ws", max_msg_size=0)
    await ws.send_json({"type": "auth", "token": consultant})
    await ws.receive_json()

    async def read() -> None:
        async for msg in ws:
            event = json.loads(msg.data)
            if event.get("type") == "message":
                started = sent.pop(event["message"]["text"], None)
                if started is not None:
                    lat.append(time.perf_counter() - started)
                    if len(lat) >= CHATS * MESSAGES:
                        done.set()

    return asyncio.create_task(read())


async def _talk(ws: aiohttp.ClientWebSocketResponse, conv: str, sent: dict[str, float]) -> None:
    for n in range(MESSAGES):
        text = f"{conv} 질문 {n}: 버스 노선이 바뀌었나요?"
        sent[text] = time.perf_counter()
        await ws.send_json({"type": "message", "text": text, "ref": f"{conv}-{n}"})
        while (await ws.receive_json()).get("type") != "ack":
            pass


async def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        service, runner, storage, driver = await _start(Path(tmp))
        sent: dict[str, float] = {}
        lat: list[float] = []
        done = asyncio.Event()
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
                citizens = [await _citizen(http) for _ in range(CHATS)]
                await service.route_pending()
                holders = sorted({c for c in driver.state.agents if service.holding(c)})
                readers = [await _desk(http, c, sent, lat, done) for c in holders]
                begin = time.perf_counter()
                await asyncio.gather(*(_talk(ws, conv, sent) for conv, ws in citizens))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), 30)
                wall = time.perf_counter() - begin
                for task in readers:
                    task.cancel()
                for _conv, ws in citizens:
                    await ws.close()
        finally:
            await runner.cleanup()
            await storage.close()
            driver.close()
    ms = sorted(x * 1000 for x in lat)
    return {
        "benchmark": "chat_delivery",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "chats": CHATS,
        "consultants": len(holders),
        "messages": CHATS * MESSAGES,
        "delivered": len(ms),
        "storage": "sqlite (WAL), messages sealed, group-committed (one transaction per batch) before relay",
        "latency_ms": {
            "p50": round(statistics.median(ms), 1),
            "p99": round(ms[int(len(ms) * 0.99) - 1], 1),
            "max": round(ms[-1], 1),
        },
        "messages_per_s": round(len(ms) / wall, 1),
    }


if __name__ == "__main__":
    result = asyncio.run(main())
    RESULTS.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1, ensure_ascii=False))
