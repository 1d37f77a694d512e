"""The shipped 120 menu and prompt manifest: coverage, the recording notice, never hanging up."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.menu.events import (
    Collect,
    DigitsReceived,
    EndCall,
    Event,
    NoInput,
    PlayPrompts,
    PromptFinished,
    RouteTo,
    SpeechRecognized,
)
from ivr.menu.loader import Menu
from ivr.menu.spec import (
    BranchNode,
    CollectNode,
    EndNode,
    MenuSpec,
    PlayNode,
    RouteNode,
    parse_prompt_ref,
)
from ivr.menu.state import Mark, Phase
from ivr.menu.validate import successors
from ivr.prompts.manifest import PromptManifest
from ivr.targets import LANGUAGES, SERVICES, TARGETS

from .helpers import Walk, seoul


def menu_prompt_ids(spec: MenuSpec) -> set[str]:
    d = spec.defaults
    refs = [*d.invalid_prompts, *d.no_input_prompts, *d.fallback_prompts]
    refs += [*d.confirm.before, *d.confirm.after]
    for node in spec.nodes.values():
        refs += list(getattr(node, "prompts", ()))
        if isinstance(node, CollectNode):
            refs += [o.label for o in node.options if o.label]
    return {parse_prompt_ref(ref)[0] for ref in refs}


def test_every_prompt_the_menu_uses_exists_in_every_language(
    menu: Menu, manifest: PromptManifest
) -> None:
    assert manifest.languages == LANGUAGES
    used = menu_prompt_ids(menu.spec)
    missing = [
        f"{lang}/{pid}"
        for pid in sorted(used)
        for lang in LANGUAGES
        if pid not in manifest.prompts or not manifest.prompts[pid].get(lang)
    ]
    assert missing == []
    assert len(used) >= 15


def test_every_manifest_prompt_has_every_language_and_a_voice_text(
    manifest: PromptManifest,
) -> None:
    lacking = [
        f"{lang}/{pid}"
        for pid, texts in manifest.prompts.items()
        for lang in LANGUAGES
        if lang not in texts or not texts[lang].spoken.strip()
    ]
    assert lacking == []
    # Chinese is spoken from tone-numbered pinyin, Japanese from kana.
    for texts in manifest.prompts.values():
        assert any(ch.isdigit() for ch in texts["zh"].tts)
        assert all(not ("\u4e00" <= ch <= "\u9fff") for ch in texts["ja"].tts)
    assert {lang: v.name for lang, v in manifest.voices.items()} == {
        "ko": "ko", "en": "en-us", "zh": "cmn-latn-pinyin", "ja": "ja", "vi": "vi", "mn": "ky"
    }  # fmt: skip


def test_the_dialplan_fallback_prompt_exists(manifest: PromptManifest) -> None:
    # dialplans/120.conf plays <prompts>/<lang>/fallback_wait when the engine is unavailable.
    assert set(manifest.prompts["fallback_wait"]) == set(LANGUAGES)


def test_no_consultant_is_reached_without_the_recording_notice(menu: Menu) -> None:
    spec = menu.spec
    notice = set(spec.budgets.notice_prompts)

    def heard_out_notice(node_id: str) -> bool:
        node = spec.nodes[node_id]
        prompts = {parse_prompt_ref(r)[0] for r in getattr(node, "prompts", ())}
        return isinstance(node, PlayNode) and not node.interruptible and bool(prompts & notice)

    seen = {spec.start, *spec.entries.values()}
    todo = [n for n in seen if not heard_out_notice(n)]
    while todo:
        for _, nxt in successors(spec.nodes[todo.pop()]):
            if not heard_out_notice(nxt) and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert [n for n in seen if isinstance(spec.nodes[n], RouteNode)] == []
    # The welcome carries the Korean notice; every other language hears it in its own.
    assert spec.start == "welcome" and heard_out_notice("welcome")
    language = spec.nodes["language"]
    assert isinstance(language, CollectNode) and language.on_no_input is not None
    for option in language.options:
        assert (option.next == "notice") == (option.set["language"] != "ko")


def test_the_menu_reaches_every_service_and_offer(menu: Menu) -> None:
    targets = {n.target for n in menu.spec.nodes.values() if isinstance(n, RouteNode)}
    # The SMS offer sits behind the tag the call path sets only when it can send one.
    assert targets == set(TARGETS)
    offers = menu.spec.nodes["closed_offers"]
    assert isinstance(offers, BranchNode) and offers.tag == "sms_offer"
    assert offers.cases == {"yes": "closed_menu_sms"} and offers.default == "closed_menu"
    assert set(SERVICES) <= targets


def test_calls_end_only_where_the_caller_pressed_a_key_for_it(menu: Menu) -> None:
    spec = menu.spec
    ends = {n for n, node in spec.nodes.items() if isinstance(node, EndNode)}
    for node_id, node in spec.nodes.items():
        for field, nxt in successors(node):
            if nxt in ends:
                assert isinstance(node, CollectNode) and field.startswith("options."), node_id


def test_language_menu_offers_the_six_languages_in_order(menu: Menu) -> None:
    language = menu.spec.nodes["language"]
    assert isinstance(language, CollectNode)
    chosen = [(o.digit, o.set["language"]) for o in language.options]
    assert chosen == [(str(i + 1), lang) for i, lang in enumerate(LANGUAGES)]


def _respond(walk: Walk, draw: st.DrawFn) -> Event:
    last = walk.last
    if isinstance(last, PlayPrompts):
        finished: list[Event] = [PromptFinished(), DigitsReceived(draw(st.sampled_from("1239*")))]
        return draw(st.sampled_from(finished))
    assert isinstance(last, Collect)
    word = st.sampled_from([*last.grammar, "피자", "네"]) if last.grammar else st.just("피자")
    return draw(
        st.one_of(
            st.builds(DigitsReceived, st.text("0123456789*#", min_size=1, max_size=2)),
            st.builds(SpeechRecognized, word, st.floats(0, 1)),
            st.just(NoInput()),
        )
    )


@st.composite
def walks(draw: st.DrawFn, menu: Menu) -> Walk:
    day = draw(st.integers(0, 13))
    minute = draw(st.integers(0, 24 * 60 - 1))
    start = seoul(2026, 9, 20, 0) + dt.timedelta(days=day, minutes=minute)
    walk = Walk(menu, start)
    walk.start()
    for _ in range(draw(st.integers(0, 25))):
        if walk.state.phase is Phase.DONE:
            break
        walk.send(_respond(walk, draw), after_ms=draw(st.integers(0, 8000)))
    return walk


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_random_callers_are_never_hung_up_on(menu: Menu, data: st.DataObject) -> None:
    walk = data.draw(walks(menu))
    # A caller who stops answering is always handed to a consultant within a few prompts.
    for _ in range(12):
        if walk.state.phase is Phase.DONE:
            break
        walk.send(PromptFinished() if isinstance(walk.last, PlayPrompts) else NoInput())
    assert walk.state.phase is Phase.DONE
    final = walk.last
    if isinstance(final, EndCall):
        digits = [e for e in walk.state.journey if e.mark is Mark.DIGITS]
        assert digits[-1].node in {"closed_menu", "foreign_closed", "sign_closed"}
        assert digits[-1].value == "9"
        return
    assert isinstance(final, RouteTo) and final.target in TARGETS
    assert final.tag("language") in LANGUAGES
    entered = {e.node for e in walk.state.journey if e.mark is Mark.ENTER}
    assert "welcome" in entered  # the Korean notice, heard out
    assert walk.state.language == "ko" or "notice" in entered or "interp_menu" in entered
    assert final.tag("language") == walk.state.language
