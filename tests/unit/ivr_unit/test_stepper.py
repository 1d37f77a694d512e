"""The pure menu stepper on the shipped 120 menu: languages, services, hours, retries, speech."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from ivr.menu.events import (
    Collect,
    DigitsReceived,
    EndCall,
    NoInput,
    PlayPrompts,
    PromptFinished,
    PromptRef,
    RouteTo,
    SetLanguage,
    SetTags,
    SpeechRecognized,
    Started,
)
from ivr.menu.loader import Menu
from ivr.menu.state import Mark, Phase, journey_to_json
from ivr.menu.stepper import ALL_KEYS, step

from .helpers import (
    CHUSEOK_EVENING,
    SATURDAY_EVENING,
    WEEKDAY_NIGHT,
    WEEKDAY_NOON,
    Walk,
    seoul,
)

LANGUAGE_DIGITS = {"1": "ko", "2": "en", "3": "zh", "4": "ja", "5": "vi", "6": "mn"}


def test_call_starts_with_the_welcome_heard_out_then_the_language_menu(menu: Menu) -> None:
    walk = Walk(menu, WEEKDAY_NOON)
    (greeting,) = walk.start()
    # The welcome carries the recording notice: heard to the end (keys are kept, not acted on).
    assert greeting == PlayPrompts((PromptRef("welcome", "ko"),))
    walk.send(PromptFinished())
    collect = walk.last
    assert isinstance(collect, Collect)
    assert [f"{p.language}/{p.id}" for p in collect.prompts] == [
        f"{lang}/language_option" for lang in ("en", "zh", "ja", "vi", "mn")
    ]
    assert collect.max_digits == 1 and collect.timeout_ms == 1000 and not collect.speech


@pytest.mark.parametrize(("digit", "language"), sorted(LANGUAGE_DIGITS.items()))
def test_language_choice_sets_the_channel_and_plays_the_notice_in_that_language(
    menu: Menu, digit: str, language: str
) -> None:
    walk = Walk(menu, WEEKDAY_NOON)
    walk.to_language_menu()
    actions = walk.send(DigitsReceived(digit))
    assert actions[0] == SetLanguage(language)
    if language == "ko":
        # The Korean notice was in the welcome.
        assert isinstance(walk.last, Collect) and walk.last.speech
        assert walk.last.prompts == (PromptRef("main_menu", "ko"),)
        return
    assert actions[1:] == (PlayPrompts((PromptRef("recorded_notice", language),)),)
    walk.send(PromptFinished())
    assert walk.last == RouteTo(
        f"foreign_{language}",
        (("language", language), ("service", f"foreign_{language}"), ("skill", "interpretation")),
    )
    assert walk.played() == []  # handed over as soon as the notice has played
    assert walk.state.phase is Phase.DONE


def test_no_input_at_the_language_menu_means_korean_at_once(menu: Menu) -> None:
    walk = Walk(menu, WEEKDAY_NOON)
    walk.to_language_menu()
    actions = walk.send(NoInput())
    assert actions[0] == SetLanguage("ko")
    assert isinstance(walk.last, Collect) and walk.last.prompts == (PromptRef("main_menu", "ko"),)


def test_a_key_kept_from_the_welcome_chooses_the_language(menu: Menu) -> None:
    walk = Walk(menu, WEEKDAY_NOON)
    walk.to_language_menu()
    actions = walk.send(DigitsReceived("4"), after_ms=0)
    assert actions[0] == SetLanguage("ja")
    assert walk.played() == ["ja/recorded_notice"]


@pytest.mark.parametrize(
    ("digit", "target", "skill", "priority"),
    [
        ("1", "general", "general", None),
        ("2", "transport", "transport", None),
        ("3", "documents", "documents", None),
        ("4", "water_tax", "water_tax", None),
        ("5", "welfare", "welfare", None),
        ("6", "care129", "care129", "3"),
        ("0", "general", "general", None),
    ],
)
def test_korean_services_by_keypad(
    menu: Menu, digit: str, target: str, skill: str, priority: str | None
) -> None:
    walk = Walk(menu, WEEKDAY_NOON)
    walk.to_main_menu()
    walk.send(DigitsReceived(digit))
    route = walk.last
    assert isinstance(route, RouteTo) and route.target == target
    assert route.tag("language") == "ko" and route.tag("service") == target
    assert route.tag("skill") == skill and route.tag("priority") == priority
    assert walk.played() == []
    assert any(isinstance(a, SetTags) for a in walk.actions)


def test_silence_on_the_service_menu_hands_the_caller_to_a_general_consultant(
    menu: Menu,
) -> None:
    walk = Walk(menu, WEEKDAY_NOON)
    walk.to_main_menu()
    actions = walk.send(NoInput(), after_ms=2000)
    assert not any(isinstance(a, EndCall | Collect) for a in actions)  # no re-prompt loop
    assert walk.last == RouteTo(
        "general", (("language", "ko"), ("service", "general"), ("skill", "general"))
    )
    assert walk.played() == []


def test_invalid_keys_reprompt_with_the_invalid_prompt(menu: Menu) -> None:
    walk = Walk(menu, WEEKDAY_NOON)
    walk.to_main_menu()
    (collect,) = walk.send(DigitsReceived("#"))
    assert isinstance(collect, Collect)
    assert collect.prompts[0] == PromptRef("invalid_choice", "ko")
    walk.send(DigitsReceived("3"))
    assert isinstance(walk.last, RouteTo) and walk.last.target == "documents"
    marks = [(e.mark, e.value) for e in walk.state.journey if e.node == "main_menu"]
    assert (Mark.INVALID, "#") in marks and (Mark.DIGITS, "3") in marks


def test_invalid_keys_at_the_language_menu_end_in_korean(menu: Menu) -> None:
    walk = Walk(menu, WEEKDAY_NOON)
    walk.to_language_menu()
    (again,) = walk.send(DigitsReceived("9"))  # one re-prompt
    assert isinstance(again, Collect) and again.prompts[0] == PromptRef("invalid_choice", "ko")
    actions = walk.send(DigitsReceived("9"))
    assert actions[0] == SetLanguage("ko")


def test_speech_is_confirmed_before_it_counts(menu: Menu) -> None:
    walk = Walk(menu, WEEKDAY_NOON)
    main = walk.to_main_menu()
    assert "버스" in main.grammar and "수어" in main.grammar and "채팅" not in main.grammar
    (confirm,) = walk.send(SpeechRecognized("버스", 0.91))
    assert isinstance(confirm, Collect) and confirm.speech
    assert walk.played() == ["ko/confirm_you_said", "ko/svc_transport", "ko/confirm_press_1"]
    assert confirm.grammar == ("네", "예", "아니요") and confirm.max_digits == 1
    walk.send(DigitsReceived("1"))
    assert isinstance(walk.last, RouteTo) and walk.last.target == "transport"
    speech = [e for e in walk.state.journey if e.mark is Mark.SPEECH]
    assert speech[0].value == "버스" and speech[0].confidence == pytest.approx(0.91)


def test_spoken_yes_confirms(menu: Menu) -> None:
    walk = Walk(menu, WEEKDAY_NOON)
    walk.to_main_menu()
    walk.send(SpeechRecognized("복지", 0.8))
    walk.send(SpeechRecognized("네", 0.7))
    assert isinstance(walk.last, RouteTo) and walk.last.target == "welfare"


def test_no_returns_to_the_menu_and_keys_still_work(menu: Menu) -> None:
    walk = Walk(menu, WEEKDAY_NOON)
    walk.to_main_menu()
    walk.send(SpeechRecognized("세금", 0.8))
    (again,) = walk.send(DigitsReceived("2"))
    assert isinstance(again, Collect) and again.prompts == (PromptRef("main_menu", "ko"),)
    assert walk.state.phase is Phase.COLLECTING
    walk.send(SpeechRecognized("수도", 0.8))
    # Any other menu key during the confirmation chooses that option directly.
    walk.send(DigitsReceived("5"))
    assert isinstance(walk.last, RouteTo) and walk.last.target == "welfare"


def test_low_confidence_or_unknown_words_are_invalid(menu: Menu) -> None:
    walk = Walk(menu, WEEKDAY_NOON)
    walk.to_main_menu()
    (collect,) = walk.send(SpeechRecognized("버스", 0.1))
    assert isinstance(collect, Collect) and collect.prompts[0].id == "invalid_choice"
    walk.send(SpeechRecognized("피자", 0.99))
    # One re-prompt, then on to a general consultant.
    assert isinstance(walk.last, RouteTo) and walk.last.target == "general"


def test_silence_during_confirmation_hands_the_caller_on(menu: Menu) -> None:
    walk = Walk(menu, WEEKDAY_NOON)
    walk.to_main_menu()
    walk.send(SpeechRecognized("신고", 0.8))
    walk.send(NoInput())
    assert isinstance(walk.last, RouteTo) and walk.last.target == "general"


def test_speech_is_offered_only_to_korean_callers(menu: Menu) -> None:
    walk = Walk(menu, WEEKDAY_NOON, language="en")
    walk.start()
    walk.send(PromptFinished())
    assert isinstance(walk.last, Collect) and not walk.last.speech


def test_foreign_language_help_from_the_korean_menu(menu: Menu) -> None:
    walk = Walk(menu, WEEKDAY_NOON)
    walk.to_main_menu()
    (collect,) = walk.send(DigitsReceived("7"))
    assert isinstance(collect, Collect) and collect.prompts == (PromptRef("interp_menu", "ko"),)
    walk.send(DigitsReceived("5"))
    assert walk.actions[0] == SetLanguage("mn")
    assert isinstance(walk.last, RouteTo) and walk.last.target == "foreign_mn"
    assert walk.last.tag("language") == "mn"


def test_outside_foreign_language_hours_the_caller_hears_what_is_open(menu: Menu) -> None:
    walk = Walk(menu, WEEKDAY_NIGHT)
    walk.to_language_menu()
    walk.send(DigitsReceived("3"))
    walk.send(PromptFinished())
    assert walk.actions == (PlayPrompts((PromptRef("foreign_closed", "zh"),), ALL_KEYS),)
    hours = [e.value for e in walk.state.journey if e.mark is Mark.HOURS]
    assert hours == ["foreign_language:closed"]
    (offer,) = walk.send(PromptFinished())
    assert isinstance(offer, Collect) and offer.prompts == (PromptRef("closed_options", "zh"),)


@pytest.mark.parametrize(
    ("digit", "target", "played"),
    [("1", "callback", ["en/callback_accepted"]), ("3", "general", []), (None, "general", [])],
)
def test_closed_menu_offers(menu: Menu, digit: str | None, target: str, played: list[str]) -> None:
    walk = Walk(menu, WEEKDAY_NIGHT)
    walk.to_language_menu()
    walk.send(DigitsReceived("2"))
    walk.send(PromptFinished())
    walk.send(DigitsReceived("1"))  # interrupts the closed notice: type-ahead into the offers
    assert isinstance(walk.last, RouteTo) and walk.last.target == "callback"
    walk = Walk(menu, WEEKDAY_NIGHT)
    walk.to_language_menu()
    walk.send(DigitsReceived("2"))
    walk.send(PromptFinished())
    (offers,) = walk.send(PromptFinished())
    # Only what the center really does: a call-back, or the Korean line now (no SMS, no chat).
    assert isinstance(offers, Collect) and offers.prompts == (PromptRef("closed_options", "en"),)
    walk.send(DigitsReceived(digit) if digit else NoInput())
    assert isinstance(walk.last, RouteTo) and walk.last.target == target
    assert walk.last.tag("language") == "en"
    assert walk.played() == played


@pytest.mark.parametrize(
    ("now", "is_open"),
    [
        (seoul(2026, 11, 18, 19), True),  # weekday evening
        (WEEKDAY_NIGHT, False),
        (SATURDAY_EVENING, False),  # weekends close at 18:00
        (seoul(2026, 11, 21, 10), True),
        (CHUSEOK_EVENING, False),  # a Thursday, but a public holiday
    ],
)
def test_sign_language_follows_its_hours(menu: Menu, now: dt.datetime, is_open: bool) -> None:
    walk = Walk(menu, now)
    walk.to_main_menu()
    walk.send(DigitsReceived("8"))
    if is_open:
        assert isinstance(walk.last, RouteTo) and walk.last.target == "sign_language"
        assert walk.last.tag("priority") == "3"
        assert walk.played() == []
    else:
        assert walk.played() == ["ko/sign_closed"]


def test_step_is_pure(menu: Menu) -> None:
    a, b = Walk(menu, WEEKDAY_NOON), Walk(menu, WEEKDAY_NOON)
    for walk in (a, b):
        walk.to_main_menu()
    before = a.state
    first = step(menu, before, SpeechRecognized("교통", 0.8), WEEKDAY_NOON)
    second = step(menu, before, SpeechRecognized("교통", 0.8), WEEKDAY_NOON)
    assert first == second
    assert a.state is before and a.state == b.state


def test_events_outside_a_session_are_ignored(menu: Menu) -> None:
    walk = Walk(menu, WEEKDAY_NOON)
    assert walk.send(DigitsReceived("1")) == ()
    walk.to_main_menu()
    walk.send(DigitsReceived("2"))
    done = walk.state
    assert walk.send(DigitsReceived("3")) == () and walk.state is done
    assert walk.send(Started()) == ()


def test_journey_records_nodes_inputs_and_timings_as_json(menu: Menu) -> None:
    walk = Walk(menu, WEEKDAY_NOON)
    walk.start()
    walk.send(PromptFinished(), after_ms=4000)
    walk.send(DigitsReceived("1"), after_ms=1500)
    walk.send(SpeechRecognized("여권", 0.83), after_ms=5500)
    walk.send(DigitsReceived("1"), after_ms=2000)
    journey = journey_to_json(walk.state)
    assert json.loads(json.dumps(journey, ensure_ascii=False)) == journey
    assert journey["menu"] == "dasan120" and journey["language"] == "ko"
    assert journey["started_at"] == WEEKDAY_NOON.isoformat()
    assert journey["duration_ms"] == 13000
    entries = journey["entries"]
    visited = [e["node"] for e in entries if e["event"] == "enter"]
    assert visited == [
        "welcome",
        "language",
        "by_line",
        "by_language",
        "main_menu",
        "route_documents",
    ]
    assert {"t_ms": 5500, "node": "language", "event": "digits", "value": "1"} in entries
    assert {
        "t_ms": 11000,
        "node": "main_menu",
        "event": "speech",
        "value": "여권",
        "confidence": 0.83,
    } in entries
    assert entries[-1] == {
        "t_ms": 13000,
        "node": "route_documents",
        "event": "route",
        "value": "documents",
    }
    assert [e["t_ms"] for e in entries] == sorted(e["t_ms"] for e in entries)


@pytest.mark.parametrize(
    ("entry", "digit", "target"),
    [("129", "1", "care129"), ("129", "2", "foreign_en"), ("120", "1", None), ("", "1", None)],
)
def test_the_129_line_enters_at_its_own_node(
    menu: Menu, entry: str, digit: str, target: str | None
) -> None:
    walk = Walk(menu, WEEKDAY_NOON)
    walk.send(Started(entry), after_ms=0)
    assert walk.played() == ["ko/welcome"]  # the same greeting and language choice
    walk.send(PromptFinished())
    walk.send(DigitsReceived(digit))
    if digit != "1":
        # The notice in the caller's language (the Korean one was in the welcome).
        assert walk.played()[-1].endswith("/recorded_notice")
        walk.send(PromptFinished())
    if target is None:
        assert isinstance(walk.last, Collect) and walk.last.prompts[0].id == "main_menu"
    else:
        assert isinstance(walk.last, RouteTo) and walk.last.target == target
        assert walk.last.tag("line") == "129"


@pytest.mark.parametrize(("digit", "target"), [("2", "sms"), ("1", "callback"), ("3", "general")])
def test_the_sms_offer_is_made_only_when_the_call_path_can_send_it(
    menu: Menu, digit: str, target: str
) -> None:
    walk = Walk(menu, WEEKDAY_NIGHT)
    walk.state = walk.state.with_tags({"sms_offer": "yes"})
    walk.to_language_menu()
    walk.send(DigitsReceived("2"))
    walk.send(PromptFinished())
    (offers,) = walk.send(PromptFinished())
    assert isinstance(offers, Collect)
    assert offers.prompts == (PromptRef("closed_options_sms", "en"),)
    walk.send(DigitsReceived(digit))
    assert isinstance(walk.last, RouteTo) and walk.last.target == target
    assert walk.last.tag("language") == "en"
