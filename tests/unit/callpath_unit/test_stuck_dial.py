"""A Dial to a consultant has no timeout; once AMI saw the consultant hang up, a Dial that
still answers nothing means a dead FastAGI link: the session is reported stalled (the engine
moves the caller on over AMI) and the wait ends (a fake session, the real ticket)."""

from __future__ import annotations

import asyncio

import pytest

from acd import waiting
from acd.driver import CallTicket
from ivr.agi import AgiTimeout


class DialSession:
    """EXEC Dial answers when ``reply`` is set (never, on a frozen link)."""

    def __init__(self) -> None:
        self.reply = asyncio.Event()
        self.stalled_commands: list[str] = []
        self.cancelled = False

    async def exec(self, app: str, *options: str, timeout: float | None = None) -> str:
        try:
            await self.reply.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return "0"

    def stalled(self, name: str) -> None:
        self.stalled_commands.append(name)


async def test_a_dial_silent_after_the_conversation_is_reported_stalled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(waiting, "STUCK_DIAL_S", 0.05)
    session, ticket = DialSession(), CallTicket("1764.7")
    dial = asyncio.create_task(
        waiting._dial_until_over(session, ticket, "PJSIP/c0001", "20")  # type: ignore[arg-type]
    )
    await asyncio.sleep(0.1)
    assert not dial.done()  # a long conversation: no bound while the consultant is on
    ticket.consultant_left.set()
    with pytest.raises(AgiTimeout, match="after the conversation"):
        await asyncio.wait_for(dial, 5)
    assert session.stalled_commands == ["EXEC Dial"] and session.cancelled


async def test_a_dial_that_ends_with_the_conversation_is_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(waiting, "STUCK_DIAL_S", 0.05)
    session, ticket = DialSession(), CallTicket("1764.7")
    ticket.consultant_left.set()  # left over from an earlier conversation of this call
    dial = asyncio.create_task(
        waiting._dial_until_over(session, ticket, "PJSIP/c0001", "20")  # type: ignore[arg-type]
    )
    await asyncio.sleep(0.1)
    assert not dial.done() and not session.stalled_commands  # ringing: not stuck
    ticket.consultant_left.set()
    session.reply.set()
    await asyncio.wait_for(dial, 5)
    assert session.stalled_commands == []
