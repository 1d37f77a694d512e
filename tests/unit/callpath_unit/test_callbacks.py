"""Call-backs, built from a CallbackSetup (no engine). Every originate ends in one report to
the core: answered, refused by Asterisk, AMI down, timed out or crashed (the reserved
consultant is free again). The called-back citizen's session: unknown call, reservation
ended, hang-up during the greeting. Requests kept for later, and those an engine left."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ami.fake_ami import FakeAmi

from acd.driver import AcdDriver
from acd.events import CallAbandoned, CallArrived, CallbackAccepted, ConsultantLoggedIn
from acd.model import ConsultantState, Language, Priority
from callpath.callbacks import Callbacks, CallbackSetup, journal_sizes
from callpath.ports import AmiLink
from cti.ami.client import AmiEventSource
from cti.ami.fanout import Fanout
from cti.ami.messages import AmiEventsDropped
from ivr.agi import AgiSession

from .support import (
    HANGUP,
    Alarms,
    FakeCallLog,
    FakePipeline,
    acd_driver,
    agi_call,
    ami_link,
    event_source,
    eventually,
    replies,
)

CALL = "1764355829.7"


class BrokenAmi:
    """An AMI link whose Originate fails the way ``failure`` says."""

    def __init__(self, failure: BaseException) -> None:
        self.failure = failure
        self.originates = 0
        self.connected = True
        self._fanout: Fanout[Any] = Fanout(AmiEventsDropped, label="broken")

    def subscribe(self, maxsize: int | None = None, name: str | None = None) -> Any:
        return self._fanout.subscribe(maxsize or 100, name)

    async def action(self, name: str, timeout: float | None = None, **headers: Any) -> Any:
        self.originates += name == "Originate"
        raise self.failure


class Rig:
    def __init__(
        self,
        tmp_path: Path,
        ami: AmiLink,
        acd: AcdDriver | None = None,
        events: AmiEventSource | None = None,
    ) -> None:
        self.acd = acd or acd_driver(tmp_path / "acd")
        self.calls = FakeCallLog()
        self.pipeline = FakePipeline()
        self.alarms = Alarms()
        self.hung_up: list[str] = []
        self.callbacks = Callbacks(
            CallbackSetup(
                acd=self.acd,
                ami=ami,
                calls=self.calls,
                recordings=self.pipeline,
                acd_settings=self.acd.settings,
                default_language="ko",
                prompts_dir="/var/lib/dasan/prompts",
                requests_dir=tmp_path / "callbacks",
                hangup_channel=self._hangup,
                alarm=self.alarms,
                events=events,
            )
        )

    async def _hangup(self, channel: str) -> None:
        self.hung_up.append(channel)

    def reserve(self, call_id: str = CALL) -> None:
        """A waiting caller takes the call-back; c0001 comes ready and is reserved for it."""
        self.acd.feed(CallArrived(call_id, Language("ko"), "general", Priority.NORMAL))
        self.callbacks.accepted(call_id, "ko")
        self.acd.feed(CallbackAccepted(call_id, "01012345678"))
        self.acd.feed(ConsultantLoggedIn("c0001", ready=True))
        assert self.acd.state.consultant_state("c0001") is ConsultantState.RINGING


def journal(tmp_path: Path) -> str:
    return "".join(p.read_text() for p in (tmp_path / "acd").glob("acd-*.jsonl"))


@pytest.mark.parametrize(
    "failure", [TimeoutError(), RuntimeError("bug in the AMI client")], ids=["timeout", "crash"]
)
async def test_a_failed_originate_releases_the_consultant(
    tmp_path: Path, failure: BaseException
) -> None:
    ami = BrokenAmi(failure)
    rig = Rig(tmp_path, ami)
    try:
        rig.reserve()
        await eventually(lambda: CALL not in rig.acd.state.calls, "CallbackFailed reported")
        assert ami.originates == 1
        assert rig.acd.state.consultant_state("c0001") is ConsultantState.READY
    finally:
        rig.acd.close()
    assert '"type": "CallbackFailed"' in journal(tmp_path)  # the outcome is on record


async def test_asterisk_refusing_the_originate_releases_the_consultant(tmp_path: Path) -> None:
    async with ami_link() as (fake, ami):
        rig = Rig(tmp_path, ami)
        rig.reserve()
        await eventually(lambda: CALL not in rig.acd.state.calls, "CallbackFailed reported")
        assert [a["Action"] for a in fake.actions if a["Action"] == "Originate"] == ["Originate"]
        assert rig.acd.state.consultant_state("c0001") is ConsultantState.READY
        rig.acd.close()
    assert '"type": "CallbackFailed"' in journal(tmp_path)


async def test_ami_down_releases_the_consultant(tmp_path: Path) -> None:
    async with ami_link() as (fake, ami):
        await fake.close()  # the PBX's manager is gone and does not come back
        await eventually(lambda: not ami.connected, "link down")
        rig = Rig(tmp_path, ami)
        rig.reserve()
        await eventually(lambda: CALL not in rig.acd.state.calls, "CallbackFailed reported")
        assert rig.acd.state.consultant_state("c0001") is ConsultantState.READY
        rig.acd.close()


async def answered_originate(fake: FakeAmi, rig: Rig) -> str:
    """Asterisk accepts the Originate and reports the citizen's answer; the channel id."""
    await eventually(lambda: any(a["Action"] == "Originate" for a in fake.actions), "originate")
    sent = next(a for a in fake.actions if a["Action"] == "Originate")
    assert "01012345678" in sent["Channel"] and sent["Context"] == "dasan-callback"
    assert f"DASAN_CALL={CALL}" in sent["Variable"] and "DASAN_LANG=ko" in sent["Variable"]
    fake.event("OriginateResponse", ("Response", "Success"), ("Uniqueid", sent["ChannelId"]))
    return sent["ChannelId"]


