"""SIPp scenarios for a silent stretch: a citizen whose RTP stops and resumes, a consultant
who sends no RTP at all. Rendered scenarios must stay well-formed XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dasan.sipp import AudioPause, CitizenCalls, render_citizen, render_consultants

AUDIO = Path("/tmp/audio.wav")


def actions(xml: str) -> list[str]:
    root = ET.fromstring(xml)
    return [e.get("rtp_stream", "") for e in root.iter("exec") if e.get("rtp_stream")]


def test_a_pause_stops_the_stream_then_resumes_it_after_the_keys() -> None:
    xml = render_citizen(CitizenCalls(pauses=(AudioPause(4000, 6000),)), AUDIO)
    assert actions(xml) == [f"{AUDIO},-1,0", "pause", "resume", "pause"]
    waits = [int(e.get("milliseconds", "0")) for e in ET.fromstring(xml).iter("pause")]
    assert waits == [4000, 6000]


def test_without_pauses_the_citizen_streams_for_the_whole_call() -> None:
    assert actions(render_citizen(CitizenCalls(), AUDIO)) == [f"{AUDIO},-1,0", "pause"]


def test_a_silent_consultant_never_starts_a_stream() -> None:
    assert actions(render_consultants(300, 3000, AUDIO, ())) == [f"{AUDIO},-1,0", "pause"]
    assert actions(render_consultants(300, 3000, AUDIO, (), silent=True)) == ["pause"]


@pytest.mark.parametrize(("after", "length"), [(-1, 100), (0, 0)])
def test_a_pause_must_be_real(after: int, length: int) -> None:
    with pytest.raises(ValueError, match="not an audio pause"):
        AudioPause(after, length)
