"""Running the web app on a socket until cancelled, with an access log that never shows queries.

Invariants: the access log names method, route path, status and time but never the query
string (a WebSocket may carry its token there); the runner is always cleaned up, also on
cancellation, so the port is free when ``serve`` returns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest

log = logging.getLogger("dasan.http")


class PathOnlyAccessLogger(AbstractAccessLogger):
    def log(self, request: BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %d %.1fms",
            request.remote,
            request.method,
            request.path,
            response.status,
            time * 1000,
        )


async def serve(
    app: web.Application, host: str, port: int, started: Callable[[], None] | None = None
) -> None:
    """Serve ``app`` on host:port until cancelled."""
    runner = web.AppRunner(
        app, access_log_class=PathOnlyAccessLogger, access_log=log, shutdown_timeout=5.0
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("HTTP on http://%s:%d/", host, port)
        if started is not None:
            started()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
