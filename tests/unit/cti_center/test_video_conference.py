"""Video calls' interpreters and outside parties join a ConfBridge conference
(cti/center/conference.py); voice calls keep BridgeAdd. Over the live center's fake AMI."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from cti.center.screenpop import is_video
from cti.control import (
    ConsultantState,
    InvalidState,
    NoInterpreterAvailable,
    PartyKind,
    PartyState,
    VideoCallRequired,
)
from tests.unit.cti_center.fakes import event
from tests.unit.cti_center.test_live_center import (
    AGENT,
    BOSS,
    CITIZEN,
    ME,
    Rig,
    _talking_call,
    eventually,
    rig,
)

__all__ = ["rig"]  # the fixture, used by name


async def test_a_video_calls_interpreter_joins_a_conference_with_video(rig: Rig) -> None:
    """A video call: the citizen's side (Local) joins the citizen's bridge, the consultant's
    leg moves into the conference, the interpreter is originated into it offered the citizen's
    codec; hold is refused; the consultant's hangup hangs up the citizen's side."""
    rig.ami.variables[(CITIZEN, "CHANNEL(videonativeformat)")] = "(vp8)"
    await _talking_call(rig)
    party = await rig.center.add_interpreter(ME, "u-1", "en")
    assert party.kind is PartyKind.INTERPRETER
    await eventually(lambda: len(rig.ami.named("Originate")) == 2, "the interpreter dialed")
    local, interp = rig.ami.named("Originate")
    assert (local["Channel"], local["Application"], local["Data"], local["Codecs"]) == (
        "Local/vid-u-1@dasan-cti-conf-citizen/n",
        "BridgeAdd",
        CITIZEN,
        "ulaw,vp8",
    )
    assert {"Channel": AGENT, "Variable": "DASAN_CONF", "Value": "vid-u-1"} in rig.ami.named(
        "Setvar"
    )
    assert rig.ami.named("Redirect") == [
        {"Channel": AGENT, "Context": "dasan-cti-conf", "Exten": "s", "Priority": "1"}
    ]
    assert (interp["Channel"], interp["Application"], interp["Data"], interp["Codecs"]) == (
        "PJSIP/c0462",
        "ConfBridge",
        "vid-u-1,dasan-video,dasan-video-party",
        "ulaw,vp8",
    )
    await eventually(
        lambda: any(
            p.kind is PartyKind.INTERPRETER and p.state is PartyState.CONNECTED
            for p in rig.center.core.book.get("u-1").parties.values()
        ),
        "the interpreter connected",
    )
    with pytest.raises(InvalidState):
        await rig.center.hold(ME, "u-1")
    rig.ami.emit(event("Hangup", Uniqueid="u-1-leg", Channel=AGENT))
    await eventually(
        lambda: (
            {local["ChannelId"], interp["ChannelId"]}
            <= {h["Channel"] for h in rig.ami.named("Hangup")}
        ),
        "the citizen's side and the interpreter hung up",
    )


async def test_a_voice_calls_interpreter_still_joins_the_bridge(rig: Rig) -> None:
    rig.ami.variables[(CITIZEN, "CHANNEL(videonativeformat)")] = "(nothing)"
    await _talking_call(rig)
    await rig.center.add_interpreter(ME, "u-1", "en")
    await eventually(lambda: bool(rig.ami.named("Originate")), "the interpreter dialed")
    (originate,) = rig.ami.named("Originate")
    assert originate["Application"] == "BridgeAdd" and "Codecs" not in originate
    assert not rig.ami.named("Redirect")


async def test_an_outside_party_on_a_video_call_joins_the_conference_too(rig: Rig) -> None:
    rig.ami.variables[(CITIZEN, "CHANNEL(videonativeformat)")] = "(h264)"
    await _talking_call(rig)
    await rig.center.add_third_party(ME, "u-1", "0221330000")
    await eventually(lambda: len(rig.ami.named("Originate")) == 2, "the outside party dialed")
    local, outside = rig.ami.named("Originate")
    assert local["Codecs"] == "ulaw,h264"
    assert (outside["Application"], outside["Data"]) == (
        "ConfBridge",
        "vid-u-1,dasan-video,dasan-video-party",
    )


async def test_concurrent_requests_open_one_conference(rig: Rig) -> None:
    rig.ami.variables[(CITIZEN, "CHANNEL(videonativeformat)")] = "(vp8)"
    await _talking_call(rig)
    await asyncio.gather(
        rig.center.add_interpreter(ME, "u-1", "en"),
        rig.center.add_third_party(ME, "u-1", "0221330000"),
    )
    await eventually(lambda: len(rig.ami.named("Originate")) == 3, "both parties dialed")
    apps = [o["Application"] for o in rig.ami.named("Originate")]
    assert apps == ["BridgeAdd", "ConfBridge", "ConfBridge"]  # one citizen's side only
    assert len(rig.ami.named("Redirect")) == 1


async def test_a_video_call_gets_a_sign_language_interpreter_in_the_conference(rig: Rig) -> None:
    """``sign`` asks the ACD's interp_sign pool (in Korean): the Korean Sign Language
    interpreter is originated into the call's conference, offered the citizen's video codec."""
    await rig.center.log_in(BOSS, "c0430")
    await rig.center.set_ready(BOSS, "c0430")
    rig.ami.variables[(CITIZEN, "CHANNEL(videonativeformat)")] = "(vp8)"
    await _talking_call(rig)
    party = await rig.center.add_interpreter(ME, "u-1", "sign")
    assert (party.kind, party.address, party.language) == (
        PartyKind.INTERPRETER,
        "c0430",
        "sign",
    )
    await eventually(lambda: len(rig.ami.named("Originate")) == 2, "the interpreter dialed")
    _local, interp = rig.ami.named("Originate")
    assert (interp["Channel"], interp["Application"], interp["Codecs"]) == (
        "PJSIP/c0430",
        "ConfBridge",
        "ulaw,vp8",
    )
    assert (await rig.center.consultant("c0430")).call_id == "u-1"
    sign = next(q for q in await rig.center.queues() if q.queue_id == "interp_sign")
    assert sign.abandoned == 0


async def test_a_sign_language_interpreter_is_refused_on_a_voice_call(rig: Rig) -> None:
    """A voice call has no picture to sign into: a clear refusal, nothing dialed, no request
    left in the ACD, the sign-language interpreter still free."""
    await rig.center.log_in(BOSS, "c0430")
    await rig.center.set_ready(BOSS, "c0430")
    rig.ami.variables[(CITIZEN, "CHANNEL(videonativeformat)")] = "(nothing)"
    await _talking_call(rig)
    with pytest.raises(VideoCallRequired, match="voice call") as refused:
        await rig.center.add_interpreter(ME, "u-1", "sign")
    assert refused.value.code == "video_call_required"
    assert not rig.ami.named("Originate") and not rig.ami.named("Redirect")
    assert list(rig.driver.state.calls) == ["u-1"]
    assert (await rig.center.consultant("c0430")).state is ConsultantState.READY
    assert (await rig.center.call("u-1")).video is False  # the desktop hides the option


async def test_no_free_sign_language_interpreter_is_reported(rig: Rig) -> None:
    rig.ami.variables[(CITIZEN, "CHANNEL(videonativeformat)")] = "(vp8)"
    await _talking_call(rig)
    with pytest.raises(NoInterpreterAvailable):
        await rig.center.add_interpreter(ME, "u-1", "sign")  # nobody of interp_sign logged in
    assert list(rig.driver.state.calls) == ["u-1"]
    sign = next(q for q in await rig.center.queues() if q.queue_id == "interp_sign")
    assert sign.abandoned == 1


async def test_the_screen_pop_says_video_for_a_call_the_ivr_tagged_video(rig: Rig) -> None:
    """The desktop offers the sign-language interpreter from ``CallDetails.video``: the IVR's
    routing tag ``channel: video`` in the call log's journey."""
    await _talking_call(rig)
    record = rig.calls.records["u-1"]
    tagged = {**record.journey, "tags": {"channel": "video"}}
    rig.calls.records["u-1"] = replace(record, journey=tagged)
    assert (await rig.center.call("u-1")).video is True
    assert not is_video({"tags": {"channel": "voice"}}) and not is_video(None)
