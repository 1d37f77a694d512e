"""The simulated day with chat and SMS threads mixed in (issue 14): traffic, the desk's
capacity rule, and what the voice core is told."""

from __future__ import annotations

import pytest

from acd.capacity import TEXT_REASON
from acd.events import ConsultantNotReady, ConsultantReady
from acd.model import Consultant, ConsultantState, Language
from acd.roster import load_roster
from acd.services import ServiceCatalog, load_catalog
from acd.settings import AcdSettings
from acd.sim.scenarios import run_day, scenario
from acd.sim.texts import TextDesk, TextProfile, TextThread, generate_texts

CALLS = 1200
READY = (ConsultantState.READY, None, 0.0)


@pytest.fixture(scope="module")
def catalog() -> ServiceCatalog:
    return load_catalog()


def _consultant(cid: str, languages: set[Language], skills: dict[str, int]) -> Consultant:
    return Consultant(cid, frozenset(languages), skills, "korean", None)


def _thread(idx: int, channel: str = "chat", language: Language = Language.KO) -> TextThread:
    service = "general" if language is Language.KO else f"foreign_{language.value}"
    return TextThread(idx, channel, 36_000.0 + idx, language, service, 300.0, 100.0)


def test_text_traffic_is_deterministic_within_hours_and_mixed() -> None:
    profile = TextProfile(threads=400)
    threads = generate_texts(profile, seed=3)
    assert threads == generate_texts(profile, seed=3)
    assert generate_texts(profile, seed=4) != threads
    assert len(threads) == 400
    assert all(9 * 3600 <= t.arrival < 22 * 3600 for t in threads)
    assert [t.arrival for t in threads] == sorted(t.arrival for t in threads)
    channels = {t.channel for t in threads}
    assert channels == {"chat", "sms"}
    assert all((t.patience_s is None) == (t.channel == "sms") for t in threads)
    assert any(t.language is not Language.KO for t in threads)
    assert all(t.service.startswith("foreign_") for t in threads if t.language is not Language.KO)


def test_a_consultant_holds_at_most_three_threads_and_is_not_ready_to_voice_meanwhile() -> None:
    desk = TextDesk(
        [_thread(i) for i in range(4)], [_consultant("c1", {Language.KO}, {"general": 3})]
    )
    for i in range(4):
        desk.arrive(i)
    given = desk.assign(10.0, {"c1": READY})
    assert [(idx, cid) for idx, cid, _event in given] == [(0, "c1"), (1, "c1"), (2, "c1")]
    # Only the first thread changes what the voice core sees.
    assert [event for _i, _c, event in given] == [ConsultantNotReady("c1", TEXT_REASON), None, None]
    assert desk.waiting == [3]  # no room for a fourth
    held = (ConsultantState.NOT_READY, TEXT_REASON, 10.0)
    assert desk.end(0, *held[:2]) is None and desk.end(1, *held[:2]) is None
    assert desk.assign(20.0, {"c1": held}) == [(3, "c1", None)]
    assert desk.end(2, *held[:2]) is None
    assert desk.end(3, *held[:2]) == ConsultantReady("c1")  # the last thread ended
    assert desk.open == 0


def test_threads_need_the_language_the_skill_and_a_consultant_free_of_calls() -> None:
    consultants = [
        _consultant("c1", {Language.KO}, {"general": 3}),
        _consultant("c2", {Language.KO, Language.EN}, {"foreign_en": 4}),
        _consultant("c3", {Language.KO}, {"general": 5}),
    ]
    desk = TextDesk(
        [_thread(0, language=Language.EN), _thread(1, language=Language.JA)], consultants
    )
    desk.arrive(0)
    desk.arrive(1)
    talking = (ConsultantState.TALKING, None, 0.0)
    assert desk.assign(5.0, {"c1": READY, "c2": talking, "c3": READY}) == []
    given = desk.assign(6.0, {"c1": READY, "c2": READY, "c3": READY})
    assert [(idx, cid) for idx, cid, _e in given] == [(0, "c2")]
    assert desk.waiting == [1]  # nobody speaks Japanese here
    assert desk.abandon(1, 7.0) and desk.outcomes[1].abandoned_at == 7.0
    assert not desk.abandon(0, 8.0)  # an answered thread is not abandoned


def test_a_day_with_texts_serves_every_thread_and_keeps_the_voice_traffic(
    catalog: ServiceCatalog,
) -> None:
    roster = load_roster(catalog)
    voice = run_day(
        scenario("default"),
        catalog,
        roster,
        AcdSettings(),
        seed=7,
        calls=CALLS,
        policies=("dasan",),
    )
    mixed = run_day(
        scenario("texts"), catalog, roster, AcdSettings(), seed=7, calls=CALLS, policies=("dasan",)
    )
    assert voice.calls == mixed.calls  # the same voice traffic
    assert voice.policies["dasan"].texts == {}
    texts = mixed.policies["dasan"].texts
    expected = round(TextProfile().threads * CALLS / 35_359)
    assert sum(t.threads for t in texts.values()) == expected > 0
    for t in texts.values():
        assert t.answered + t.abandoned == t.threads
    assert texts["sms"].abandoned == 0
    # The consultants' time on threads is time the voice queues do not get.
    assert mixed.policies["dasan"].occupancy >= voice.policies["dasan"].occupancy
    body = mixed.to_json()["policies"]["dasan"]["texts"]
    assert set(body) == {"chat", "sms"}
