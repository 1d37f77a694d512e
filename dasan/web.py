"""The HTTP edge of the running engine (127.0.0.1:8120): API, WebSocket, pages, OpenAPI.

Being replaced by the full CTI wiring (cti.web.create_app over the real ContactCenter);
until then it serves only /healthz so the engine's readiness can be probed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from dasan.app import Engine


async def start_web(engine: Engine) -> web.AppRunner:
    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, engine.settings.http.host, engine.settings.http.port)
    await site.start()
    return runner
