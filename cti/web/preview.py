"""A preview server: the real web edge over the in-memory fake center with synthetic traffic.

For developing and demonstrating the pages only (``dasan web preview``); nothing here touches
a PBX. Invariants: the fake's traffic is seeded, so a preview is reproducible; consultants in
``manual`` are left to a person at the desktop (their calls are answered, never ended for them).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from cti.auth import Authenticator, DemoUserStore, MemoryUserStore, ScryptParams
from cti.fake_center import DemoTraffic, demo_center, demo_roster
from cti.settings import HttpSettings
from cti.web.app import create_app
from cti.web.server import serve


def _now() -> datetime:
    return datetime.now(UTC)


async def run_preview(
    http: HttpSettings,
    *,
    consultants: int,
    seed: int,
    manual: frozenset[str],
    step_s: float = 1.0,
    started: Callable[[], None] | None = None,
) -> None:
    center = demo_center(_now, consultants)
    traffic = DemoTraffic(center, _now, seed, manual)
    await traffic.staff()
    ids = [cid for cid, _, _ in demo_roster(consultants)]
    secret = http.demo_password_secret.get_secret_value()
    store = DemoUserStore(MemoryUserStore(), secret, ids, ScryptParams())
    auth = Authenticator(store, time.time, session_ttl_s=http.session_ttl_s)
    app = create_app(center, auth, registry=CollectorRegistry(), settings=http)
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(serve(app, http.host, http.port, started))
        tasks.create_task(_drive(traffic, step_s))


async def _drive(traffic: DemoTraffic, step_s: float) -> None:
    while True:
        await traffic.step()
        await asyncio.sleep(step_s)  # pacing of the synthetic traffic, not a wait for state
