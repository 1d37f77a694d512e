"""The check-in inside a FastAGI session (fake session): greeting with the notice first,
1 well, nothing twice -> answered-no-key, 2 with the recording unproven -> no consultant."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from acd.driver import AcdDriver
from ivr.agi import AgiHangup, AgiSession
from safety.call import MODE_CHECKIN, MODE_CONSULTANT, CallDesk, run_session
from safety.escalation import Outcome


class Session:
    def __init__(self, digits: list[str | None], hang_up_on: str = "") -> None:
        self.uniqueid = "dasan-sf-1"
        self.digits = digits
        self.played: list[str] = []
        self.vars: dict[str, str] = {}
        self.hang_up_on = hang_up_on

    def _play(self, file: str) -> None:
        name = file.rsplit("/", 1)[-1]
        self.played.append(name)
        if name == self.hang_up_on:
            raise AgiHangup("gone")

    async def stream_file(self, file: str, *_: Any, **__: Any) -> tuple[None, int]:
        self._play(file)
        return None, 0

    async def get_data(self, file: str, *_: Any, **__: Any) -> str | None:
        self._play(file)
        return self.digits.pop(0) if self.digits else None

    async def set_variable(self, name: str, value: str) -> None:
        self.vars[name] = value


def _desk(proven: bool) -> CallDesk:
    async def nothing(*_: Any) -> None:
        return None

    async def guard(*_: Any) -> bool:
        return proven

    acd = SimpleNamespace(state=SimpleNamespace(catalog={}))
    return CallDesk(cast(AcdDriver, acd), "/p", nothing, guard, nothing)


async def _run(session: Session, mode: str = MODE_CHECKIN, proven: bool = True) -> Any:
    return await run_session(cast(AgiSession, session), _desk(proven), "vi", mode)


async def test_pressing_one_is_well_after_the_notice() -> None:
    session = Session(["1"])
    result = await _run(session)
    assert result.outcome is Outcome.WELL
    assert session.played == ["safety_greeting", "safety_checkin", "safety_thanks"]
    assert session.vars == {"DASAN_DONE": "1"}


async def test_no_key_twice_is_told_we_call_again() -> None:
    session = Session([None, "7"])
    result = await _run(session)
    assert result.outcome is Outcome.NO_KEY
    assert session.played[-1] == "safety_no_key" and session.played.count("safety_checkin") == 2


async def test_pressing_two_with_the_recording_unproven_reaches_no_consultant() -> None:
    session = Session(["2"])
    result = await _run(session, proven=False)
    assert result.outcome is Outcome.HELP_UNSERVED and result.pressed_two
    assert "recording" in result.detail


async def test_hanging_up_in_the_greeting_or_after_one_keeps_the_truth() -> None:
    assert (await _run(Session(["1"], hang_up_on="safety_greeting"))).outcome is Outcome.NO_KEY
    assert (await _run(Session(["1"], hang_up_on="safety_thanks"))).outcome is Outcome.WELL


async def test_a_personal_call_skips_the_check_in() -> None:
    session = Session(["1"])
    result = await _run(session, mode=MODE_CONSULTANT, proven=False)
    assert session.played == ["safety_greeting", "safety_connecting"]
    assert result.outcome is Outcome.HELP_UNSERVED and not result.pressed_two
