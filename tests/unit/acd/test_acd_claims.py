"""Shared consultant claims in the caller's waiting loop (acd.waiting with acd.claims): a
consultant claimed by another engine is never rung, the call goes to someone else, and the
claim of an answered call outlives the dial (released when the consultant is free again)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

import pytest

from acd.driver import AcdDriver
from acd.events import CallArrived
from acd.model import ConsultantState, Language
from acd.settings import AcdSettings
from acd.waiting import WaitingRoom, WaitOutcome, wait_and_connect
from ivr.agi import AgiHangup, AgiSession

CONSULTANTS = ("c0001", "c0002", "c0003")


class Claims:
    """In-memory claims: ``elsewhere`` are held by another engine."""

    def __init__(self, elsewhere: set[str]) -> None:
        self.elsewhere = elsewhere
        self.held: dict[str, str] = {}
        self.refused: list[str] = []

    async def claim(self, consultant_id: str, call_id: str) -> bool:
        if consultant_id in self.elsewhere or self.held.get(consultant_id, call_id) != call_id:
            self.refused.append(consultant_id)
            return False
        self.held[consultant_id] = call_id
        return True

    async def release(self, consultant_id: str) -> None:
        self.held.pop(consultant_id, None)

    def on_free(self, listener: Callable[[str], None]) -> None:
        pass


class Session:
    """A caller's FastAGI session whose every Dial is answered."""

    def __init__(self) -> None:
        self.hungup = asyncio.Event()
        self.dialed: list[str] = []

    async def set_music(self, on: bool) -> None:
        pass

    async def stream_file(self, *args: Any) -> tuple[str | None, int]:
        return None, 0

    async def exec(self, app: str, *args: str, timeout: float | None = None) -> int:
        self.dialed.append(args[0])
        return 0

    async def get_variable(self, name: str) -> str | None:
        return "ANSWER" if name == "DIALSTATUS" else None


async def hang_up_channel(_channel: str) -> None:
    pass


async def test_a_consultant_claimed_elsewhere_is_never_rung() -> None:
    driver = AcdDriver(AcdSettings(logged_in=CONSULTANTS), None)
    driver.log_in_roster()
    claims = Claims(elsewhere={"c0001", "c0002"})
    ticket = driver.open_ticket("call-1")
    room = WaitingRoom(prompts_dir="/p", hangup_channel=hang_up_channel, claims=claims)
    session = Session()
    ticket.arrival = CallArrived("call-1", Language.KO, "general")
    driver.feed(ticket.arrival)
    outcome = await asyncio.wait_for(
        wait_and_connect(
            cast(AgiSession, session), driver, ticket, room, language="ko", caller_number="0101"
        ),
        5.0,
    )
    assert outcome is WaitOutcome.SERVED
    rung = [d.removeprefix("PJSIP/") for d in session.dialed]
    assert rung and not set(rung) & claims.elsewhere
    assert set(claims.refused) <= claims.elsewhere and claims.refused
    # Answered: still claimed after the dial (the engine releases after wrap-up).
    assert claims.held == {rung[-1]: "call-1"}
    for refused in claims.refused:  # withdrawn offers: not ready until the claim is free
        assert driver.state.consultant_state(refused) is ConsultantState.NOT_READY
    driver.close()


class HungUpAfterTalking(Session):
    """The citizen ends the conversation: with AGIEXITONHANGUP the AGI ends with the hangup,
    so DIALSTATUS can no longer be read; AMI had seen the answer (``ticket.connected``)."""

    def __init__(self, ticket: Any) -> None:
        super().__init__()
        self.ticket = ticket

    async def exec(self, app: str, *args: str, timeout: float | None = None) -> int:
        self.dialed.append(args[0])
        self.ticket.connected = True  # the AMI bridge's DialEnd ANSWER
        return 0

    async def get_variable(self, name: str) -> str | None:
        raise AgiHangup("511 command not permitted on a dead channel")


async def test_a_consultant_whose_caller_hung_up_stays_claimed_through_wrap_up() -> None:
    driver = AcdDriver(AcdSettings(logged_in=CONSULTANTS), None)
    driver.log_in_roster()
    claims = Claims(elsewhere=set())
    ticket = driver.open_ticket("call-2")
    room = WaitingRoom(prompts_dir="/p", hangup_channel=hang_up_channel, claims=claims)
    session = HungUpAfterTalking(ticket)
    ticket.arrival = CallArrived("call-2", Language.KO, "general")
    driver.feed(ticket.arrival)
    with pytest.raises(AgiHangup):
        await asyncio.wait_for(
            wait_and_connect(
                cast(AgiSession, session), driver, ticket, room, language="ko", caller_number="0"
            ),
            5.0,
        )
    rung = session.dialed[-1].removeprefix("PJSIP/")
    assert claims.held == {rung: "call-2"}  # released by the engine after wrap-up, not now
    driver.close()
