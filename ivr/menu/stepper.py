"""The pure menu stepper: ``step(menu, state, event, now) -> (state, actions)``.

Invariants:
- Pure: no I/O, no clock reads, no randomness; the same inputs give the same outputs. ``now``
  (an aware datetime) only feeds service hours and journey timings.
- The stepper never ends a call on its own: the only ``EndCall`` comes from an ``end`` node the
  caller chose. No input and invalid input re-prompt up to the node's retry count, then the
  call goes to the fallback target (a general consultant) with an ``ivr_fallback`` tag.
- Every step that is not final ends with exactly one action that waits for the caller; passing
  through set and branch nodes never waits. Spoken answers are confirmed before they count, and
  keys are accepted at every prompt that waits for input.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from ivr.menu.events import (
    Action,
    Collect,
    DigitsReceived,
    EndCall,
    Event,
    PlayPrompts,
    PromptRef,
    RouteTo,
    SetLanguage,
    SetTags,
    SpeechRecognized,
    Started,
)
from ivr.menu.loader import Menu
from ivr.menu.spec import (
    BranchNode,
    CollectNode,
    EndNode,
    Option,
    PlayNode,
    RouteNode,
    SetNode,
    parse_prompt_ref,
)
from ivr.menu.state import Mark, MenuState, Phase
from ivr.targets import DEFAULT_LANGUAGE, SERVICES, TAG_FALLBACK, TAG_LANGUAGE, TAG_SERVICE

SPEECH_LANGUAGE = "ko"
ALL_KEYS = "0123456789*#"

Step = tuple[MenuState, tuple[Action, ...]]


@dataclass(frozen=True)
class _Ctx:
    menu: Menu
    now: dt.datetime


class MenuRuntimeError(RuntimeError):
    """The menu made the stepper pass too many nodes without input (validation prevents it)."""


def initial_state(menu: Menu, language: str = DEFAULT_LANGUAGE) -> MenuState:
    return MenuState(menu_id=menu.id, language=language)


def step(menu: Menu, state: MenuState, event: Event, now: dt.datetime) -> Step:
    """Advance one call's menu session by one event; see the module invariants."""
    ctx = _Ctx(menu, now)
    if state.phase is Phase.DONE or (state.phase is Phase.NEW) != isinstance(event, Started):
        return state, ()
    if isinstance(event, Started):
        start = menu.spec.entries.get(event.entry, menu.spec.start)
        return _enter(ctx, replace(state, started_at=now), start, [])
    if state.phase is Phase.PLAYING:
        return _after_play(ctx, state, event)
    return _on_input(ctx, state, event)


def _on_input(ctx: _Ctx, state: MenuState, event: Event) -> Step:
    node = ctx.menu.spec.nodes[state.node]
    assert isinstance(node, CollectNode)
    if state.phase is Phase.CONFIRMING:
        return _on_confirm(ctx, state, node, event)
    if isinstance(event, DigitsReceived):
        return _on_digits(ctx, state, node, event.digits, [])
    if isinstance(event, SpeechRecognized):
        return _on_speech(ctx, state, node, event)
    return _on_no_input(ctx, state, node)


# --- entering nodes ------------------------------------------------------------------------


def _refs(state: MenuState, refs: tuple[str, ...]) -> tuple[PromptRef, ...]:
    out = []
    for ref in refs:
        prompt_id, language = parse_prompt_ref(ref)
        out.append(PromptRef(prompt_id, language or state.language))
    return tuple(out)


def _apply_tags(
    ctx: _Ctx, state: MenuState, tags: dict[str, str], actions: list[Action]
) -> MenuState:
    if not tags:
        return state
    language = tags.get(TAG_LANGUAGE)
    if language is not None:
        # Always emitted, even for the default language: the channel must carry it.
        state = replace(state, language=language).mark(ctx.now, Mark.LANGUAGE, language)
        actions.append(SetLanguage(language))
    others = {k: v for k, v in tags.items() if k != TAG_LANGUAGE}
    if others:
        pairs = tuple(sorted(others.items()))
        text = ",".join(f"{k}={v}" for k, v in pairs)
        state = state.with_tags(others).mark(ctx.now, Mark.TAGS, text)
        actions.append(SetTags(pairs))
    return state


