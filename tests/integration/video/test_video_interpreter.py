"""The sign-language interpreter pool joins a video call with video (issue 14), real phones.

A baresip citizen with VP8 video calls 120 and is answered by a baresip sign-language
consultant (as in test_video_call). The consultant asks for the Korean Sign Language
interpreter over the API (``{"language": "sign"}``: the ACD's ``interp_sign`` pool, the
sign-language team c0429..c0436 of the shipped roster, whose PBX endpoints take video); the engine sees video on the citizen's
channel and opens a ConfBridge conference (cti/center/conference.py): a Local channel carries
the citizen into it, the consultant's leg is redirected into it and the registered baresip
sign-language interpreter the ACD chose is originated into it, offered VP8.
After the interpreter joins, the PBX's video RTP counters go up in both directions on all
three phones' channels (the bridge profile follows the talker). The citizen's channel never
moved: its one recording covers the whole call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from common.process import port_open
from cti.ami.client import AmiClient
from dasan.baresip import BaresipPhone, Phone, RtpCounts, rtp_counts
from dasan.pbx.container import PbxContainer
from dasan.pbx.render import consultant_password, render_all, write_generated
from dasan.pbx.service import fallback_members, render_generated, video_members
from ivr.video import VIDEO_FORMATS_VARIABLE, video_codecs
from tests.integration.cti.helpers import HttpUser
from tests.integration.ivr.conftest import ALWAYS_OPEN, hours_env
from tests.integration.support import (
    EngineProcess,
    ItEnv,
    active_channels,
    dasan_json,
    eventually,
    wait_for,
)
from tests.integration.video.test_video_call import _channel, _recorded, _registered

pytestmark = pytest.mark.integration

CITIZEN = "0105550015"
# The interp_sign pool of the shipped roster: the sign-language team, who also answer the
# sign-language calls (so the case's interpreter is kept not ready until its call is talking).
INTERPRETERS = tuple(f"c{n:04d}" for n in range(429, 437))


@dataclass(frozen=True)
class Case:
    """Who takes part (a sign-language consultant, one sign-language interpreter on a phone,
    the pool's others logged out so the ACD offers this one) and how the call ends."""

    ending: str
    consultant: str
    interpreter: str

    @property
    def others(self) -> tuple[str, ...]:
        return tuple(i for i in INTERPRETERS if i not in (self.interpreter, self.consultant))


# Each case has its own people: a consultant and an interpreter wrap up for 30 s after a call.
CASES = [
    Case("citizen_hangs_up", "c0431", "c0430"),
    Case("interpreter_dropped_then_consultant_hangs_up", "c0429", "c0432"),
]
# Packets each way on each leg after the interpreter joined (15 fps -> ~2 s).
MIN_VIDEO_PACKETS = 30


@pytest.fixture(scope="module")
def engine_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {
        **hours_env(tmp_path_factory.mktemp("hours"), ALWAYS_OPEN),
        "DASAN_CONSULTANTS__STATIC_CONTACT": "",
        "DASAN_IVR__SPEECH_ENABLED": "false",
    }


@pytest.fixture(scope="module")
def video_interpreters(pbx: PbxContainer, it_env: ItEnv) -> Iterator[None]:
    """Consultant endpoints without a static contact (softphones register); the
    sign-language interpreters' endpoints take video from the roster alone (interp_sign).
    The session's configuration comes back afterwards."""
    settings = it_env.settings
    directory = settings.consultants.model_copy(update={"static_contact": ""})
    registered = settings.model_copy(update={"consultants": directory})
    video = video_members(settings)
    assert set(INTERPRETERS) <= video, "the interp_sign pool's endpoints take video"
    files = render_all(registered, fallback_members(settings), video)
    write_generated(settings.pbx_dir / "generated", files)
    pbx.cli("module reload res_pjsip.so")
    try:
        yield
    finally:
        render_generated(settings)
        pbx.cli("module reload res_pjsip.so")


@pytest.fixture
async def http(engine: EngineProcess, it_env: ItEnv) -> AsyncIterator[aiohttp.ClientSession]:
    edge = it_env.settings.http
    wait_for(lambda: port_open(edge.host, edge.port), 30, "the engine's HTTP edge")
    async with aiohttp.ClientSession() as session:
        yield session


def _phone(env: ItEnv, user: str, sip_port: int, rtp: tuple[int, int]) -> Phone:
    """A registered consultant or interpreter who answers by itself, VP8 only."""
    secret = env.settings.consultants.password_secret.get_secret_value()
    password = consultant_password(secret, user)
    return Phone(user, user, sip_port, rtp, password=password, video_codecs=("vp8",))


async def _counts(ami: AmiClient, legs: tuple[str, ...]) -> list[RtpCounts | None]:
    return [await rtp_counts(ami, leg) for leg in legs]


def _grown(before: list[RtpCounts | None], now: list[RtpCounts | None]) -> bool:
    """Every leg received and sent MIN_VIDEO_PACKETS more video packets than ``before``."""
    for old, new in zip(before, now, strict=True):
        if new is None:
            return False
        rx0, tx0 = (old.received, old.sent) if old is not None else (0, 0)
        if new.received - rx0 < MIN_VIDEO_PACKETS or new.sent - tx0 < MIN_VIDEO_PACKETS:
            return False
    return True


async def _conference_members(ami: AmiClient, conference: str) -> list[str]:
    items = await ami.action_list("ConfbridgeList", Conference=conference)
    return sorted(e.get("Channel") for e in items if e.name == "ConfbridgeList")


async def _only_interpreter(supervisor: HttpUser, case: Case) -> None:
    """The case's consultant logged in and ready, its interpreter logged in but not ready (the
    sign-language call must reach the consultant), the pool's others logged out."""
    base = "/api/consultants"
    for other in case.others:
        if (await supervisor.ok("GET", f"{base}/{other}"))["state"] != "logged_out":
            await supervisor.ok("POST", f"{base}/{other}/logout")
    for person in (case.consultant, case.interpreter):
        if (await supervisor.ok("GET", f"{base}/{person}"))["state"] == "logged_out":
            await supervisor.ok("POST", f"{base}/{person}/login")
    await supervisor.ok("POST", f"{base}/{case.consultant}/ready")
    await supervisor.ok("POST", f"{base}/{case.interpreter}/not-ready", {"reason": "break"})


@pytest.mark.timeout(240)
@pytest.mark.usefixtures("video_interpreters")
@pytest.mark.parametrize("case", CASES, ids=[c.ending for c in CASES])
async def test_interpreter_joins_a_video_call_with_video_on_all_three_legs(
    engine: EngineProcess,
    *,
    ami: AmiClient,
    it_env: ItEnv,
    http: aiohttp.ClientSession,
    tmp_path: Path,
    case: Case,
) -> None:
    work = tmp_path / "baresip"
    supervisor = await HttpUser(http, it_env.settings, "supervisor").login()
    await _only_interpreter(supervisor, case)
    citizen = Phone("citizen", CITIZEN, 5210, (32000, 32099), video_codecs=("vp8",))
    consultant_phone = _phone(it_env, case.consultant, 5200, (31000, 31099))
    interpreter_phone = _phone(it_env, case.interpreter, 5220, (33000, 33099))
    async with (
        BaresipPhone(consultant_phone, work) as consultant,
        BaresipPhone(interpreter_phone, work) as interpreter,
    ):
        await _registered(ami, consultant)
        await _registered(ami, interpreter)
        async with BaresipPhone(citizen, work, dial="sip:120@127.0.0.1") as phone:
            phones = (phone, consultant, interpreter)
            try:
                uniqueid, talked_s = await _three_way(ami, http, it_env, phones, case)
            except AssertionError as exc:
                logs = "\n---\n".join(p.log()[-2500:] for p in phones)
                raise AssertionError(f"{exc}\n{logs}\n---\n{engine.tail()}") from None

    found = await eventually(
        lambda: asyncio.to_thread(dasan_json, it_env, "calls", "--last", "10"),
        lambda calls: _recorded(calls, uniqueid) is not None,
        30,
        "the call logged with its recording",
    )
    call = _recorded(found, uniqueid)
    assert call is not None
    assert call["consultant"] == case.consultant, call
    assert call["journey"]["tags"].get("channel") == "video", call
    # One recording (the citizen's MixMonitor) at least as long as the conversation the
    # test saw, interpreter included: the citizen's channel never left its bridge.
    recorded_s = call["recording"]["duration_s"]
    assert recorded_s >= 0.95 * talked_s, (call["recording"], talked_s)
    # ... and as long as the whole call, menu included (the call log's start and end).
    call_s = (
        datetime.fromisoformat(call["ended_at"]) - datetime.fromisoformat(call["started_at"])
    ).total_seconds()
    assert recorded_s >= 0.9 * call_s, (recorded_s, call_s)
    print(
        f"recording {recorded_s} s; call {call_s:.1f} s; consultant answer to hangup {talked_s:.1f} s"
    )


async def _three_way(
    ami: AmiClient,
    http: aiohttp.ClientSession,
    env: ItEnv,
    phones: tuple[BaresipPhone, BaresipPhone, BaresipPhone],
    case: Case,
) -> tuple[str, float]:
    """Answer, add the interpreter, count video on all three legs, end as the case says.
    Returns the citizen's uniqueid and the seconds from the answer to the hangup."""
    consultant_leg = await eventually(
        lambda: _channel(ami, f"PJSIP/{case.consultant}-"), lambda c: c is not None, 40, "answered"
    )
    answered_at = time.monotonic()
    citizen_leg = await eventually(
        lambda: _channel(ami, "PJSIP/citizens-"), lambda c: c is not None, 5, "citizen leg"
    )
    assert consultant_leg is not None and citizen_leg is not None
    call_id = citizen_leg[1]
    consultant = await HttpUser(http, env.settings, case.consultant).login()
    _status, details = await eventually(
        lambda: consultant.request("GET", f"/api/calls/{call_id}"),
        lambda reply: reply[0] == 200 and reply[1]["call"]["state"] == "talking",
        15,
        "the call talking on the consultant's desktop",
    )
    assert details["video"] is True, details  # the desktop offers the sign interpreter
    supervisor = await HttpUser(http, env.settings, "supervisor").login()
    await supervisor.ok("POST", f"/api/consultants/{case.interpreter}/ready")
    party = await consultant.ok("POST", f"/api/calls/{call_id}/interpreter", {"language": "sign"})
    assert (party["address"], party["language"]) == (case.interpreter, "sign"), party
    interpreter_leg = await eventually(
        lambda: _channel(ami, f"PJSIP/{case.interpreter}-"),
        lambda c: c is not None,
        30,
        "interpreter",
    )
    assert interpreter_leg is not None
    legs = (citizen_leg[0], consultant_leg[0], interpreter_leg[0])
    members = await eventually(
        lambda: _conference_members(ami, f"vid-{call_id}"),
        lambda m: len(m) == 3,
        15,
        "citizen's side, consultant and interpreter in the conference",
    )
    assert legs[1] in members and legs[2] in members, members
    assert any(m.startswith(f"Local/vid-{call_id}@dasan-cti-conf-citizen") for m in members), (
        members
    )
    before, since = await _counts(ami, legs), time.monotonic()
    counts = await eventually(
        lambda: _counts(ami, legs),
        lambda now: _grown(before, now),
        30,
        "video RTP both ways on all three legs after the interpreter joined",
    )
    window = time.monotonic() - since
    print(f"video RTP (rx,tx) per leg after the interpreter joined, over {window:.1f} s:")
    for leg, old, new in zip(legs, before, counts, strict=True):
        assert old is not None and new is not None
        print(f"  {leg}: +{new.received - old.received} rx, +{new.sent - old.sent} tx")
    formats = [video_codecs(await _getvar(ami, leg, VIDEO_FORMATS_VARIABLE)) for leg in legs]
    assert formats == [("vp8",)] * 3, formats
    audio = await rtp_counts(ami, legs[0], "audio")
    assert audio is not None and audio.received > 0 and audio.sent > 0
    summary = await consultant.ok("GET", f"/api/calls/{call_id}")
    kinds = sorted(p["kind"] for p in summary["call"]["parties"] if p["state"] == "connected")
    assert kinds == ["citizen", "consultant", "interpreter"], summary
    if case.ending == "citizen_hangs_up":
        await ami.action("Hangup", Channel=legs[0])
    else:
        await _drop_then_consultant_hangs_up(ami, consultant, call_id, party, legs)
    talked_s = time.monotonic() - answered_at
    await eventually(lambda: active_channels(ami), lambda c: not c, 30, "everyone hung up")
    return call_id, talked_s


async def _drop_then_consultant_hangs_up(
    ami: AmiClient, consultant: HttpUser, call_id: str, party: dict[str, Any], legs: tuple[str, ...]
) -> None:
    """The interpreter leaves: citizen and consultant go on in the conference with video both
    ways; then the consultant's phone hangs up, and the engine ends the citizen's side too."""
    summary = await consultant.ok("DELETE", f"/api/calls/{call_id}/parties/{party['party_id']}")
    kinds = sorted(p["kind"] for p in summary["parties"] if p["state"] == "connected")
    assert kinds == ["citizen", "consultant"], summary
    await eventually(
        lambda: _conference_members(ami, f"vid-{call_id}"),
        lambda m: len(m) == 2 and legs[1] in m,
        15,
        "the citizen's side and the consultant left in the conference",
    )
    pair = legs[:2]
    before = await _counts(ami, pair)
    await eventually(
        lambda: _counts(ami, pair),
        lambda now: _grown(before, now),
        30,
        "video both ways on the citizen's and the consultant's legs after the interpreter left",
    )
    await ami.action("Hangup", Channel=legs[1])  # the consultant's phone hangs up


async def _getvar(ami: AmiClient, channel: str, variable: str) -> str:
    response = await ami.action("Getvar", Channel=channel, Variable=variable)
    return response.headers.get("Value")
