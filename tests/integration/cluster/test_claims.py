"""Consultant claims on a real PostgreSQL (dasan.cluster.claims): two engines never hold the
same consultant; the one that found them busy hears when they are free; a crashed engine's
claims go with its session."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from dasan.cluster.claims import AdvisoryClaims
from tests.integration.support import PG_SOCKET, REPO, create_database, drop_database


@pytest.fixture
async def url() -> AsyncIterator[str]:
    name = await asyncio.to_thread(create_database, "dasan_claims")
    try:
        yield f"postgresql+asyncpg://root@/{name}?host={PG_SOCKET}"
    finally:
        await asyncio.to_thread(drop_database, name)


def engine(url: str) -> AsyncEngine:
    return create_async_engine(url)


async def test_a_consultant_is_held_by_one_engine_at_a_time(url: str) -> None:
    first, second = engine(url), engine(url)
    node1, node2 = AdvisoryClaims(first, watch_every_s=0.05), AdvisoryClaims(second, 0.05)
    freed: asyncio.Queue[str] = asyncio.Queue()
    node2.on_free(freed.put_nowait)
    watcher = asyncio.create_task(node2.watch())
    try:
        assert await node1.claim("c0001", "call-a")
        assert await node1.claim("c0001", "call-a")  # the same call again: still its own
        assert not await node1.claim("c0001", "call-b")  # never two calls on this node either
        assert not await node2.claim("c0001", "call-c")
        assert await node2.claim("c0002", "call-c")  # other consultants are unaffected
        assert freed.empty()
        await node1.release("c0001")
        assert await asyncio.wait_for(freed.get(), 5.0) == "c0001"
        assert await node2.claim("c0001", "call-d")
        assert not await node1.claim("c0001", "call-e")
    finally:
        watcher.cancel()
        await node1.close()
        await node2.close()
        await first.dispose()
        await second.dispose()


async def test_claims_end_with_the_engine_closing_them(url: str) -> None:
    first, second = engine(url), engine(url)
    node1, node2 = AdvisoryClaims(first), AdvisoryClaims(second)
    try:
        assert await node1.claim("c0005", "call-a")
        await node1.close()  # the engine stops without releasing: the session ends
        assert await node2.claim("c0005", "call-b")
    finally:
        await node2.close()
        await first.dispose()
        await second.dispose()


HOLDER = """
import asyncio, sys
from sqlalchemy.ext.asyncio import create_async_engine
from dasan.cluster.claims import AdvisoryClaims

async def main():
    claims = AdvisoryClaims(create_async_engine(sys.argv[1]))
    assert await claims.claim("c0007", "call-a")
    print("held", flush=True)
    await asyncio.sleep(120)

asyncio.run(main())
"""


async def test_a_crashed_engine_holds_nobody(url: str) -> None:
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, url, cwd=REPO, stdout=asyncio.subprocess.PIPE
    )
    second = engine(url)
    node2 = AdvisoryClaims(second)
    try:
        assert holder.stdout is not None
        assert await asyncio.wait_for(holder.stdout.readline(), 30.0) == b"held\n"
        assert not await node2.claim("c0007", "call-b")
        holder.kill()  # a crash: no release, the socket just closes
        await holder.wait()
        deadline = time.monotonic() + 10.0
        while not await node2.claim("c0007", "call-b"):
            assert time.monotonic() < deadline, "the dead engine's claim outlived it"
            await asyncio.sleep(0.05)
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()
        await node2.close()
        await second.dispose()


async def test_a_claim_taken_again_before_its_unlock_ran_is_kept(url: str) -> None:
    first, second = engine(url), engine(url)
    node1, node2 = AdvisoryClaims(first), AdvisoryClaims(second)
    try:
        assert await node1.claim("c0009", "call-a")
        unlock = node1.release_soon("c0009")  # wrap-up over: released from a listener
        assert unlock is not None
        assert await node1.claim("c0009", "call-b")  # offered again at once, same engine
        await unlock
        assert not await node2.claim("c0009", "call-c")
        await node1.release("c0009")
        assert await node2.claim("c0009", "call-c")
    finally:
        await node1.close()
        await node2.close()
        await first.dispose()
        await second.dispose()
