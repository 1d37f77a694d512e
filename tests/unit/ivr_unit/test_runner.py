"""run_menu over a scripted AGI session: prompts, channel language, keys, speech, outcome."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from ivr.agi import AgiHangup
from ivr.hours import ServiceHours
from ivr.keys import KeyQueue
from ivr.menu.loader import Menu, load_menu
from ivr.menu.stepper import ALL_KEYS
from ivr.prompts.manifest import PromptManifest
from ivr.runner import IvrOutcome, PromptPaths, SpeechInput, run_menu
from ivr.speech import SpeechInputError

from .fake_call import Answer, Barge, FakeCall, FakeRecognizer, HangUp, Keys, Say, Silence
from .helpers import WEEKDAY_NIGHT, WEEKDAY_NOON

PBX = "/var/lib/dasan/prompts"
SPOOL = "/var/spool/dasan/speech"
MINIMAL = Path(__file__).parents[2] / "fixtures" / "menus" / "minimal.yaml"


def files_in(folder: Path) -> list[Path]:
    return list(folder.iterdir())


class Clock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=2)
        return self.now


async def run(
    menu: Menu,
    answers: list[Answer],
    *,
    at: dt.datetime = WEEKDAY_NOON,
    speech_dir: Path | None = None,
    native_format: str = "(ulaw)",
    fail: Exception | None = None,
) -> tuple[IvrOutcome, FakeCall, FakeRecognizer]:
    call = FakeCall(answers, speech_dir=speech_dir, native_format=native_format)
    recognizer = FakeRecognizer(call, fail)
    speech = None
    if speech_dir is not None:
        speech = SpeechInput(stream=recognizer, host_dir=speech_dir, pbx_dir=SPOOL)
    outcome = await run_menu(call, menu, PromptPaths(PBX), speech, Clock(at))
    return outcome, call, recognizer


async def test_english_caller_is_routed_to_an_english_consultant(menu: Menu) -> None:
    outcome, call, _ = await run(menu, [Keys("2")])
    assert outcome.target == "foreign_en" and outcome.service == "foreign_en"
    assert outcome.language == "en" and outcome.skill == "interpretation"
    assert call.channel == {"CHANNEL(language)": "en"}
    assert call.played() == [
        f"{PBX}/ko/welcome",
        *(f"{PBX}/{lang}/language_option" for lang in ("en", "zh", "ja", "vi")),
        f"{PBX}/mn/language_option",
        f"{PBX}/en/recorded_notice",
    ]
    assert ("GET DATA", f"{PBX}/mn/language_option", "1000", "1") in call.commands
    # The language is set before the first prompt in that language.
    set_at = call.commands.index(("SET VARIABLE", "CHANNEL(language)", "en"))
    assert set_at < call.commands.index(("STREAM FILE", f"{PBX}/en/recorded_notice", ALL_KEYS))


async def test_silent_caller_reaches_a_general_consultant_in_korean(menu: Menu) -> None:
    outcome, call, _ = await run(menu, [])
    assert outcome.target == "general" and outcome.language == "ko"
    assert call.channel == {"CHANNEL(language)": "ko"}
    # One pass of each menu, no re-prompt loop.
    assert call.played()[-1] == f"{PBX}/ko/main_menu"
    assert call.played().count(f"{PBX}/ko/main_menu") == 1
    assert not any(c[0] == "RECORD FILE" for c in call.commands)  # no speech without a recognizer


async def test_a_key_during_the_welcome_is_kept_and_the_welcome_heard_out(menu: Menu) -> None:
    outcome, call, _ = await run(menu, [Barge("3")])
    assert outcome.target == "foreign_zh" and outcome.language == "zh"
    welcome = ("STREAM FILE", f"{PBX}/ko/welcome", ALL_KEYS)
    assert call.commands[:2] == [welcome, welcome]  # stopped by the key, then played on
    assert f"{PBX}/mn/language_option" not in call.played()  # the kept key answered it


async def test_keys_typed_ahead_are_used_in_order_each_once(menu: Menu) -> None:
    # "1 1" during the welcome: Korean, then the general line, without hearing any menu.
    outcome, call, _ = await run(menu, [Barge("1"), Barge("1")])
    assert (outcome.target, outcome.language) == ("general", "ko")
    assert [c[1] for c in call.commands if c[0] == "STREAM FILE"] == [f"{PBX}/ko/welcome"] * 3
    assert not any(c[0] in ("GET DATA", "WAIT FOR DIGIT") for c in call.commands)
    digits = [(e["node"], e["value"]) for e in outcome.journey["entries"] if e["event"] == "digits"]
    assert digits == [("language", "1"), ("main_menu", "1")]


async def test_the_callers_key_queue_is_the_one_the_menu_uses(menu: Menu) -> None:
    """The queue the engine's witness (AMI) feeds is the menu's even though it starts empty
    (it once was swapped for a private one, so every witnessed key was "left unused"): keys
    AGI returned and the witness reports late are each one key, none left over."""
    keys = KeyQueue(witnessed=True, confirm_wait_s=0.01)
    call = FakeCall([Keys("1"), Keys("2")])
    outcome = await run_menu(call, menu, PromptPaths(PBX), None, Clock(WEEKDAY_NOON), keys=keys)
    assert (outcome.language, outcome.target) == ("ko", "transport")
    keys.witnessed_key("1")  # the witness's reports of those two keys, late
    keys.witnessed_key("2")
    assert not keys, keys.pending()


async def test_progress_is_reported_while_the_caller_is_in_the_menu(menu: Menu) -> None:
    seen = []
    call = FakeCall([Keys("1"), Keys("2")])
    outcome = await run_menu(
        call, menu, PromptPaths(PBX), None, Clock(WEEKDAY_NOON), on_progress=seen.append
    )
    assert outcome.target == "transport"
    in_menu = [s for s in seen if s.node == "main_menu"]
    assert in_menu and in_menu[0].language == "ko"
    assert any(e.mark.value == "language" for e in in_menu[0].journey)
    assert len({len(s.journey) for s in seen}) == len(seen)  # each report adds entries


async def test_korean_service_by_keys_with_priority(menu: Menu) -> None:
    outcome, _, _ = await run(menu, [Keys("1"), Keys("6")])
    assert (outcome.target, outcome.priority, outcome.language) == ("care129", 3, "ko")
    assert json.loads(json.dumps(outcome.to_json(), ensure_ascii=False))["target"] == "care129"
    visited = [e["node"] for e in outcome.journey["entries"] if e["event"] == "enter"]
    assert visited[-2:] == ["main_menu", "route_care129"]


async def test_default_priority(menu: Menu) -> None:
    outcome, _, _ = await run(menu, [Keys("1"), Keys("2")])
    assert (outcome.target, outcome.priority) == ("transport", 5)


async def test_key_during_a_reprompt_lead_prompt(menu: Menu) -> None:
    outcome, call, _ = await run(menu, [Keys("1"), Keys("#"), Barge("4")])
    assert outcome.target == "water_tax"
    assert f"{PBX}/ko/invalid_choice" in call.played()


async def test_spoken_answer_confirmed_by_key(menu: Menu, tmp_path: Path) -> None:
    outcome, call, recognizer = await run(
        menu, [Keys("1"), Say("버스", 0.8), Keys("1")], speech_dir=tmp_path
    )
    assert outcome.target == "transport"
    records = [c for c in call.commands if c[0] == "RECORD FILE"]
    assert records[0] == (
        "RECORD FILE",
        f"{SPOOL}/1763450000.42-1",
        "wav",
        "0123456789*#",
        "2000",  # the node's timeout: a tone on the line is no input when the time is up
        "1",
    )
    assert records[1][1] == f"{SPOOL}/1763450000.42-2"
    assert recognizer.requests[0] == (
        str(tmp_path / "1763450000.42-1.wav"),
        recognizer.requests[0][1],
    )
    assert "버스" in recognizer.requests[0][1]
    assert files_in(tmp_path) == []  # recordings are deleted once recognized
    speech = [e for e in outcome.journey["entries"] if e["event"] == "speech"]
    assert speech == [
        {
            "t_ms": speech[0]["t_ms"],
            "node": "main_menu",
            "event": "speech",
            "value": "버스",
            "confidence": 0.8,
        }
    ]
    assert f"{PBX}/ko/svc_transport" in call.played()


async def test_spoken_answer_confirmed_by_voice_on_a_wideband_call(
    menu: Menu, tmp_path: Path
) -> None:
    outcome, call, recognizer = await run(
        menu, [Keys("1"), Say("복지"), Say("네")], speech_dir=tmp_path, native_format="(g722)"
    )
    assert outcome.target == "welfare"
    assert {c[2] for c in call.commands if c[0] == "RECORD FILE"} == {"wav16"}
    assert recognizer.requests[1][1] == ("네", "예", "아니요")
    assert call.commands.count(("GET VARIABLE", "CHANNEL(audionativeformat)")) == 1


async def test_recognizer_failure_counts_as_no_input(menu: Menu, tmp_path: Path) -> None:
    outcome, call, _ = await run(
        menu, [Keys("1"), Say("버스"), Keys("5")], speech_dir=tmp_path, fail=SpeechInputError("bad")
    )
    # Counted as no input: on to a general consultant, no re-prompt loop.
    assert outcome.target == "general"
    assert f"{PBX}/ko/no_input" not in call.played()


async def test_unrecognized_speech_is_no_input(menu: Menu, tmp_path: Path) -> None:
    outcome, _, _ = await run(menu, [Keys("1"), Say("피자"), Keys("3")], speech_dir=tmp_path)
    assert outcome.target == "general"


async def test_silence_after_hours_takes_the_korean_line(menu: Menu) -> None:
    outcome, call, _ = await run(menu, [Keys("2"), Silence()], at=WEEKDAY_NIGHT)
    assert (outcome.target, outcome.language) == ("general", "en")
    assert call.played()[-1] == f"{PBX}/en/closed_options"


async def test_outside_hours_callback_offer(menu: Menu) -> None:
    outcome, call, _ = await run(menu, [Keys("5"), Keys("1")], at=WEEKDAY_NIGHT)
    assert (outcome.target, outcome.language, outcome.service) == ("callback", "vi", None)
    assert f"{PBX}/vi/foreign_closed" in call.played()
    assert call.played()[-1] == f"{PBX}/vi/callback_accepted"


async def test_hangup_propagates(menu: Menu) -> None:
    with pytest.raises(AgiHangup):
        await run(menu, [Keys("1"), HangUp()])


async def test_hungup_flag_stops_the_ivr(menu: Menu) -> None:
    call = FakeCall([Keys("1")])
    call.hungup.set()
    with pytest.raises(AgiHangup):
        await run_menu(call, menu, PromptPaths(PBX), None, Clock(WEEKDAY_NOON))
    assert call.commands == []


async def test_language_is_set_on_the_channel_even_if_the_menu_never_chooses(
    manifest: PromptManifest, hours: ServiceHours
) -> None:
    minimal = load_menu(MINIMAL, manifest, hours)
    call = FakeCall([Keys("2")])
    outcome = await run_menu(
        call, minimal, PromptPaths(PBX), None, Clock(WEEKDAY_NOON), language="en"
    )
    assert (outcome.target, outcome.language, outcome.priority) == ("welfare", "en", 2)
    assert call.played() == [f"{PBX}/en/welcome", f"{PBX}/en/main_menu"]
    assert call.commands[-1] == ("SET VARIABLE", "CHANNEL(language)", "en")


async def test_key_during_the_recording_notice_is_kept_and_the_notice_heard_out(
    menu: Menu,
) -> None:
    # English by "2", desks closed; the caller presses "3" (the Korean line) during the notice.
    outcome, call, _ = await run(menu, [Keys("2"), Barge("3")], at=WEEKDAY_NIGHT)
    notice = f"{PBX}/en/recorded_notice"
    plays = [c for c in call.commands if c[0] == "STREAM FILE" and c[1] == notice]
    # Stopped once by the key, then played on from where it stopped, still listening.
    assert plays == [("STREAM FILE", notice, ALL_KEYS), ("STREAM FILE", notice, ALL_KEYS)]
    assert outcome.target == "general"
    # The typed-ahead key skipped the closed notice and answered the offers.
    assert f"{PBX}/en/foreign_closed" not in call.played()
    assert f"{PBX}/en/closed_options" not in call.played()
