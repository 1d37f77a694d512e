"""A call stuck in AGI() on a half-open FastAGI link: the server reports the unanswered command
once, and the rescuer moves the channel to the static fallback over AMI only when it still
sits in AGI (fakes for AMI; a real loopback socket for the server)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from agi.fake_asterisk import WAIT_S, FakeAsterisk, running_server

from callpath.agi_rescue import AgiRescuer, Rescue, StuckCall
from cti.ami.messages import AmiActionError, AmiEvent, AmiResponse, Headers
from ivr.agi import AgiSession, AgiTimeout


def _response(events: tuple[AmiEvent, ...] = (), ok: bool = True) -> AmiResponse:
    return AmiResponse(
        response="Success" if ok else "Error",
        headers=Headers([("Message", "" if ok else "No such channel")]),
        events=events,
    )


class FakeAmi:
    """Answers Status from ``channels`` (channel -> (uniqueid, application)); records the
    actions it was sent."""

    connected = True

    def __init__(self, channels: Mapping[str, tuple[str, str]], dialstatus: str = "") -> None:
        self.channels = dict(channels)
        self.dialstatus = dialstatus
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def subscribe(self, maxsize: int | None = None, name: str | None = None) -> Any:
        raise AssertionError("the rescuer reads no events")

    async def action(self, name: str, timeout: float | None = None, **headers: Any) -> AmiResponse:
        self.sent.append((name, headers))
        known = self.channels.get(str(headers.get("Channel")))
        if known is None:
            raise AmiActionError(name, "No such channel", _response(ok=False))
        if name == "Status":
            uniqueid, app = known
            event = AmiEvent(
                "Status",
                Headers([("Event", "Status"), ("Uniqueid", uniqueid), ("Application", app)]),
            )
            return _response((event,))
        if name == "Getvar":
            return AmiResponse(response="Success", headers=Headers([("Value", self.dialstatus)]))
        return _response()


async def no_wait(_s: float) -> None:
    return None


STUCK = StuckCall("1764.7", "PJSIP/citizen-07", "STREAM FILE", language="en")


async def test_a_channel_still_in_agi_is_redirected_to_the_fallback_with_its_language() -> None:
    ami = FakeAmi({"PJSIP/citizen-07": ("1764.7", "AGI")})
    waited: list[float] = []

    async def sleep(s: float) -> None:
        waited.append(s)

    rescuer = AgiRescuer(ami, grace_s=3.0, sleep=sleep)
    assert await rescuer.rescue(STUCK) is Rescue.REDIRECTED
    assert waited == [3.0]  # a healthy link gets its chance to fall back by itself first
    assert [name for name, _ in ami.sent] == ["Status", "Getvar", "Setvar", "Redirect"]
    assert ami.sent[2][1] == {
        "Channel": "PJSIP/citizen-07",
        "Variable": "DASAN_LANG",
        "Value": "en",
    }
    assert ami.sent[3][1] == {
        "Channel": "PJSIP/citizen-07",
        "Context": "dasan-fallback",
        "Exten": "s",
        "Priority": "1",
    }
    assert rescuer.outcomes == {"1764.7": Rescue.REDIRECTED}


async def test_no_language_known_lets_the_fallback_ask_for_it() -> None:
    ami = FakeAmi({"PJSIP/citizen-07": ("1764.7", "AGI")})
    stuck = StuckCall("1764.7", "PJSIP/citizen-07", "GET DATA")
    assert await AgiRescuer(ami, sleep=no_wait).rescue(stuck) is Rescue.REDIRECTED
    assert [name for name, _ in ami.sent] == ["Status", "Getvar", "Redirect"]


async def test_a_channel_that_moved_on_or_is_gone_is_left_alone() -> None:
    moved = FakeAmi({"PJSIP/citizen-07": ("1764.7", "Queue")})
    assert await AgiRescuer(moved, sleep=no_wait).rescue(STUCK) is Rescue.MOVED_ON
    gone = FakeAmi({})
    assert await AgiRescuer(gone, sleep=no_wait).rescue(STUCK) is Rescue.GONE
    # The same channel name now carries another call: not ours to move.
    reused = FakeAmi({"PJSIP/citizen-07": ("1764.99", "AGI")})
    assert await AgiRescuer(reused, sleep=no_wait).rescue(STUCK) is Rescue.GONE
    for ami in (moved, gone, reused):
        assert [name for name, _ in ami.sent] == ["Status"]


async def test_a_served_call_stuck_in_the_survey_is_hung_up_not_queued_again() -> None:
    ami = FakeAmi({"PJSIP/citizen-07": ("1764.7", "AGI")})
    stuck = StuckCall("1764.7", "PJSIP/citizen-07", "GET DATA", served=True)
    assert await AgiRescuer(ami, sleep=no_wait).rescue(stuck) is Rescue.HUNG_UP
    assert [name for name, _ in ami.sent] == ["Status", "Hangup"]


async def test_a_caller_whose_conversation_already_happened_is_hung_up() -> None:
    """The link froze during the conversation: Asterisk's Dial was answered (DIALSTATUS
    ANSWER) and the caller now sits in AGI; the dialplan would end that call, so do we."""
    ami = FakeAmi({"PJSIP/citizen-07": ("1764.7", "AGI")}, dialstatus="ANSWER")
    stuck = StuckCall("1764.7", "PJSIP/citizen-07", "EXEC Dial", language="ko")
    assert await AgiRescuer(ami, sleep=no_wait).rescue(stuck) is Rescue.HUNG_UP
    assert [name for name, _ in ami.sent] == ["Status", "Getvar", "Hangup"]


async def test_the_server_reports_an_unanswered_command_once_per_session() -> None:
    told: list[tuple[str, str, str]] = []
    outcome: list[BaseException] = []

    async def on_timeout(session: AgiSession, command: str) -> None:
        told.append((session.uniqueid, session.channel, command))

    async def ivr(session: AgiSession) -> None:
        for _ in range(2):  # the second timeout of the same session is not reported again
            try:
                await session.command("STREAM FILE", "welcome", '""', timeout=0.05)
            except AgiTimeout as exc:
                outcome.append(exc)

    async with running_server({"ivr": ivr}, on_timeout=on_timeout) as server:
        fake = await FakeAsterisk.call(server.bound_port, uniqueid="1764.7")
        assert (await fake.read_command())[0] == "STREAM"  # read, never answered: frozen
        async with asyncio.timeout(WAIT_S):
            while not told or len(outcome) < 2:  # noqa: ASYNC110 - polled with a deadline
                await asyncio.sleep(0.01)
        await fake.close()
    assert told == [("1764.7", "PJSIP/citizen-00000007", "STREAM FILE")]
    assert len(outcome) == 2
