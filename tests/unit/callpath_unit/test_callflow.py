"""One citizen call, built from a FlowSetup (no engine): the caller hanging up in the menu,
Asterisk going away mid-call, the call log refusing the call's start, the test-only crash
hook, the IVR's progress write failing, the queue for a target, and the keys the AMI
witnesses. A real AgiServer and a fake Asterisk; a real AmiClient and the fake AMI."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from acd.driver import AcdDriver
from acd.tenants import District, Tenants
from callpath.callflow import CallFlow, FlowSetup, LiveJourney, acd_service
from callpath.ports import AmiLink
from callpath.recguard import GuardSetup
from ivr.agi import AgiSession
from ivr.listen import STOP_DIGIT
from ivr.menu.loader import MenuStore, menu_loader
from ivr.menu.state import MenuState
from ivr.runner import PromptPaths
from ivr.settings import IvrSettings
from recordings.guard import GuardPolicy

from .support import (
    CLOSE,
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

UID = "1764355829.7"
REC = f"/var/spool/dasan/recordings/{UID}.wav"
ANSWERED = "200 result=1 (1764355829.500000)"


class Desk:
    def __init__(self) -> None:
        self.later: list[str] = []  # languages of the requests kept for later
        self.accepted: list[tuple[str, str]] = []

    def accepted_offer(self, call_id: str, language: str) -> None:
        self.accepted.append((call_id, language))

    async def request_later(
        self, session: AgiSession, language: str, *, reason: str = "", kind: str = ""
    ) -> None:
        self.later.append(language)


class DeskView:
    """The call-back desk as CallFlow sees it."""

    def __init__(self, desk: Desk) -> None:
        self.accepted = desk.accepted_offer
        self.request_later = desk.request_later


class Rig:
    def __init__(
        self,
        tmp_path: Path,
        ami: AmiLink,
        *,
        failing: tuple[str, ...] = (),
        before_serve: Any = None,
        policy: GuardPolicy | None = None,
    ) -> None:
        self.acd: AcdDriver = acd_driver(tmp_path / "acd")
        self.calls = FakeCallLog(failing)
        self.pipeline = FakePipeline()
        self.desk = Desk()
        self.alarms = Alarms()
        guard = GuardSetup(
            host_path=lambda _path: None,
            pbx_spool_dir="/var/spool/dasan/recordings",
            pbx_spare_dir="/var/spool/dasan/recordings-spare",
            prompts_dir="/var/lib/dasan/prompts",
            alarm=self.alarms,
            request_callback=self.desk.request_later,
            **({"policy": policy} if policy else {}),
        )
        extra = {"before_serve": before_serve} if before_serve else {}
        self.flow = CallFlow(
            FlowSetup(
                acd=self.acd,
                ami=ami,
                calls=self.calls,
                recordings=self.pipeline,
                menus=MenuStore(menu_loader(IvrSettings())),
                callbacks=DeskView(self.desk),
                guard=guard,
                prompts=PromptPaths("/var/lib/dasan/prompts"),
                speech=lambda: None,
                default_language="ko",
                outside_dial="PJSIP/outside/sip:{number}@127.0.0.1:5092",
                hangup_channel=self._hangup,
                consultant_connected=self._connected,
                **extra,
            )
        )

    async def _hangup(self, channel: str) -> None:
        raise AssertionError(f"no channel is hung up here: {channel}")

    async def _connected(self, call_id: str, consultant: str) -> None:
        raise AssertionError("no consultant is reached here")


class NoAmi:
    """The AMI link down for the whole call (keys are then taken from AGI alone)."""

    connected = False

    def subscribe(self, maxsize: int | None = None, name: str | None = None) -> Any:
        raise AssertionError("not subscribed in these tests")

    async def action(self, name: str, timeout: float | None = None, **headers: Any) -> Any:
        raise AssertionError("no action in these tests")


def start_of_call(extra: dict[str, str]) -> Any:
    return replies(
        {"GET FULL VARIABLE": ANSWERED, "GET VARIABLE DASAN_REC": f"200 result=1 ({REC})", **extra}
    )


async def test_a_caller_hanging_up_in_the_menu_ends_the_call_and_its_recording(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path, NoAmi())
    script = start_of_call({"STREAM FILE": HANGUP, "GET DATA": HANGUP, "WAIT FOR DIGIT": HANGUP})
    async with agi_call(rig.flow.handle, script, uniqueid=UID) as peer:
        pass
    assert rig.calls.kinds()[0] == "started" and rig.calls.kinds()[-1] == "ended"
    assert "routed" not in rig.calls.kinds()
    assert rig.pipeline.closed == [(UID, REC)]
    assert "SET VARIABLE DASAN_DONE 1" not in peer.commands
    assert rig.acd.state.calls == {} and rig.acd.ticket(UID) is None
    rig.acd.close()


async def test_the_after_call_survey_moves_the_calls_end_to_the_end_of_the_channel(
    tmp_path: Path,
) -> None:
    """The dialplan's survey runs on the citizen's channel after the engine ended the call:
    the recording goes on, so the call log's end must too (it was the IVR session's end)."""
    rig = Rig(tmp_path, NoAmi())
    script = start_of_call({"STREAM FILE": HANGUP, "GET DATA": HANGUP, "WAIT FOR DIGIT": HANGUP})
    async with agi_call(rig.flow.handle, script, uniqueid=UID):
        pass
    assert rig.calls.kinds()[-1] == "ended"
    first_end = rig.calls.ends[-1]
    surveyed: list[str] = []

    served_during: list[bool] = []

    async def survey(session: AgiSession) -> None:
        surveyed.append(session.uniqueid)
        served_during.append(rig.flow.serving(session.uniqueid))
        started = time.monotonic()
        await eventually(lambda: time.monotonic() - started >= 0.2, "the survey's time passed")

    assert rig.flow.serving(UID)  # between the two sessions the channel goes on
    async with agi_call(
        lambda session: rig.flow.after_call(session, survey), replies({}), uniqueid=UID
    ):
        pass
    assert surveyed == [UID] and served_during == [True]
    assert not rig.flow.serving(UID)
    assert rig.calls.kinds()[-2:] == ["ended", "ended"]
    assert rig.calls.ends[-1] - first_end >= dt.timedelta(seconds=0.2)
    assert rig.pipeline.closed == [(UID, REC), (UID, REC)]  # handed over again, now complete
    # A second after-call session for the same channel (or an unknown one) writes nothing.
    async with agi_call(
        lambda session: rig.flow.after_call(session, survey), replies({}), uniqueid=UID
    ):
        pass
    assert len(rig.calls.ends) == 2
    rig.acd.close()


async def test_a_routed_call_whose_recording_cannot_be_proven_never_reaches_the_acd(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path, NoAmi(), policy=GuardPolicy(confirm_within=dt.timedelta(seconds=0.3)))
    script = start_of_call(
        {
            "GET DATA /var/lib/dasan/prompts/ko/recording_unavailable": "200 result=1",
            "GET DATA": "200 result=1",  # Korean, then the general line
            "WAIT FOR DIGIT": "200 result=49",
            "STREAM FILE": "200 result=0 endpos=800",
            "GET VARIABLE DASAN_MIXMON_ID": "200 result=0",  # MixMonitor never started
        }
    )
    async with agi_call(rig.flow.handle, script, uniqueid=UID) as peer:
        pass
    kinds = rig.calls.kinds()
    assert kinds[0] == "started" and kinds[-1] == "ended" and "routed" in kinds
    routed = next(args for kind, _, args in rig.calls.writes if kind == "routed")
    assert routed[0] == "ko"
    assert rig.desk.later == ["ko"]  # the apology's call-back offer, taken
    assert ("recording", f"unrecorded:{UID}") in rig.alarms.raised
    assert "SET VARIABLE DASAN_DONE 1" in peer.commands
    assert rig.acd.state.calls == {}  # never queued: no consultant hears an unrecorded call
    assert rig.pipeline.closed[0][0] == UID
    rig.acd.close()


async def test_asterisk_closing_the_session_mid_menu_is_the_callers_hang_up(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path, NoAmi())
    script = start_of_call({"STREAM FILE": CLOSE, "GET DATA": CLOSE, "WAIT FOR DIGIT": CLOSE})
    async with agi_call(rig.flow.handle, script, uniqueid=UID):
        pass
    await eventually(lambda: rig.calls.kinds()[-1:] == ["ended"], "the call's end")
    assert rig.pipeline.closed == [(UID, REC)]
    rig.acd.close()


async def test_an_agi_failure_mid_menu_leaves_the_call_to_the_fallback(tmp_path: Path) -> None:
    rig = Rig(tmp_path, NoAmi())
    refused = "510 Invalid or unknown command"
    script = start_of_call({"STREAM FILE": refused, "GET DATA": refused, "WAIT FOR DIGIT": refused})
    async with agi_call(rig.flow.handle, script, uniqueid=UID) as peer:
        pass
    # Not ended here: the call goes on in the dialplan's static fallback, still recorded.
    assert rig.calls.kinds()[0] == "started"
    assert "ended" not in rig.calls.kinds() and rig.pipeline.closed == []
    assert not any("DASAN_DONE" in c for c in peer.commands)
    assert rig.acd.state.calls == {}
    rig.acd.close()


async def test_the_call_log_refusing_the_start_leaves_the_call_to_the_fallback(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path, NoAmi(), failing=("started",))
    async with agi_call(rig.flow.handle, start_of_call({}), uniqueid=UID) as peer:
        pass
    assert rig.calls.writes == [] and rig.pipeline.closed == []
    assert not any("DASAN_DONE" in c for c in peer.commands)
    assert not any(c.startswith(("STREAM FILE", "GET DATA")) for c in peer.commands)
    rig.acd.close()


async def test_a_crash_before_serving_withdraws_the_call_and_leaves_it_to_the_fallback(
    tmp_path: Path,
) -> None:
    def crash(caller: str) -> None:
        raise RuntimeError(f"injected crash for {caller}")

    rig = Rig(tmp_path, NoAmi(), before_serve=crash)
    async with agi_call(rig.flow.handle, start_of_call({}), uniqueid=UID) as peer:
        pass
    assert rig.calls.kinds() == ["started"]  # its end comes from the CDR
    assert rig.pipeline.closed == []
    assert not any("DASAN_DONE" in c for c in peer.commands)
    rig.acd.close()


async def test_a_failing_progress_write_never_holds_up_the_caller() -> None:
    calls = FakeCallLog(failing=("progress",))
    journey = LiveJourney(calls, UID)
    journey(MenuState(menu_id="dasan120", language="ko", node="language"))
    journey(MenuState(menu_id="dasan120", language="ko", node="service"))
    await journey.flush()  # logged, not raised
    assert calls.writes == []


def test_a_korean_only_desk_chosen_in_another_language_becomes_that_languages_desk(
    tmp_path: Path,
) -> None:
    acd = acd_driver(tmp_path / "acd")
    assert acd_service(acd, "general", "ko") == "general"
    assert acd_service(acd, "general", "en") == "foreign_en"
    assert acd_service(acd, "foreign_zh", "zh") == "foreign_zh"
    assert acd_service(acd, "no-such-target", "en") == "no-such-target"
    acd.close()


@pytest.mark.parametrize("via", ["ami", "live"])
async def test_keys_witnessed_by_ami_reach_the_calls_queue(tmp_path: Path, via: str) -> None:
    async with ami_link() as (fake, ami), event_source(via, ami) as events:
        rig = Rig(tmp_path, ami)
        rig.flow = CallFlow(dataclasses.replace(rig.flow._setup, events=events))
        watcher = asyncio.create_task(rig.flow.watch_keys())
        await asyncio.sleep(0)
        queue = rig.flow.keys.open(UID)
        assert queue.witnessed  # AMI is up: AGI keys wait for their witness

        def dtmf(digit: str, direction: str = "Received", uid: str = UID) -> None:
            fake.event("DTMFEnd", ("Uniqueid", uid), ("Digit", digit), ("Direction", direction))

        dtmf(STOP_DIGIT)  # ours (ends a speech recording), never a caller's key
        dtmf("7", direction="Sent")  # played to the caller, not pressed
        dtmf("4")
        await eventually(lambda: queue.pending() != "", "the witnessed key")
        assert queue.pending() == "4"
        dtmf("9", uid="1764355829.99")  # a call not in the IVR yet: kept for it
        fake.event("Hangup", ("Uniqueid", "1764355829.99"), ("Channel", "PJSIP/x-1"))
        dtmf("5")
        await eventually(lambda: queue.pending() == "45", "the next key")
        assert rig.flow.keys.open("1764355829.99").pending() == ""  # forgotten at its hang-up
        watcher.cancel()
        rig.acd.close()


def test_keys_are_taken_from_agi_alone_while_ami_is_down(tmp_path: Path) -> None:
    rig = Rig(tmp_path, NoAmi())
    assert not rig.flow.keys.open(UID).witnessed
    rig.acd.close()


GANGNAM = District(
    id="gangnam",
    name_ko="강남구",
    name_en="Gangnam-gu",
    dial=("12001",),
    consultants=frozenset({"c0004"}),
    shared=frozenset(),
    services=("general",),
    overflow_after_s=30.0,
    unstaffed_to_city=True,
)


@pytest.mark.parametrize(
    ("tenants", "dialed", "tenant"),
    [
        (Tenants([GANGNAM]), "12001", ("gangnam",)),  # the district's number
        (Tenants([GANGNAM]), "12099", ()),  # no district's number: the city's call
        (Tenants([GANGNAM]), "", ()),  # the city's own 120
        (None, "12001", ()),  # no districts configured: the PBX is not even asked
    ],
)
async def test_a_district_number_gives_the_call_its_tenant(
    tmp_path: Path, tenants: Tenants | None, dialed: str, tenant: tuple[str, ...]
) -> None:
    rig = Rig(tmp_path, NoAmi())
    rig.flow = CallFlow(dataclasses.replace(rig.flow._setup, tenants=tenants))
    script = start_of_call(
        {
            "GET VARIABLE DASAN_DISTRICT_DIAL": f"200 result=1 ({dialed})"
            if dialed
            else "200 result=0",
            "STREAM FILE": HANGUP,
            "GET DATA": HANGUP,
            "WAIT FOR DIGIT": HANGUP,
        }
    )
    async with agi_call(rig.flow.handle, script, uniqueid=UID) as peer:
        pass
    started = next(args for kind, _, args in rig.calls.writes if kind == "started")
    assert started[2:] == tenant
    asked = "GET VARIABLE DASAN_DISTRICT_DIAL" in peer.commands
    assert asked is (tenants is not None)
    rig.acd.close()


def test_a_district_call_waits_in_its_districts_queue_only_for_its_services() -> None:
    tenants = Tenants([GANGNAM])
    assert tenants.queue_for("gangnam", "general") == "general__gangnam"
    assert tenants.queue_for("gangnam", "foreign_en") == "foreign_en"
    assert tenants.queue_for(None, "general") == "general"


def hangup_event(fake: Any, uid: str, at: float) -> None:
    fake.event("Hangup", ("Uniqueid", uid), ("Channel", "PJSIP/citizen-1"), ("Timestamp", f"{at}"))


@contextlib.asynccontextmanager
async def watched_rig(tmp_path: Path) -> AsyncIterator[tuple[Any, Rig]]:
    """The fake AMI and a call flow whose key witness (which also reads hang-ups) runs."""
    async with ami_link() as (fake, ami):
        rig = Rig(tmp_path, ami)
        watcher = asyncio.create_task(rig.flow.watch_keys())
        await asyncio.sleep(0)
        try:
            yield fake, rig
        finally:
            watcher.cancel()
            rig.acd.close()


async def test_the_pbx_hang_up_reported_after_the_session_replaces_its_estimated_end(
    tmp_path: Path,
) -> None:
    """A saturated engine notices a hang-up late (its end estimate is late), and a call left to
    the fallback or on a dead FastAGI link has no end from its session at all: AMI's Hangup,
    stamped by the PBX, gives the call log the true end."""
    async with watched_rig(tmp_path) as (fake, rig):
        script = start_of_call({"STREAM FILE": HANGUP, "GET DATA": HANGUP})
        async with agi_call(rig.flow.handle, script, uniqueid=UID):
            pass
        assert len(rig.calls.ends) == 1  # the session's own estimate
        hangup_event(fake, "1764355000.1", 1764355850.0)  # not a call of the call log
        hangup_event(fake, UID, 1764355841.25)
        await eventually(lambda: len(rig.calls.ends) == 2, "the PBX's end written")
        assert rig.calls.ends[-1] == dt.datetime.fromtimestamp(1764355841.25, dt.UTC)
        hangup_event(fake, UID, 1764355899.0)  # a repeated Hangup changes nothing
        dtmf_after = rig.flow.keys.open("1764355829.8")  # the watcher is still going
        fake.event(
            "DTMFEnd", ("Uniqueid", "1764355829.8"), ("Digit", "3"), ("Direction", "Received")
        )
        await eventually(lambda: dtmf_after.pending() == "3", "the watcher still reads")
        assert len(rig.calls.ends) == 2


async def test_a_session_running_when_the_pbx_reports_the_hang_up_ends_the_call_then(
    tmp_path: Path,
) -> None:
    async with watched_rig(tmp_path) as (fake, rig):
        hung_up = 1764355835.5  # the PBX's clock; the engine notices later

        def script(line: str) -> str:
            if line.startswith("GET FULL VARIABLE"):
                return ANSWERED
            if line.startswith("GET VARIABLE DASAN_REC"):
                hangup_event(fake, UID, hung_up)  # the call is in the log by now
                return f"200 result=1 ({REC})"
            return HANGUP if UID in rig.flow._hung_up_at else "200 result=0"

        async with agi_call(rig.flow.handle, script, uniqueid=UID):
            pass
        assert rig.calls.ends == [dt.datetime.fromtimestamp(hung_up, dt.UTC)]
        assert rig.flow._open == {} and rig.flow._hung_up_at == {}


async def test_a_hang_up_stamped_before_the_answer_never_gives_a_negative_length(
    tmp_path: Path,
) -> None:
    async with watched_rig(tmp_path) as (fake, rig):
        script = start_of_call({"STREAM FILE": HANGUP, "GET DATA": HANGUP})
        async with agi_call(rig.flow.handle, script, uniqueid=UID):
            pass
        hangup_event(fake, UID, 1764355800.0)  # before the answer at ...829.5
        await eventually(lambda: len(rig.calls.ends) == 2, "the end written")
        assert rig.calls.ends[-1] == dt.datetime.fromtimestamp(1764355829.5, dt.UTC)
