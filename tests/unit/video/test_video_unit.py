"""Sign-language video (issue 14) without a PBX: video detection on the channel, the menu's
video entry, which endpoints are offered video, the softphone configuration and the PBX's
RTP counters as read over AMI."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dasan.baresip import Phone, parse_rtcp_all, render_account, render_config, write_phone
from dasan.config import Settings
from dasan.paths import project_root
from dasan.pbx.render import render_consultants
from dasan.pbx.service import video_members
from ivr.agi import AgiHangup
from ivr.hours import load_service_hours
from ivr.menu.events import Collect, PlayPrompts, PromptFinished, RouteTo, Started
from ivr.menu.loader import Menu, load_menu
from ivr.menu.stepper import initial_state, step
from ivr.prompts.manifest import load_manifest
from ivr.video import VIDEO_ENTRY, menu_entry, negotiated_video, video_codecs

SEOUL_NOON = dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.UTC)


# --- detection ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "codecs"),
    [
        ("(vp8)", ("vp8",)),
        ("(h264|vp8)", ("h264", "vp8")),
        ("H264", ("h264",)),
        ("(nothing)", ()),
        ("", ()),
        (None, ()),
        ("(ulaw|alaw)", ()),
        ("garbage ((( |||", ()),
    ],
)
def test_video_codecs_of_a_channel(value: str | None, codecs: tuple[str, ...]) -> None:
    assert video_codecs(value) == codecs


@given(st.text())
def test_any_answer_parses_to_known_codecs_only(value: str) -> None:
    assert set(video_codecs(value)) <= {"h264", "vp8", "vp9", "h263", "h263p", "h261", "mpeg4"}


def test_a_video_call_enters_at_the_video_entry_whatever_was_dialed() -> None:
    assert menu_entry("120", ("vp8",)) == VIDEO_ENTRY
    assert menu_entry("129", ("h264",)) == VIDEO_ENTRY
    assert menu_entry("129", ()) == "129"
    assert menu_entry("", ()) == ""


class _Channel:
    def __init__(self, value: str | None = None, fail: bool = False) -> None:
        self.value, self.fail = value, fail
        self.asked: list[str] = []

    async def get_variable(self, name: str) -> str | None:
        self.asked.append(name)
        if self.fail:
            raise AgiHangup("gone")
        return self.value


async def test_negotiated_video_asks_the_channel_once() -> None:
    channel = _Channel("(vp8|h264)")
    assert await negotiated_video(channel) == ("vp8", "h264")
    assert channel.asked == ["CHANNEL(videonativeformat)"]


async def test_a_failing_channel_is_treated_as_voice() -> None:
    assert await negotiated_video(_Channel(fail=True)) == ()
    assert await negotiated_video(_Channel(None)) == ()


# --- the shipped menu -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def menu() -> Menu:
    return load_menu(None, load_manifest(), load_service_hours())


def _walk(menu: Menu, now: dt.datetime) -> list[object]:
    """A silent video caller: start at the video entry, let every prompt finish."""
    state, actions = step(menu, initial_state(menu), Started(VIDEO_ENTRY), now)
    seen: list[object] = list(actions)
    for _ in range(10):
        if not actions or not isinstance(actions[-1], PlayPrompts):
            break
        state, actions = step(menu, state, PromptFinished(), now)
        seen += actions
    return seen


def test_a_silent_video_caller_hears_the_notice_and_reaches_the_sign_language_team(
    menu: Menu,
) -> None:
    seen = _walk(menu, SEOUL_NOON)
    assert not any(isinstance(a, Collect) for a in seen), "no key is asked of a video caller"
    played = [f"{p.language}/{p.id}" for a in seen if isinstance(a, PlayPrompts) for p in a.prompts]
    assert played == ["ko/welcome"]  # the recording notice, nothing else
    route = seen[-1]
    assert isinstance(route, RouteTo) and route.target == "sign_language"
    assert route.tag("channel") == "video"


def test_outside_the_teams_hours_a_video_caller_gets_what_key_8_gets(menu: Menu) -> None:
    seen = _walk(menu, SEOUL_NOON + dt.timedelta(hours=11))  # 23:00 in Seoul
    played = [p.id for a in seen if isinstance(a, PlayPrompts | Collect) for p in a.prompts]
    assert played[:2] == ["welcome", "sign_closed"]


# --- endpoints offered video ----------------------------------------------------------------
def test_only_sign_language_staff_get_the_video_template() -> None:
    settings = Settings()
    video = video_members(settings)
    assert video, "the shipped roster has a sign-language team"
    # ... and a Korean Sign Language interpreter pool, whose phones take video too.
    assert {"c0429", "c0436"} <= video
    assert not {"c0462", "c0463"} & video  # spoken-language interpreters stay voice
    rendered = render_consultants(settings, video)
    with_video = set(
        re.findall(r"^\[(\w+)\]\(consultant-endpoint,consultant-video\)$", rendered, re.M)
    )
    assert with_video == set(video)
    assert "c0001" not in with_video
    assert render_consultants(settings).count("consultant-video") == 0


def test_video_template_and_modules_are_in_the_pbx_config() -> None:
    config = project_root() / "asterisk-config"
    assert "#include pjsip_video.conf" in (config / "pjsip.conf").read_text()
    video = (config / "pjsip_video.conf").read_text()
    assert re.search(r"^\[consultant-video\]\(!\)$", video, re.M)
    assert re.search(r"^allow = h264,vp8$", video, re.M)
    # The consultant is offered only what the caller agreed: no transcoding can bridge a gap.
    assert re.search(r"^outgoing_call_offer_pref = remote$", video, re.M)
    modules = (config / "modules.conf").read_text()
    for name in ("res_format_attr_h264", "res_format_attr_vp8"):
        assert f"load = {name}.so" in modules


# --- the softphone ----------------------------------------------------------------------------
def test_softphone_config_is_loopback_video_without_devices(tmp_path: Path) -> None:
    phone = Phone("citizen", "0105550014", sip_port=5072, rtp_ports=(32000, 32099))
    config = render_config(phone)
    assert "sip_listen\t127.0.0.1:5072" in config
    assert "net_interface\t127.0.0.1" in config  # a namespace with only loopback has no route
    assert "video_source\tfakevideo,nil" in config
    assert "rtp_ports\t32000-32099" in config
    account = render_account(phone)
    assert account.startswith("<sip:0105550014@127.0.0.1:5060>;")
    assert "video_codecs=VP8,H264" in account and "regint=0" in account
    folder = write_phone(phone, tmp_path / "citizen")
    assert sorted(p.name for p in folder.iterdir()) == ["accounts", "config", "contacts"]


def test_consultant_softphone_registers_and_answers() -> None:
    phone = Phone("c", "c0429", 5071, (31000, 31099), password="pw", video_codecs=("h264",))
    account = render_account(phone)
    assert "auth_user=c0429" in account and "auth_pass=pw" in account
    assert "answermode=auto" in account and "video_codecs=H264" in account


@pytest.mark.parametrize(
    "bad", [{"video_codecs": ("theora",)}, {"rtp_ports": (5000, 4000)}, {"rtp_ports": (80, 90)}]
)
def test_bad_softphone_settings_are_refused(bad: dict[str, object]) -> None:
    base: dict[str, object] = {
        "name": "x",
        "user": "u",
        "sip_port": 5070,
        "rtp_ports": (30000, 30010),
    }
    with pytest.raises(ValueError):
        Phone(**{**base, **bad})  # type: ignore[arg-type]


# --- the PBX's counters -----------------------------------------------------------------------
def test_rtcp_all_gives_packet_counts() -> None:
    value = (
        "ssrc=1712563519;themssrc=3471013384;lp=0;rxjitter=0.000000;rxcount=412;"
        "txjitter=0.001000;txcount=398;rlp=0;rtt=0.000000"
    )
    counts = parse_rtcp_all(value)
    assert counts is not None and (counts.received, counts.sent) == (412, 398)


@pytest.mark.parametrize("value", ["", "rxcount=1", "rxcount=x;txcount=2", "nothing"])
def test_no_stream_or_garbage_gives_no_counts(value: str) -> None:
    assert parse_rtcp_all(value) is None
