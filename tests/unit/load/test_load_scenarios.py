"""Rendered SIPp scenarios: complete, well-formed, every jump lands, callers map back."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dasan.load.profile import Profile, load_profile, profile_names
from dasan.load.runner import stage_plan
from dasan.load.scenarios import caller_prefix, render_citizen, render_consultants, talk_bins
from dasan.load.traffic import classify_caller, stage_type_index, uac_args

AUDIO = Path("/tmp/never-read.wav")


def _check(xml: str) -> ET.Element:
    assert "{{" not in xml and "}}" not in xml
    root = ET.fromstring(xml.encode("latin-1"))  # SIPp reads scenarios as ISO-8859-1
    labels = {e.get("id") for e in root.iter("label")}
    for element in root.iter():
        for attr in ("next", "ontimeout"):
            target = element.get(attr)
            if target is not None:
                assert target in labels, f"{element.tag} {attr}={target} has no label"
    return root


def _profiles() -> list[Profile]:
    return [load_profile(n) for n in profile_names()]


@pytest.mark.parametrize("profile", _profiles(), ids=lambda p: p.name)
def test_every_citizen_scenario_is_complete(profile: Profile) -> None:
    for index, call_type in enumerate(profile.mix):
        root = _check(render_citizen(profile, call_type, index, AUDIO))
        branches = [e for e in root.iter("nop") if (e.get("next") or "").startswith("patience_")]
        assert len(branches) == (profile.bins if profile.abandon.share > 0 else 0)
        assert all(0 < float(e.get("chance") or 0) <= 1 for e in branches)


@pytest.mark.parametrize("profile", _profiles(), ids=lambda p: p.name)
def test_consultants_pick_one_talk_bin_per_call(profile: Profile) -> None:
    root = _check(render_consultants(profile, AUDIO))
    branches = [e for e in root.iter("nop") if (e.get("next") or "").startswith("talk_")]
    assert len(branches) == profile.bins
    assert branches[-1].get("chance") is None  # the last branch always catches the rest
    waits = [e for e in root.iter("recv") if e.get("request") == "BYE" and e.get("timeout")]
    assert sorted(int(e.get("timeout") or 0) for e in waits) == sorted(
        round(t * 1000) for t in talk_bins(profile)
    )


def test_the_pbx_may_hang_up_during_the_key_presses() -> None:
    profile = load_profile("smoke")
    xml = render_citizen(profile, profile.mix[0], 0, AUDIO)
    assert '<recv request="BYE" optional="global" next="bye"/>' in xml
    assert xml.index('optional="global"') < xml.index("play_pcap_audio")


def test_info_dtmf_uses_cseqs_below_the_citizens_bye() -> None:
    profile = load_profile("smoke")
    info = next(t for t in profile.mix if t.dtmf == "info")
    xml = render_citizen(profile, info, 1, AUDIO)
    cseqs = [int(n) for n in re.findall(r"CSeq: (\d+) INFO", xml)]
    bye = int(re.findall(r"CSeq: (\d+) BYE", xml)[0])
    assert cseqs and max(cseqs) < bye
    assert "Signal=1" in xml and "Signal=2" in xml


def test_callers_encode_stage_and_call_type() -> None:
    profile = load_profile("stress")
    index = stage_type_index(12, 2)
    caller = caller_prefix(index) + "173"
    assert classify_caller(profile, caller) == (profile.mix[2].name, 12)
    assert classify_caller(profile, "01099998888") == ("", -1)
    assert classify_caller(profile, caller_prefix(stage_type_index(0, 99)) + "1") == ("", -1)
    with pytest.raises(ValueError, match="range"):
        caller_prefix(10_000)


def test_uac_arguments_bound_calls_and_rate() -> None:
    args = uac_args(("127.0.0.1", 5060), 17, 0.175)
    assert args[0] == "127.0.0.1:5060"
    assert args[args.index("-m") + 1] == "17"
    assert args[args.index("-r") + 1] == "0.175"
    assert args[args.index("-l") + 1] == "17"  # never throttled by SIPp's default limit
    assert "-trace_rtt" in args


def test_a_plain_profile_is_one_stage_of_the_planned_calls() -> None:
    profile = load_profile("smoke").bounded(calls=12)
    (stage,) = stage_plan(profile)
    assert stage.calls == 12
    assert stage.rate == pytest.approx(profile.effective_rate)


def test_a_stress_ramp_is_bounded_by_calls_and_duration() -> None:
    profile = load_profile("stress").bounded(calls=300, duration_s=1000)
    stages = stage_plan(profile)
    assert [s.calls for s in stages] == [80, 160, 60]
    assert [s.rate for s in stages[:3]] == [4.0, 8.0, 12.0]
    short = stage_plan(load_profile("stress").bounded(duration_s=45))
    assert len(short) == 3  # stages start at 0, 20 and 40 s
