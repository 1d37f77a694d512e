"""Chaos on the database: PostgreSQL stopped for 60 s and slowed. The shared PostgreSQL
server must not be stopped, so the engine reaches the run's database through a TCP proxy
(``127.0.0.1`` inside the test namespace, relaying to PostgreSQL's Unix socket): "stopped"
is the proxy refusing connections and dropping the open ones, "slowed" a delay on every
chunk both ways. The load's own audit reads the database directly."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from dasan.pbx.container import PbxContainer
from tests.integration.chaos.cases import check_case
from tests.integration.chaos.harness import Case, ChaosContext, chaos_profile
from tests.integration.chaos.proxy import TcpProxy, unix_upstream
from tests.integration.support import PG_SOCKET, ItEnv

PG_PROXY_PORT = 15432
STOPPED_S = 60.0  # the fault's length, as the issue states it
SLOW_S = 45.0
SLOW_DELAY_S = 0.25


@contextlib.asynccontextmanager
async def pg_proxy(ctx: ChaosContext) -> AsyncIterator[None]:
    proxy = TcpProxy(PG_PROXY_PORT, unix_upstream(f"{PG_SOCKET}/.s.PGSQL.5432"), "postgresql")
    await proxy.start()
    ctx.extra["proxy"] = proxy
    url = f"postgresql+asyncpg://root@127.0.0.1:{PG_PROXY_PORT}/{ctx.env.database}"
    ctx.engine_env["DASAN_STORAGE__URL"] = url
    try:
        yield
    finally:
        await proxy.stop()


async def _busy(ctx: ChaosContext) -> None:
    await ctx.until(lambda c: c.offered >= 8 and c.talking >= 2 and c.in_ivr >= 1, 120, "calls")


async def pg_stopped(ctx: ChaosContext) -> None:
    proxy: TcpProxy = ctx.extra["proxy"]
    await _busy(ctx)
    dropped = await proxy.refuse()
    ctx.fault(connections_dropped=dropped)
    await asyncio.sleep(STOPPED_S)
    await proxy.accept()
    ctx.recovered()


async def pg_slow(ctx: ChaosContext) -> None:
    proxy: TcpProxy = ctx.extra["proxy"]
    await _busy(ctx)
    proxy.slow(delay_s=SLOW_DELAY_S)
    ctx.fault(delay_s=SLOW_DELAY_S)
    await asyncio.sleep(SLOW_S)
    proxy.slow()
    ctx.recovered()


CASES = {
    "pg_stopped": Case(
        "pg_stopped",
        f"PostgreSQL stopped for {STOPPED_S:.0f} s",
        "nothing: calls are routed and recorded; the writes wait and are kept",
        pg_stopped,
        profile=chaos_profile(placing_s=130),
        around=pg_proxy,
        measures_resync=False,
    ),
    "pg_slow": Case(
        "pg_slow",
        f"PostgreSQL slowed ({SLOW_DELAY_S * 1000:.0f} ms per exchange) for {SLOW_S:.0f} s",
        "nothing: no call waits on a database write",
        pg_slow,
        around=pg_proxy,
        measures_resync=False,
    ),
}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", ["pg_stopped", "pg_slow"])
async def test_database_fault(name: str, pbx: PbxContainer, it_env: ItEnv) -> None:
    await check_case(CASES[name], it_env, pbx)
