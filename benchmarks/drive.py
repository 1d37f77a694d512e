"""Closed-loop load for the session benchmarks: N workers, each starting its next session as
soon as the last one ends, until a deadline.

Invariants: a session that raises OSError or TimeoutError counts as an error and the worker
goes on; any other exception ends the run (a bug in the benchmark, not a measurement). Session
numbers are unique across workers, from 1.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar


class Counts(Protocol):
    sessions: int
    errors: int


T = TypeVar("T", bound=Counts)


async def drive(
    session: Callable[[int, T], Awaitable[None]], tally: T, concurrency: int, duration_s: float
) -> float:
    """Run ``session(number, tally)`` from ``concurrency`` workers for ``duration_s``; returns
    the wall-clock seconds the run took (the last sessions finish after the deadline)."""
    deadline = time.perf_counter() + duration_s
    numbers = itertools.count(1)

    async def worker() -> None:
        while time.perf_counter() < deadline:
            try:
                await session(next(numbers), tally)
                tally.sessions += 1
            except (OSError, TimeoutError):
                tally.errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start
