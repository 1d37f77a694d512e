"""Sign-language video (issue 14) through the real PBX with real softphones.

A baresip citizen with video (fakevideo, VP8/H.264) calls 120 and presses nothing; the IVR
sees the video on the channel, skips the audio menus and hands the call to the sign-language
team; a baresip consultant of that team, registered (no static contact), answers by itself.
The PBX relays video both ways: its RTP counters on the citizen's and the consultant's
channels go up in both directions. The call is recorded (audio) and logged as a video call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cti.ami.client import AmiClient
from dasan.baresip import VIDEO_CODECS, BaresipPhone, Phone, RtpCounts, registered, rtp_counts
from dasan.pbx.container import PbxContainer
from dasan.pbx.render import consultant_password
from dasan.pbx.service import render_generated
from ivr.video import VIDEO_FORMATS_VARIABLE, video_codecs
from tests.integration.ivr.conftest import ALWAYS_OPEN, hours_env
from tests.integration.support import (
    EngineProcess,
    ItEnv,
    active_channels,
    dasan_json,
    eventually,
)

pytestmark = pytest.mark.integration

CITIZEN = "0105550014"
# Packets each way on each leg before the call counts as video both ways (15 fps -> ~2 s).
MIN_VIDEO_PACKETS = 30


@pytest.fixture(scope="module")
def engine_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {
        **hours_env(tmp_path_factory.mktemp("hours"), ALWAYS_OPEN),
        "DASAN_CONSULTANTS__STATIC_CONTACT": "",
    }


@pytest.fixture(scope="module")
def registered_only(pbx: PbxContainer, it_env: ItEnv) -> Iterator[None]:
    """Consultant endpoints without a static contact for this module (a softphone registers);
    the session's configuration comes back afterwards."""
    settings = it_env.settings
    directory = settings.consultants.model_copy(update={"static_contact": ""})
    render_generated(settings.model_copy(update={"consultants": directory}))
    pbx.cli("module reload res_pjsip.so")
    try:
        yield
    finally:
        render_generated(settings)
        pbx.cli("module reload res_pjsip.so")


def _sign_phone(env: ItEnv, user: str) -> Phone:
    """A registered consultant of the sign-language team who answers by itself."""
    secret = env.settings.consultants.password_secret.get_secret_value()
    return Phone(
        name="consultant",
        user=user,
        password=consultant_password(secret, user),
        sip_port=5200,
        rtp_ports=(31000, 31099),
    )


async def _registered(ami: AmiClient, phone: BaresipPhone) -> None:
    try:
        await eventually(
            lambda: registered(ami),
            lambda users: phone.phone.user in users,
            20,
            f"{phone.phone.user} registered",
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{phone.log()[-3000:]}") from None


async def _channel(ami: AmiClient, prefix: str) -> tuple[str, str] | None:
    """(channel, uniqueid) of the answered channel whose name starts with ``prefix``."""
    for chan in await active_channels(ami):
        if chan.channel.startswith(prefix) and chan.get("ChannelStateDesc") == "Up":
            return chan.channel, chan.uniqueid
    return None


def _recorded(calls: list[dict[str, Any]], uniqueid: str) -> dict[str, Any] | None:
    call = next((c for c in calls if c["uniqueid"] == uniqueid), None)
    if call is None or not call.get("ended_at") or not call.get("recording"):
        return None
    return call


async def _both_ways(ami: AmiClient, channels: tuple[str, ...]) -> list[RtpCounts | None]:
    return [await rtp_counts(ami, channel) for channel in channels]


def _flowing(counts: list[RtpCounts | None]) -> bool:
    return all(
        c is not None and c.received >= MIN_VIDEO_PACKETS and c.sent >= MIN_VIDEO_PACKETS
        for c in counts
    )


async def _video_formats(ami: AmiClient, channel: str) -> tuple[str, ...]:
    response = await ami.action("Getvar", Channel=channel, Variable=VIDEO_FORMATS_VARIABLE)
    return video_codecs(response.headers.get("Value"))


# Each codec alone, so the call shows it is relayed as sent (the wrap-up after a call keeps
# a consultant busy for 30 s: each case has its own).
CASES = [("h264", "c0429"), ("vp8", "c0431")]


@pytest.mark.timeout(180)
@pytest.mark.usefixtures("registered_only")
@pytest.mark.parametrize("case", CASES, ids=[codec for codec, _ in CASES])
async def test_video_citizen_reaches_sign_language_consultant_with_video_both_ways(
    engine: EngineProcess,
    ami: AmiClient,
    it_env: ItEnv,
    tmp_path: Path,
    case: tuple[str, str],
) -> None:
    codec, consultant_id = case
    work = tmp_path / "baresip"
    citizen = Phone("citizen", CITIZEN, 5210, (32000, 32099), video_codecs=(codec,))
    async with BaresipPhone(_sign_phone(it_env, consultant_id), work) as consultant:
        await _registered(ami, consultant)
        async with BaresipPhone(citizen, work, dial="sip:120@127.0.0.1") as phone:
            uniqueid = await _talk(ami, engine, (phone, consultant), codec)

    found = await eventually(
        lambda: asyncio.to_thread(dasan_json, it_env, "calls", "--last", "10"),
        lambda calls: _recorded(calls, uniqueid) is not None,
        30,
        "the call logged with its recording",
    )
    call = _recorded(found, uniqueid)
    assert call is not None
    assert call["service"] == "sign_language", call
    assert call["consultant"] == consultant_id, call
    assert call["journey"]["tags"].get("channel") == "video", call
    # The audio is recorded as for every call, for the whole call (the video is not: README).
    assert call["recording"]["duration_s"] >= 2.0, call


async def _talk(
    ami: AmiClient, engine: EngineProcess, phones: tuple[BaresipPhone, BaresipPhone], codec: str
) -> str:
    """Wait for the answer, count video both ways on both legs, hang up; the citizen's id."""
    citizen, consultant = phones
    leg = f"PJSIP/{consultant.phone.user}-"
    try:
        consultant_leg = await eventually(
            lambda: _channel(ami, leg), lambda c: c is not None, 40, "consultant answered"
        )
    except AssertionError as exc:
        logs = f"{citizen.log()[-3000:]}\n---\n{consultant.log()[-3000:]}\n---\n{engine.tail()}"
        raise AssertionError(f"{exc}\n{logs}") from None
    citizen_leg = await eventually(
        lambda: _channel(ami, "PJSIP/citizens-"), lambda c: c is not None, 5, "citizen leg"
    )
    assert consultant_leg is not None and citizen_leg is not None
    legs = (citizen_leg[0], consultant_leg[0])
    counts = await eventually(
        lambda: _both_ways(ami, legs), _flowing, 20, "video RTP both ways on both legs"
    )
    assert _flowing(counts), (counts, citizen.log()[-2000:], consultant.log()[-2000:])
    # Passthrough: both legs carry the one codec the citizen sent, and both phones encode
    # and decode it (Asterisk has no video translator: what arrives is what was sent).
    assert [await _video_formats(ami, chan) for chan in legs] == [(codec,), (codec,)]
    name = VIDEO_CODECS[codec]
    for phone in phones:
        assert f"Set video encoder: {name}" in phone.log(), phone.log()[-2000:]
        assert f"Set video decoder: {name}" in phone.log(), phone.log()[-2000:]
    audio = await rtp_counts(ami, legs[0], "audio")
    assert audio is not None and audio.received > 0 and audio.sent > 0
    await ami.action("Hangup", Channel=legs[0])
    await eventually(lambda: active_channels(ami), lambda chans: not chans, 15, "hangup")
    return citizen_leg[1]
