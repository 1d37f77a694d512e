"""Helpers for the engine unit tests (supervision, call-backs, ACD journal)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def eventually(check: Callable[[], bool], what: str, within_s: float = 10.0) -> None:
    """Poll ``check`` until it holds, failing at the deadline (no fixed sleeps in tests)."""
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.01)
