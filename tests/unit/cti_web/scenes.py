"""Small stories played on the fake center: consultants logged in, calls answered."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from datetime import timedelta

from common.principal import Principal, Role
from cti.control import CallState, IvrStep
from cti.fake_center import FakeCenter

from .conftest import CONSULTANTS, ManualClock

SYSTEM = Principal("test-system", Role.ADMIN, "test")


async def all_ready(center: FakeCenter) -> None:
    for cid in CONSULTANTS:
        await center.log_in(SYSTEM, cid)
        await center.set_ready(SYSTEM, cid)


def answered_call(
    center: FakeCenter,
    clock: ManualClock,
    consultant_id: str,
    number: str = "01012345678",
    language: str = "ko",
) -> str:
    queue = "foreign-vi" if language == "vi" else "general"
    journey = (
        IvrStep(clock() - timedelta(seconds=30), "language", "language: " + language, "1"),
        IvrStep(clock() - timedelta(seconds=10), "menu", "service: " + queue, "0"),
    )
    call_id = center.arrive(number, language, queue, journey)
    clock.advance(5)
    center.offer(call_id, consultant_id)
    clock.advance(2)
    call = center.answer(call_id)
    assert call.state is CallState.TALKING
    return call_id


async def eventually(condition: Callable[[], bool], deadline_s: float = 5.0) -> None:
    """Poll ``condition`` until it holds, failing after ``deadline_s`` (never a fixed sleep)."""
    async with asyncio.timeout(deadline_s):
        for _ in itertools.count():
            if condition():
                return
            await asyncio.sleep(0.01)
