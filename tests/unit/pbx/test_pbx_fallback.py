"""The static fallback the PBX falls back on when the engine is down: queues for every
language generated from the ACD roster, and a dialplan that plays the recording notice on
every path before a consultant is rung."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from acd.errors import AcdConfigError
from acd.model import Language
from acd.roster import load_configured, members_by_language
from dasan.config import LANGUAGES, Settings
from dasan.paths import project_root
from dasan.pbx.render import render_fallback_queues
from dasan.pbx.service import fallback_members
from ivr.prompts.manifest import load_manifest

_MEMBER = re.compile(r"^member => PJSIP/(\w+),(\d),(\w+),PJSIP/(\w+)$")


def _queues(text: str) -> dict[str, list[tuple[str, int]]]:
    """Queue name -> (consultant, penalty), parsed from the rendered queues_members.conf."""
    queues: dict[str, list[tuple[str, int]]] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("["):
            current = line[1 : line.index("]")]
            queues[current] = []
        elif line:
            match = _MEMBER.match(line)
            assert match is not None, line
            interface, penalty, name, state = match.groups()
            assert interface == name == state
            queues[current].append((interface, int(penalty)))
    return queues


def test_every_language_queue_holds_the_roster_consultants_who_speak_it() -> None:
    settings = Settings()
    _catalog, roster = load_configured(settings.acd)
    queues = _queues(render_fallback_queues(fallback_members(settings)))
    assert set(queues) == {f"fallback-{lang}" for lang in LANGUAGES}
    for lang in LANGUAGES:
        speakers = {c.id for c in roster if Language(lang) in c.languages}
        members = {cid for cid, _ in queues[f"fallback-{lang}"]}
        assert members, f"nobody in fallback-{lang}"
        assert members == speakers
    # The shipped roster: everyone speaks Korean; 86 also speak a foreign language.
    korean = dict(queues["fallback-ko"])
    assert len(korean) == len(settings.consultants.ids()) == 471
    multilingual = {cid for cid, penalty in korean.items() if penalty == 1}
    foreign = {cid for lang in LANGUAGES[1:] for cid, _ in queues[f"fallback-{lang}"]}
    assert multilingual == foreign and len(foreign) == 86
    assert all(p == 0 for lang in LANGUAGES[1:] for _, p in queues[f"fallback-{lang}"])


def test_members_need_an_endpoint_and_every_language_is_listed() -> None:
    _catalog, roster = load_configured(Settings().acd)
    english = [c.id for c in roster if Language.EN in c.languages]
    members = members_by_language(roster, english[:3])
    assert members["en"] == tuple(english[:3])
    assert members["ko"] == tuple(english[:3])
    assert set(members) == set(LANGUAGES)
    assert members["mn"] == ()  # rendered as an empty queue: the dialplan overflows to Korean
    assert render_fallback_queues(members).endswith("[fallback-mn](fallback-template)\n")


def test_a_broken_roster_stops_the_render_instead_of_a_korean_only_fallback(
    tmp_path: Path,
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("id,team,languages,skills,shift_start,shift_hours,meal_after_h,days\n")
    settings = Settings.model_validate({"acd": {"roster_file": str(roster)}})
    with pytest.raises(AcdConfigError, match="no consultant"):
        fallback_members(settings)


# --- the dialplan ------------------------------------------------------------------------


def _context(name: str) -> dict[str, list[str]]:
    """Extension -> its applications in order, for one context of dialplans/120.conf."""
    text = (project_root() / "dialplans" / "120.conf").read_text(encoding="utf-8")
    body = text.split(f"[{name}]\n", 1)[1].split("\n[", 1)[0]
    extens: dict[str, list[str]] = {}
    current = ""
    for raw in body.splitlines():
        line = raw.strip()
        if line.startswith("exten =>"):
            current, _priority, app = line[len("exten =>") :].strip().split(",", 2)
            extens[current] = [app]
        elif line.startswith("same =>"):
            extens[current].append(line[len("same =>") :].strip().split(",", 1)[1])
    return extens


def _targets(app: str) -> list[str]:
    """Extensions of the same context an application may jump to."""
    jumps = re.findall(r"(?:Goto\(|\?)(\w+),1\)", app)
    return jumps


def test_every_fallback_path_plays_the_notice_before_a_queue() -> None:
    extens = _context("dasan-fallback")
    notice = re.compile(r"Playback\(\$\{PROMPTS\}/[^)]*recorded_notice")
    # Walk every path from s; "heard" says whether the notice was played on the way.
    todo: list[tuple[str, bool]] = [("s", False)]
    # Keys pressed in the language menu start their own extensions.
    todo += [(e, False) for e in extens if e.isdigit() or e in ("t", "i")]
    seen: set[tuple[str, bool]] = set()
    queues = 0
    while todo:
        exten, heard = todo.pop()
        if (exten, heard) in seen:
            continue
        seen.add((exten, heard))
        for app in extens[exten]:
            heard = heard or bool(notice.search(app))
            if app.startswith("Queue("):
                queues += 1
                assert heard, f"{exten}: {app} before the recording notice"
            todo += [(target, heard) for target in _targets(app)]
    assert queues >= 2
    # A caller of unknown language hears it in Korean and in English.
    assert any("ko/recorded_notice&${PROMPTS}/en/recorded_notice" in a for a in extens["unknown"])


def test_every_prompt_the_dialplan_plays_exists_in_every_language() -> None:
    manifest = load_manifest()
    used: set[str] = set()
    for conf in (project_root() / "dialplans").glob("*.conf"):
        used |= set(re.findall(r"\$\{PROMPTS\}/[^/]+/(\w+)", conf.read_text(encoding="utf-8")))
    assert {"recorded_notice", "fallback_wait", "fallback_other_desk"} <= used
    for prompt in used:
        assert set(manifest.prompts[prompt]) == set(LANGUAGES), prompt


def test_queues_never_hold_a_caller_for_nobody() -> None:
    text = (project_root() / "asterisk-config" / "queues.conf").read_text(encoding="utf-8")
    settings = dict(
        (k.strip(), v.strip())
        for k, _, v in (line.partition("=") for line in text.splitlines())
        if _ and not k.startswith(";")
    )
    for key in ("joinempty", "leavewhenempty"):
        assert {"unavailable", "invalid", "paused"} <= set(settings[key].split(",")), key
