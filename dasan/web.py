"""The HTTP edge of the running engine (127.0.0.1:8120): API, WebSocket, pages, OpenAPI, metrics.

``start_web(engine)`` builds the authenticator (users in the database plus demo users), the real
``LiveCenter`` over the engine's ACD driver, AMI client and call log, the recordings'
routes, and a Prometheus registry of the engine's own figures, and serves them on
``settings.http``. The center's background work (AMI watch, timeline, today's figures) runs
as a task tied to the web app: cleaning the runner up stops it.

Invariants:
- Nothing is global: the registry, the center and the authenticator belong to this app.
- Metrics are read from the live objects when scraped (a custom collector), never kept in
  module-level counters.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from acd.views import consultant_counts
from care.web import CareApi, page_routes
from channels.web import ChannelRoutes
from cti.auth import build_authenticator
from cti.center import CenterConfig, LiveCenter
from cti.center.center import WrapUpGate
from cti.control import CallState
from cti.userdb import open_user_store
from cti.web.app import create_app
from cti.web.dispatch import PRINCIPAL
from cti.web.endpoint import Endpoint
from cti.web.server import PathOnlyAccessLogger
from dasan.assist import start_assist
from knowledge.wiring import open_for_engine
from recordings.web import routes as recording_routes

if TYPE_CHECKING:
    from dasan.app import Engine

log = logging.getLogger("dasan.http")
CENTER_TASK = web.AppKey("center_task", asyncio.Task[None])
ASSIST_TASK = web.AppKey("assist_task", asyncio.Task[None])


def utc_now() -> datetime:
    return datetime.now(UTC)


class EngineCollector(Collector):
    """The engine's figures at scrape time: calls, waiting, consultants, AGI sessions."""

    def __init__(self, engine: Engine, center: LiveCenter) -> None:
        self._engine = engine
        self._center = center

    def collect(self) -> Iterator[Metric]:
        book = self._center.core.book
        calls = GaugeMetricFamily("dasan_calls", "Live citizen calls by state", labels=["state"])
        states = [c.state for c in book.live_calls()]
        for state in CallState:
            if state is not CallState.ENDED:
                calls.add_metric([state.value], states.count(state))
        yield calls
        acd = self._engine.acd
        yield GaugeMetricFamily(
            "dasan_waiting_calls",
            "Calls waiting in the ACD's queues",
            value=len(acd.state.waiting_calls()),
        )
        consultants = GaugeMetricFamily(
            "dasan_consultants", "Consultants by ACD state", labels=["state"]
        )
        for acd_state, count in consultant_counts(acd.state).items():
            consultants.add_metric([acd_state.value], count)
        yield consultants
        yield GaugeMetricFamily(
            "dasan_agi_sessions",
            "FastAGI sessions in progress",
            value=self._engine.agi.active_sessions,
        )
        yield GaugeMetricFamily(
            "dasan_acd_decisions", "Routing decisions since start", value=acd.decisions
        )

    def describe(self) -> Iterator[Metric]:
        return iter(())


def build_center(engine: Engine, wrap_up_gate: WrapUpGate | None = None) -> LiveCenter:
    settings = engine.settings
    config = CenterConfig(
        zone=ZoneInfo(settings.ivr.timezone),
        default_language=settings.ivr.default_language,
        outside_dial=settings.acd.outside_dial,
        ring_s=float(settings.acd.ring_timeout_s),
        endpoints=frozenset(settings.consultants.ids()),
    )
    center = LiveCenter(
        driver=engine.acd,
        ami=engine.ami,
        calls=engine.recordings.calls,
        config=config,
        clock=utc_now,
        wrap_up_gate=wrap_up_gate,
        events=engine.live.events,
    )
    center.attach()
    return center


async def start_web(engine: Engine) -> web.AppRunner:
    settings = engine.settings
    users = await asyncio.to_thread(
        open_user_store, settings.http, settings.state_dir, settings.storage_url
    )
    auth = build_authenticator(settings.http, users, settings.consultants.ids(), time.time)
    rec = engine.recordings
    knowledge = await open_for_engine(
        settings.knowledge,
        storage=rec.storage,
        ring=rec.ring,
        calls=rec.calls,
        access_log=rec.access_log,
        principal_key=PRINCIPAL,
    )
    center = build_center(engine, knowledge.gate)
    registry = CollectorRegistry()
    registry.register(EngineCollector(engine, center))
    extra: list[Endpoint | web.RouteDef] = [
        *recording_routes(engine.recordings.access, principal_key=PRINCIPAL),
        *knowledge.web.routes(),
        *engine.safety.routes(PRINCIPAL),
        *CareApi(engine.care, engine.recordings.calls).endpoints(),
    ]
    channels = ChannelRoutes(engine.channels, auth.authenticate_async) if engine.channels else None
    if channels is not None:
        extra += channels.endpoints()
    app = create_app(
        center, auth, extra, registry=registry, settings=settings.http, calllog=rec.calls
    )
    app.router.add_routes(page_routes())
    if channels is not None:
        app.router.add_routes(channels.page_routes())
    task = asyncio.get_running_loop().create_task(center.run(), name="cti-center")
    task.add_done_callback(_center_done)
    app[CENTER_TASK] = task
    app.on_cleanup.append(_stop_center)
    assist = start_assist(engine, center, knowledge.kb)
    if assist is not None:
        assist.add_done_callback(_assist_done)
        app[ASSIST_TASK] = assist
        app.on_cleanup.append(_stop_assist)
    app.on_cleanup.append(lambda _app: asyncio.to_thread(users.close))
    runner = web.AppRunner(
        app, access_log_class=PathOnlyAccessLogger, access_log=log, shutdown_timeout=5.0
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.http.host, settings.http.port)
    await site.start()
    log.info("HTTP on http://%s:%d/", settings.http.host, settings.http.port)
    return runner


def _center_done(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the CTI center stopped", exc_info=task.exception())


def _assist_done(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("live suggestions stopped", exc_info=task.exception())


async def _stop_assist(app: web.Application) -> None:
    task = app[ASSIST_TASK]
    task.cancel()
    await asyncio.wait([task], timeout=5.0)


async def _stop_center(app: web.Application) -> None:
    task = app[CENTER_TASK]
    task.cancel()
    await asyncio.wait([task], timeout=5.0)
