"""SMS through a real Kannel per second (issue 14): out through sendsms, in through get-url.

Kannel (bearerbox, smsbox, fakesmsc as the carrier) on loopback, generated like ``dasan sms
up``. Out: ``OUT`` Korean SMS (UCS-2, one part) sent through ``SmsGateway.send`` with 20 in
flight (each written to the outbox first); measured: accepted by Kannel per second, and received
by the carrier per second (counted in its log). In: ``IN`` UCS-2 SMS injected by the carrier to
a tiny HTTP receiver standing in for the engine's get-url; measured: delivered per second.

Output: benchmarks/results/sms_kannel.json. Run: ``python -m benchmarks.sms_kannel``.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import tempfile
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from channels.settings import KannelSettings
from channels.sms.gateway import SmsGateway
from channels.sms.kannel import Kannel
from common.storage import Storage
from recordings.keys import KeyRing, NumberProtector

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "sms_kannel.json"
OUT = 300
IN = 300
ENGINE_PORT = 18122


async def _count(items: list[float]) -> int:
    return len(items)


async def _until(count: Callable[[], Awaitable[int]], wanted: int, within_s: float = 120) -> None:
    """Poll ``count`` until it reaches ``wanted`` or the deadline passes."""
    deadline = time.monotonic() + within_s
    while True:
        if await count() >= wanted or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.1)


async def _carrier_count(kannel: Kannel) -> int:
    text = await asyncio.to_thread(kannel.paths.log("carrier").read_text, errors="replace")
    return text.count("Got message")


async def _outbound(kannel: Kannel, gateway: SmsGateway) -> dict[str, float]:
    limit = asyncio.Semaphore(20)

    async def one(n: int) -> None:
        async with limit:
            await gateway.send(f"0105{n:07d}", f"120다산콜센터 안내 {n}번", purpose="bench")

    begin = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(OUT)))
    accepted = time.perf_counter() - begin
    await _until(lambda: _carrier_count(kannel), OUT)
    received = time.perf_counter() - begin
    return {
        "sent": OUT,
        "accepted_per_s": round(OUT / accepted, 1),
        "carrier_received": await _carrier_count(kannel),
        "carrier_received_per_s": round(OUT / received, 1),
    }


async def _inbound(kannel: Kannel) -> dict[str, float]:
    got: list[float] = []

    async def receive(request: web.Request) -> web.Response:
        got.append(time.perf_counter())
        return web.Response(status=202)

    app = web.Application()
    app.router.add_get("/api/sms/inbound", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", ENGINE_PORT).start()
    try:
        data = urllib.parse.quote_from_bytes("버스 문의".encode("utf-16-be"))
        begin = time.perf_counter()
        for n in range(IN):
            await asyncio.to_thread(kannel.inject, f"0106{n:07d} 120 ucs2 {data}")
        await _until(lambda: _count(got), IN)
        took = (got[-1] if got else time.perf_counter()) - begin
    finally:
        await runner.cleanup()
    return {"injected": IN, "delivered": len(got), "delivered_per_s": round(len(got) / took, 1)}


async def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = KannelSettings(engine_url=f"http://127.0.0.1:{ENGINE_PORT}")
        kannel = Kannel(cfg, Path(tmp))
        await asyncio.to_thread(kannel.up)
        storage = await Storage.open(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}")
        gateway = SmsGateway(cfg, storage, NumberProtector(KeyRing.generate()))
        try:
            outbound = await _outbound(kannel, gateway)
            inbound = await _inbound(kannel)
        finally:
            await gateway.close()
            await storage.close()
            await asyncio.to_thread(kannel.down)
    return {
        "benchmark": "sms_kannel",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "outbound": outbound,
        "inbound": inbound,
    }


if __name__ == "__main__":
    result = asyncio.run(main())
    RESULTS.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))
