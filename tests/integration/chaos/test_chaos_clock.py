"""Chaos on time: the engine's wall clock jumps an hour forward or back mid-load (an NTP
step). The engine runs under libfaketime with its offset read from a file the test
rewrites (re-read every second); the monotonic clock is left alone, as a real step leaves
it. Asterisk keeps the true time, so anything the engine dates by its wall clock and
compares with the PBX (call log against CDR, recordings) is put to the test. No engine
hook is needed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dasan.pbx.container import PbxContainer
from tests.integration.chaos.cases import check_case
from tests.integration.chaos.harness import Case, ChaosContext, Fault
from tests.integration.support import ItEnv

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")


@contextlib.asynccontextmanager
async def faketime(ctx: ChaosContext) -> AsyncIterator[None]:
    control = ctx.workdir / "faketime.rc"
    await asyncio.to_thread(control.write_text, "+0\n", "utf-8")
    ctx.extra["faketime"] = control
    ctx.engine_env |= {
        "LD_PRELOAD": str(LIBFAKETIME),
        "FAKETIME_TIMESTAMP_FILE": str(control),
        "FAKETIME_CACHE_DURATION": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
    yield


def jump(offset: str) -> Fault:
    async def inject(ctx: ChaosContext) -> None:
        await ctx.until(lambda c: c.offered >= 8 and c.talking >= 2 and c.in_ivr >= 1, 120, "calls")
        control: Path = ctx.extra["faketime"]
        await asyncio.to_thread(control.write_text, f"{offset}\n", "utf-8")
        ctx.fault(offset=offset)
        ctx.recovered()

    return inject


CASES = {
    "clock_forward": Case(
        "clock_forward",
        "engine clock jumps 1 h forward",
        "nothing: waits, timeouts and records keep their true lengths",
        jump("+1h"),
        around=faketime,
    ),
    "clock_back": Case(
        "clock_back",
        "engine clock jumps 1 h back",
        "nothing: waits, timeouts and records keep their true lengths",
        jump("-1h"),
        around=faketime,
    ),
}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", ["clock_forward", "clock_back"])
async def test_clock_jump(name: str, pbx: PbxContainer, it_env: ItEnv) -> None:
    if not await asyncio.to_thread(LIBFAKETIME.exists):
        pytest.skip("libfaketime is not installed (apt package faketime)")
    await check_case(CASES[name], it_env, pbx)