def _enter(
    ctx: _Ctx, state: MenuState, node_id: str, actions: list[Action], *, typeahead: str = ""
) -> Step:
    """Enter ``node_id`` and pass through set/branch nodes until one waits or ends the IVR."""
    nodes = ctx.menu.spec.nodes
    for _ in range(len(nodes) + 1):
        node = nodes[node_id]
        state = replace(state, node=node_id, attempts=0, pending=None).mark(ctx.now, Mark.ENTER)
        if isinstance(node, SetNode):
            state = _apply_tags(ctx, state, node.tags, actions)
            node_id = node.next
        elif isinstance(node, BranchNode):
            node_id, state = _branch(ctx, node, state)
        elif isinstance(node, PlayNode) and typeahead and node.interruptible:
            node_id = node.next
        else:
            return _wait_or_finish(ctx, state, node, actions, typeahead)
    raise MenuRuntimeError(f"{ctx.menu.source}: passed every node of {ctx.menu.id!r} without input")


def _wait_or_finish(
    ctx: _Ctx,
    state: MenuState,
    node: PlayNode | CollectNode | RouteNode | EndNode,
    actions: list[Action],
    typeahead: str,
) -> Step:
    if isinstance(node, PlayNode):
        state = replace(state, phase=Phase.PLAYING)
        keys = ALL_KEYS if node.interruptible else ""
        return state, (*actions, PlayPrompts(_refs(state, node.prompts), keys))
    if isinstance(node, CollectNode):
        state = replace(state, phase=Phase.COLLECTING)
        if typeahead:
            return _on_digits(ctx, state, node, typeahead, actions)
        return state, (*actions, _collect(ctx, state, node, ()))
    if isinstance(node, RouteNode):
        state = _apply_tags(ctx, state, node.tags, actions)
        return _route(ctx, state, node.target, _refs(state, node.prompts), actions)
    state = replace(state, phase=Phase.DONE).mark(ctx.now, Mark.END)
    return state, (*actions, EndCall(_refs(state, node.prompts)))


def _branch(ctx: _Ctx, node: BranchNode, state: MenuState) -> tuple[str, MenuState]:
    if node.hours is not None:
        assert node.open is not None and node.closed is not None
        is_open = ctx.menu.hours.is_open(node.hours, ctx.now)
        verdict = f"{node.hours}:{'open' if is_open else 'closed'}"
        return (node.open if is_open else node.closed), state.mark(ctx.now, Mark.HOURS, verdict)
    assert node.tag is not None and node.default is not None
    value = state.language if node.tag == TAG_LANGUAGE else state.tag_map().get(node.tag)
    return node.cases.get(value or "", node.default), state


def _route(
    ctx: _Ctx,
    state: MenuState,
    target: str,
    prompts: tuple[PromptRef, ...],
    actions: list[Action],
) -> Step:
    tags = state.tag_map()
    if TAG_SERVICE not in tags and target in SERVICES:
        tags[TAG_SERVICE] = target
    tags[TAG_LANGUAGE] = state.language
    state = replace(state, phase=Phase.DONE, tags=tuple(sorted(tags.items())))
    state = state.mark(ctx.now, Mark.ROUTE, target)
    if prompts:
        actions.append(PlayPrompts(prompts))
    return state, (*actions, RouteTo(target, state.tags))


def _collect(ctx: _Ctx, state: MenuState, node: CollectNode, lead: tuple[str, ...]) -> Collect:
    grammar = tuple(dict.fromkeys(w for option in node.options for w in option.words))
    return Collect(
        prompts=_refs(state, (*lead, *node.prompts)),
        max_digits=node.max_digits or max(len(o.digit) for o in node.options),
        timeout_ms=node.timeout_ms or ctx.menu.spec.defaults.timeout_ms,
        grammar=grammar,
        speech=node.speech and bool(grammar) and state.language == SPEECH_LANGUAGE,
    )


# --- input ---------------------------------------------------------------------------------


def _after_play(ctx: _Ctx, state: MenuState, event: Event) -> Step:
    node = ctx.menu.spec.nodes[state.node]
    assert isinstance(node, PlayNode)
    if isinstance(event, DigitsReceived) and node.interruptible and event.digits:
        state = state.mark(ctx.now, Mark.DIGITS, event.digits)
        return _enter(ctx, state, node.next, [], typeahead=event.digits)
    return _enter(ctx, state, node.next, [])


def _choose(ctx: _Ctx, state: MenuState, option: Option, actions: list[Action]) -> Step:
    state = _apply_tags(ctx, state, option.set, actions)
    return _enter(ctx, state, option.next, actions)


