"""The call-back offer when the caller presses 1 just as it arrives: the key reaches no AGI
command (the music was being stopped), only the AMI witness, a moment late. The acceptance
must not be lost (a fake session; the real ACD driver and key queue)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from acd.events import CallArrived
from acd.model import Language
from acd.waiting import WaitingRoom, _offer_callback
from ivr.keys import KeyQueue

from .support import acd_driver

CALL = "1764355829.7"


class OfferSession:
    """Plays the offer; GET DATA returns what ``typed`` says, and ``during`` runs meanwhile
    (the AMI witness reporting a key)."""

    def __init__(self, typed: str, during: object = None) -> None:
        self.typed = typed
        self.during = during
        self.played: list[str] = []

    async def get_data(self, file: str, timeout_ms: int, max_digits: int) -> str:
        self.played.append(file)
        if callable(self.during):
            asyncio.get_running_loop().call_later(0.05, self.during)
        return self.typed

    async def stream_file(self, file: str) -> None:
        self.played.append(file)


async def _offer(tmp_path: Path, session: OfferSession, keys: KeyQueue) -> tuple[bool, list[str]]:
    acd = acd_driver(tmp_path / "acd")
    acd.feed(CallArrived(CALL, Language.KO, "general"))
    accepted: list[str] = []
    room = WaitingRoom("/p", _no_hangup, keys=keys, on_callback_accepted=accepted.append)
    took = await _offer_callback(
        session,  # type: ignore[arg-type]
        acd,
        CALL,
        room,
        language="ko",
        caller_number="01012345678",
    )
    return took, accepted


async def _no_hangup(_channel: str) -> None:
    return None


async def test_a_key_witnessed_only_after_the_offer_prompt_still_accepts(tmp_path: Path) -> None:
    keys = KeyQueue(witnessed=True)
    session = OfferSession("", during=lambda: keys.witnessed_key("1"))
    took, accepted = await _offer(tmp_path, session, keys)
    assert took and accepted == [CALL]
    assert session.played == ["/p/ko/callback_offer", "/p/ko/callback_confirmed"]


async def test_no_key_at_all_declines_after_a_short_wait(tmp_path: Path) -> None:
    keys = KeyQueue(witnessed=True)
    took, accepted = await _offer(tmp_path, OfferSession(""), keys)
    assert not took and accepted == []


async def test_another_key_pressed_late_declines(tmp_path: Path) -> None:
    keys = KeyQueue(witnessed=True)
    session = OfferSession("", during=lambda: keys.witnessed_key("2"))
    took, accepted = await _offer(tmp_path, session, keys)
    assert not took and accepted == []


async def test_a_key_the_offer_itself_read_is_used_once(tmp_path: Path) -> None:
    keys = KeyQueue(witnessed=True)
    session = OfferSession("1", during=lambda: keys.witnessed_key("1"))
    took, accepted = await _offer(tmp_path, session, keys)
    assert took and accepted == [CALL]
    assert not keys  # the AGI digit and its witness report were one key