@pytest.mark.parametrize("via", ["ami", "live"])
async def test_an_answered_call_back_whose_citizen_hangs_up_in_the_greeting(
    tmp_path: Path, via: str
) -> None:
    async with ami_link() as (fake, ami), event_source(via, ami) as events:
        fake.accept_actions.add("Originate")
        rig = Rig(tmp_path, ami, events=events)
        rig.reserve()
        channel_id = await answered_originate(fake, rig)
        rec = "/var/spool/asterisk/recording/2026/12/03/cb.wav"
        script = replies(
            {
                "GET VARIABLE DASAN_CALL": f"200 result=1 ({CALL})",
                "GET VARIABLE DASAN_REC": f"200 result=1 ({rec})",
                "STREAM FILE /var/lib/dasan/prompts/ko/callback_greeting": HANGUP,
            }
        )
        async with agi_call(rig.callbacks.handle, script, uniqueid=channel_id) as peer:
            pass
        # Read before the hangup: with AGIEXITONHANGUP no command reaches a hung-up channel.
        assert rig.pipeline.closed == [(channel_id, rec)]
        assert rig.calls.kinds() == ["started", "ended"]
        assert rig.calls.writes[0][1:] == (channel_id, (CALL, "01012345678"))
        assert rig.acd.ticket(CALL) is None  # closed
        assert "SET VARIABLE DASAN_DONE 1" not in peer.commands  # the dialplan's fallback
        rig.acd.close()  # the journal's thread has written every line once closed
    assert '"type": "CallbackAnswered"' in journal(tmp_path)


async def test_a_session_for_an_unknown_call_is_left_to_the_dialplan(tmp_path: Path) -> None:
    rig = Rig(tmp_path, BrokenAmi(TimeoutError()))
    script = replies({"GET VARIABLE DASAN_CALL": "200 result=1 (no-such-call)"})
    async with agi_call(rig.callbacks.handle, script) as peer:
        pass
    assert peer.commands == ["GET VARIABLE DASAN_CALL"]
    assert rig.calls.writes == []
    rig.acd.close()


async def test_a_session_after_the_reservation_ended_is_not_served(tmp_path: Path) -> None:
    async with ami_link() as (fake, ami):
        fake.accept_actions.add("Originate")
        rig = Rig(tmp_path, ami)
        rig.reserve()
        channel_id = await answered_originate(fake, rig)
        # The reservation ends before the citizen's session starts (the core expired it, or
        # the call was withdrawn): the consultant may be busy with someone else by now.
        rig.acd.feed(CallAbandoned(CALL))
        assert rig.acd.state.consultant_state("c0001") is not ConsultantState.RINGING
        script = replies({"GET VARIABLE DASAN_CALL": f"200 result=1 ({CALL})"})
        async with agi_call(rig.callbacks.handle, script, uniqueid=channel_id) as peer:
            pass
        assert peer.commands == ["GET VARIABLE DASAN_CALL"]
        assert rig.calls.writes == []
        rig.acd.close()


async def test_a_request_for_later_is_kept(tmp_path: Path) -> None:
    rig = Rig(tmp_path, BrokenAmi(TimeoutError()))

    async def handler(session: AgiSession) -> None:
        await rig.callbacks.request_later(session, "mn", reason="after-hours", kind="sms")

    async with agi_call(handler, replies({})):
        pass
    (line,) = (tmp_path / "callbacks" / "requests.jsonl").read_text().splitlines()
    kept = json.loads(line)
    assert (kept["kind"], kept["language"], kept["reason"]) == ("sms", "mn", "after-hours")
    assert kept["number"] == "01012345678"
    rig.acd.close()


async def test_call_backs_a_dead_engine_left_pending_are_kept_once_with_an_alarm(
    tmp_path: Path,
) -> None:
    # The earlier engine: a caller took the call-back offer, then the engine died.
    earlier = acd_driver(tmp_path / "acd")
    earlier.feed(CallArrived("call-1", Language("ko"), "general", Priority.NORMAL))
    earlier.feed(CallbackAccepted("call-1", "01012345678"))
    earlier.close()
    left = journal_sizes(tmp_path / "acd")
    rig = Rig(tmp_path, BrokenAmi(TimeoutError()))
    await rig.callbacks.keep_left_pending(left)
    await rig.callbacks.keep_left_pending(left)  # a second start keeps it once
    requests = (tmp_path / "callbacks" / "requests.jsonl").read_text().splitlines()
    assert [json.loads(line)["call_id"] for line in requests] == ["call-1"]
    assert json.loads(requests[0])["number"] == "01012345678"
    assert json.loads(requests[0])["reason"] == "engine-stopped"
    assert rig.alarms.raised == [("callbacks", "left-pending")]
    rig.acd.close()
