"""Waits for a key play silence (``AgiSettings.silence_fill``), so the recording of a call
never loses time when neither party sends audio; the caller's keys work as with plain waits."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from ivr.agi.session import AgiSession

from .fake_asterisk import FakeAsterisk, running_server, wait_until

SILENCE = ("STREAM", "FILE", "silence/1", "0123456789*#")
PROMPT = ("STREAM", "FILE", "dasan/ko/enter", "0123456789*#")
NO_KEY = "200 result=0 endpos=8000"


def key(digit: str) -> str:
    return f"200 result={ord(digit)} endpos=4000"


Helper = Callable[[AgiSession], Awaitable[object]]


async def run_filled(helper: Helper, script: list[tuple[tuple[str, ...], str]]) -> object:
    """Run ``helper`` in a session whose waits are filled; the fake PBX answers ``script``."""
    results: dict[str, object] = {}
    done = asyncio.Event()

    async def handler(session: AgiSession) -> None:
        results["value"] = await helper(session)
        done.set()

    async with running_server({"ivr": handler}, silence_fill="silence/1") as server:
        fake = await FakeAsterisk.call(server.bound_port)
        for words, reply in script:
            await fake.expect(*words, reply=reply)
        assert await fake.expect_closed() == b""
        await fake.close()
        await wait_until(lambda: server.stats().completed == 1, "session completed")
        assert server.stats().commands == len(script)
    assert done.is_set()
    return results["value"]


async def test_a_silent_wait_plays_silence_for_every_second_rounded_up() -> None:
    value = await run_filled(
        lambda s: s.wait_for_digit(2500), [(SILENCE, NO_KEY), (SILENCE, NO_KEY), (SILENCE, NO_KEY)]
    )
    assert value is None


async def test_a_key_during_the_silence_ends_the_wait_at_once() -> None:
    value = await run_filled(
        lambda s: s.wait_for_digit(5000), [(SILENCE, NO_KEY), (SILENCE, key("7"))]
    )
    assert value == "7"


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        # A key barging into the prompt, then one more within the wait, then nothing.
        ([(PROMPT, key("1")), (SILENCE, key("2")), (SILENCE, NO_KEY)], "12"),
        # Nothing during the prompt nor the wait.
        ([(PROMPT, NO_KEY), (SILENCE, NO_KEY)], None),
        # "#" ends the digits early and is not one of them.
        ([(PROMPT, NO_KEY), (SILENCE, key("4")), (SILENCE, key("#"))], "4"),
        # At most max_digits keys: no wait after the third.
        ([(PROMPT, key("1")), (SILENCE, key("2")), (SILENCE, key("3"))], "123"),
    ],
)
async def test_get_data_collects_keys_like_asterisk_while_playing_silence(
    script: list[tuple[tuple[str, ...], str]], expected: str | None
) -> None:
    assert await run_filled(lambda s: s.get_data("dasan/ko/enter", 1000, 3), script) == expected
