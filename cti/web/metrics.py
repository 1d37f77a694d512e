"""HTTP and WebSocket metrics, registered in a registry the composition root passes in.

Invariant: route labels are route templates (``/api/calls/{call_id}``), never raw paths, so
the number of series stays bounded whatever clients request.
"""

from __future__ import annotations

import time

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class WebMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "dasan_http_requests",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "dasan_http_request_duration_seconds",
            "HTTP request handling time",
            ["route"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
        )
        self.ws_clients = Gauge(
            "dasan_ws_clients", "Connected WebSocket clients", registry=registry
        )

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = _route_label(request)
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            if route != "/ws":  # a WebSocket's lifetime is not a request latency
                self.latency.labels(route).observe(time.perf_counter() - started)
            self.requests.labels(request.method, route, str(status)).inc()


def _route_label(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "(unmatched)"
