"""Chaos: the engine killed (-9) with calls in the IVR, waiting and talking; the engine
restarted. The dialplan's fallback queues take the calls while it is down; the restarted
engine catalogs what the dead one left and routes again."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dasan.load.tracker import Counts
from dasan.pbx.container import PbxContainer
from tests.integration.chaos.cases import check_case
from tests.integration.chaos.harness import Case, ChaosContext, Fault
from tests.integration.support import ItEnv

FALLBACK_ANSWERS = 2  # the engine stays dead until the fallback queues answered this many


def kill_when(check: Callable[[Counts], bool], what: str) -> Fault:
    async def inject(ctx: ChaosContext) -> None:
        await ctx.until(lambda c: c.offered >= 8 and check(c), 120, what)
        await ctx.kill_engine()
        ctx.fault(killed_with=what)
        before = ctx.counts().answered
        await ctx.until(
            lambda c: c.answered >= before + FALLBACK_ANSWERS, 90, "the fallback answering"
        )
        ctx.recovered(engine_up_s=await ctx.start_engine())

    return inject


async def restart(ctx: ChaosContext) -> None:
    await ctx.until(lambda c: c.offered >= 8 and c.talking >= 2 and c.in_ivr >= 1, 120, "calls")
    ctx.fault()
    await ctx.stop_engine()
    ctx.recovered(engine_up_s=await ctx.start_engine())


CITIZEN_KILLED = (
    "in the IVR or waiting: the fallback queue of their language answers (after a notice); "
    "talking: the conversation goes on"
)
CASES = {
    "engine_kill_ivr": Case(
        "engine_kill_ivr",
        "engine killed (-9), calls in the IVR",
        CITIZEN_KILLED,
        kill_when(lambda c: c.in_ivr >= 3, "3 calls in the IVR"),
    ),
    "engine_kill_waiting": Case(
        "engine_kill_waiting",
        "engine killed (-9), calls waiting",
        CITIZEN_KILLED,
        kill_when(lambda c: c.waiting >= 1 and c.talking >= 1, "a call waiting"),
    ),
    "engine_kill_talking": Case(
        "engine_kill_talking",
        "engine killed (-9), calls talking",
        CITIZEN_KILLED,
        kill_when(lambda c: c.talking >= 4, "4 calls talking"),
    ),
    "engine_restart": Case(
        "engine_restart",
        "engine restarted (SIGTERM, start)",
        "calls in progress finish or fall back to the queues; new calls served after",
        restart,
    ),
}


@pytest.mark.chaos_short
@pytest.mark.timeout(600)
async def test_engine_killed_while_calls_wait(pbx: PbxContainer, it_env: ItEnv) -> None:
    await check_case(CASES["engine_kill_waiting"], it_env, pbx)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", ["engine_kill_ivr", "engine_kill_talking", "engine_restart"])
async def test_engine_fault(name: str, pbx: PbxContainer, it_env: ItEnv) -> None:
    await check_case(CASES[name], it_env, pbx)
