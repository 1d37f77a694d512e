"""Chaos on the engine's links to the PBX: the AMI link dropped and slowed (a slow reader),
an AMI event flood, and half-open FastAGI sockets. Each link runs through a proxy the test
controls (``proxy.TcpProxy``), so only the engine's side of the link is hurt; the load's
own AMI view stays direct."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest

from cti.ami.client import AmiClient
from cti.ami.messages import AmiError
from dasan.pbx.container import PbxContainer
from tests.integration.chaos.cases import check_case
from tests.integration.chaos.harness import Case, ChaosContext
from tests.integration.chaos.proxy import TcpProxy, tcp_upstream
from tests.integration.support import ItEnv

AMI_PROXY_PORT = 15038
AGI_ENGINE_PORT = 14573  # the engine listens here; the proxy takes the PBX's 4573
FAULT_S = 20.0  # how long a link stays broken (the fault's length, not a wait)
FLOOD_EVENTS = 20_000


async def _busy(ctx: ChaosContext) -> None:
    await ctx.until(lambda c: c.offered >= 8 and c.talking >= 2 and c.in_ivr >= 1, 120, "calls")


@contextlib.asynccontextmanager
async def ami_proxy(ctx: ChaosContext) -> AsyncIterator[None]:
    ami = ctx.settings.ami
    proxy = TcpProxy(AMI_PROXY_PORT, tcp_upstream(ami.host, ami.port), "ami")
    await proxy.start()
    ctx.extra["proxy"] = proxy
    try:
        yield
    finally:
        await proxy.stop()


@contextlib.asynccontextmanager
async def agi_proxy(ctx: ChaosContext) -> AsyncIterator[None]:
    agi = ctx.settings.agi
    proxy = TcpProxy(agi.port, tcp_upstream(agi.host, AGI_ENGINE_PORT), "agi")
    await proxy.start()
    ctx.extra["proxy"] = proxy
    try:
        yield
    finally:
        await proxy.stop()


async def ami_drop(ctx: ChaosContext) -> None:
    proxy: TcpProxy = ctx.extra["proxy"]
    await _busy(ctx)
    dropped = await proxy.refuse()
    ctx.fault(connections_dropped=dropped)
    await asyncio.sleep(FAULT_S)
    await proxy.accept()
    ctx.recovered()


async def ami_slow(ctx: ChaosContext) -> None:
    proxy: TcpProxy = ctx.extra["proxy"]
    await _busy(ctx)
    # The engine reads AMI at 2 KB/s with 0.2 s per chunk: Asterisk's write buffer fills
    # and its writetimeout (5 s) may cut the session.
    proxy.slow(delay_s=0.2, rate_bps=2048)
    ctx.fault(rate_bps=2048, delay_s=0.2)
    await asyncio.sleep(FAULT_S)
    proxy.slow()
    ctx.recovered(reconnects=proxy.accepted - 1)


async def agi_half_open(ctx: ChaosContext) -> None:
    proxy: TcpProxy = ctx.extra["proxy"]
    await ctx.until(lambda c: c.offered >= 8 and c.in_ivr >= 2 and c.waiting >= 1, 120, "calls")
    frozen = proxy.freeze()
    ctx.fault(sessions_frozen=frozen)
    ctx.recovered()


async def ami_flood(ctx: ChaosContext) -> None:
    await _busy(ctx)
    client = AmiClient(ctx.settings.ami)
    await client.start()
    started = time.monotonic()
    ctx.fault(events=FLOOD_EVENTS)
    try:
        for batch in range(FLOOD_EVENTS // 200):
            await asyncio.gather(
                *(
                    client.action("UserEvent", UserEvent="ChaosFlood", Batch=str(batch), N=str(n))
                    for n in range(200)
                )
            )
    except AmiError as exc:
        ctx.marks.notes["flood_error"] = str(exc)
    finally:
        await client.stop()
    ctx.recovered(flood_s=round(time.monotonic() - started, 1))


CASES = {
    "ami_drop": Case(
        "ami_drop",
        f"AMI link dropped and refused for {FAULT_S:.0f} s",
        "nothing: calls in the engine go on; the engine logs back in and resyncs",
        ami_drop,
        engine_env={"DASAN_AMI__PORT": str(AMI_PROXY_PORT)},
        around=ami_proxy,
    ),
    "ami_slow": Case(
        "ami_slow",
        f"AMI link slowed to 2 KB/s for {FAULT_S:.0f} s (slow reader)",
        "nothing, or a longer wait while the engine catches up",
        ami_slow,
        engine_env={"DASAN_AMI__PORT": str(AMI_PROXY_PORT)},
        around=ami_proxy,
    ),
    "agi_half_open": Case(
        "agi_half_open",
        "FastAGI sockets of calls in the IVR and waiting go half-open",
        "the call on that socket must still reach a consultant (engine or fallback)",
        agi_half_open,
        engine_env={"DASAN_AGI__PORT": str(AGI_ENGINE_PORT)},
        around=agi_proxy,
    ),
    "ami_flood": Case(
        "ami_flood",
        f"AMI event flood ({FLOOD_EVENTS:,} UserEvents as fast as Asterisk takes them)",
        "nothing, or a longer wait while the engine reads the flood",
        ami_flood,
        measures_resync=False,
    ),
}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", ["ami_drop", "ami_slow", "agi_half_open", "ami_flood"])
async def test_link_fault(name: str, pbx: PbxContainer, it_env: ItEnv) -> None:
    await check_case(CASES[name], it_env, pbx)