def _on_digits(
    ctx: _Ctx, state: MenuState, node: CollectNode, digits: str, actions: list[Action]
) -> Step:
    state = state.mark(ctx.now, Mark.DIGITS, digits)
    for option in node.options:
        if option.digit == digits:
            return _choose(ctx, state, option, actions)
    return _retry(ctx, state.mark(ctx.now, Mark.INVALID, digits), node, "invalid", actions)


def _on_speech(ctx: _Ctx, state: MenuState, node: CollectNode, event: SpeechRecognized) -> Step:
    defaults = ctx.menu.spec.defaults
    state = state.mark(ctx.now, Mark.SPEECH, event.word, event.confidence)
    index = next((i for i, o in enumerate(node.options) if event.word in o.words), None)
    if index is None or event.confidence < defaults.speech_min_confidence:
        return _retry(ctx, state.mark(ctx.now, Mark.INVALID, event.word), node, "invalid", [])
    option = node.options[index]
    confirm = defaults.confirm
    state = replace(state, phase=Phase.CONFIRMING, pending=index)
    label = (option.label,) if option.label else ()
    return state, (
        Collect(
            prompts=_refs(state, (*confirm.before, *label, *confirm.after)),
            max_digits=1,
            timeout_ms=node.timeout_ms or defaults.timeout_ms,
            grammar=(*confirm.yes_words, *confirm.no_words),
            speech=True,
        ),
    )


def _on_confirm(ctx: _Ctx, state: MenuState, node: CollectNode, event: Event) -> Step:
    confirm = ctx.menu.spec.defaults.confirm
    assert state.pending is not None
    option = node.options[state.pending]
    if isinstance(event, SpeechRecognized):
        state = state.mark(ctx.now, Mark.SPEECH, event.word, event.confidence)
    back = replace(state, phase=Phase.COLLECTING, pending=None)
    yes = (isinstance(event, DigitsReceived) and event.digits == confirm.yes_digit) or (
        isinstance(event, SpeechRecognized) and event.word in confirm.yes_words
    )
    no = (isinstance(event, DigitsReceived) and event.digits == confirm.no_digit) or (
        isinstance(event, SpeechRecognized) and event.word in confirm.no_words
    )
    if yes:
        return _choose(ctx, state.mark(ctx.now, Mark.CONFIRMED, option.digit), option, [])
    if no:
        return _retry(ctx, back.mark(ctx.now, Mark.REJECTED, option.digit), node, "rejected", [])
    if isinstance(event, DigitsReceived):
        # Keys always work: a menu key pressed here chooses that option directly.
        return _on_digits(ctx, back, node, event.digits, [])
    if isinstance(event, SpeechRecognized):
        return _retry(ctx, back.mark(ctx.now, Mark.INVALID, event.word), node, "invalid", [])
    return _on_no_input(ctx, back, node)


def _on_no_input(ctx: _Ctx, state: MenuState, node: CollectNode) -> Step:
    state = state.mark(ctx.now, Mark.NO_INPUT)
    if node.on_no_input is not None:
        actions: list[Action] = []
        state = _apply_tags(ctx, state, node.on_no_input.set, actions)
        return _enter(ctx, state, node.on_no_input.next, actions)
    return _retry(ctx, state, node, "no_input", [])


def _retry(
    ctx: _Ctx, state: MenuState, node: CollectNode, reason: str, actions: list[Action]
) -> Step:
    """Re-prompt while retries remain; then the no-input transition or the fallback target."""
    defaults = ctx.menu.spec.defaults
    retries = node.retries if node.retries is not None else defaults.retries
    attempts = state.attempts + 1
    if attempts <= retries:
        lead = {"invalid": defaults.invalid_prompts, "no_input": defaults.no_input_prompts}
        state = replace(state, phase=Phase.COLLECTING, pending=None, attempts=attempts)
        return state, (*actions, _collect(ctx, state, node, lead.get(reason, ())))
    if node.on_no_input is not None:
        state = _apply_tags(ctx, state, node.on_no_input.set, actions)
        return _enter(ctx, state, node.on_no_input.next, actions)
    state = state.with_tags({TAG_FALLBACK: reason}).mark(ctx.now, Mark.FALLBACK, reason)
    prompts = _refs(state, defaults.fallback_prompts)
    return _route(ctx, state, defaults.fallback_target, prompts, actions)
