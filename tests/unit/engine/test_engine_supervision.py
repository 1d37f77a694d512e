"""Supervision: a failing component restarts with backoff and an alarm, the others go on, and
only cancellation (the deliberate stop) ends it all."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from engine_support import eventually

from common.alarms import AlarmBus
from dasan.supervisor import SOURCE, Supervisor


class Crashy:
    """Fails its first ``failures`` runs, then runs until cancelled."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.runs = 0
        self.up = asyncio.Event()

    async def __call__(self) -> None:
        self.runs += 1
        if self.runs <= self.failures:
            raise RuntimeError(f"boom {self.runs}")
        self.up.set()
        await asyncio.Event().wait()


async def test_failing_component_restarts_and_the_others_keep_going() -> None:
    alarms = AlarmBus()
    supervisor = Supervisor(lambda: alarms, min_s=0.01, max_s=0.04, healthy_s=0.2)
    crashy = Crashy(failures=3)
    beats = 0

    async def steady() -> None:
        nonlocal beats
        while True:
            beats += 1
            await asyncio.sleep(0.005)

    async with asyncio.TaskGroup() as group:
        tasks = [
            group.create_task(supervisor.supervise("crashy", crashy)),
            group.create_task(supervisor.supervise("steady", steady)),
        ]
        await eventually(crashy.up.is_set, "the component came back")
        assert alarms.is_active(SOURCE, "component:crashy")
        assert "boom 3" in alarms.active()[0].message
        before = beats
        await eventually(lambda: beats > before + 5, "the other component still runs")
        await eventually(
            lambda: not alarms.is_active(SOURCE, "component:crashy"), "alarm cleared once healthy"
        )
        for task in tasks:
            task.cancel()
    assert crashy.runs == 4
    assert supervisor.restarts == {"crashy": 3}


async def test_backoff_doubles_up_to_the_cap() -> None:
    pauses: list[float] = []

    async def recording_sleep(seconds: float) -> None:
        pauses.append(seconds)
        await asyncio.sleep(0)

    supervisor = Supervisor(
        lambda: None, min_s=0.01, max_s=0.04, healthy_s=10, sleep=recording_sleep
    )
    crashy = Crashy(failures=5)
    task = asyncio.create_task(supervisor.supervise("crashy", crashy))
    await eventually(crashy.up.is_set, "the component came back")
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert pauses == [0.01, 0.02, 0.04, 0.04, 0.04]


async def test_a_component_that_returns_is_done_and_cancel_is_never_swallowed() -> None:
    supervisor = Supervisor(lambda: None, min_s=0.01)
    runs = 0

    async def once() -> None:
        nonlocal runs
        runs += 1

    await supervisor.supervise("once", once)
    assert runs == 1
    crashy = Crashy(failures=0)
    task = asyncio.create_task(supervisor.supervise("forever", crashy))
    await eventually(crashy.up.is_set, "running")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
