"""Time budgets of a menu: seconds from answer to hand-over, computed rather than measured.

Invariants:
- Pure: the real stepper is walked with a virtual clock; prompt durations come in as a
  mapping ``(language, prompt id) -> seconds`` (the CLI reads them from the built files).
- The simulated caller meets the runner's rules (``ivr.runner``): a key pressed during a
  prompt that is heard out (the welcome, the notice) is kept for the next menu; a key stops an
  interruptible prompt or a menu's prompts; a menu waits its timeout after its prompts (speech
  menus too: speech input ends at the node timeout at the latest).
- A path that does not reach a hand-over (the caller ends, or the walk loops) fails its budget.
- Paths: "silent" gives no input (besides the language key, for languages other than the
  default), "expert" types ``budgets.expert_keys`` ahead from 1 s after answer, 0.5 s apart.
  Both are walked at an hour when every service is open and one when the desks are closed.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ivr.menu.events import (
    Action,
    Collect,
    DigitsReceived,
    EndCall,
    Event,
    NoInput,
    PlayPrompts,
    PromptFinished,
    PromptRef,
    RouteTo,
    Started,
)
from ivr.menu.loader import Menu
from ivr.menu.spec import CollectNode, parse_prompt_ref
from ivr.menu.stepper import initial_state, step
from ivr.targets import DEFAULT_LANGUAGE, LANGUAGES

Durations = Mapping[tuple[str, str], float]
FIRST_KEY_S = 1.0
KEY_GAP_S = 0.5
_MAX_STEPS = 200
# A Wednesday away from public holidays: 10:00 every desk is open, 03:00 only the phone line.
_DAY = dt.date(2026, 12, 2)
HOURS = {"open": dt.time(10, 0), "closed": dt.time(3, 0)}


class BudgetError(ValueError):
    """The budgets cannot be computed (a prompt file is missing, keys are not defined)."""


@dataclass(frozen=True)
class Walked:
    """One simulated call: when it was handed over, and when the notice ended."""

    handover_s: float | None
    target: str | None
    notice_end_s: float | None
    first_menu_end_s: float | None


@dataclass(frozen=True)
class PathTime:
    language: str
    path: str  # "silent" | "expert"
    hours: str  # "open" | "closed"
    walked: Walked
    limit_s: float

    @property
    def ok(self) -> bool:
        return self.walked.handover_s is not None and self.walked.handover_s <= self.limit_s + 1e-9

    def to_json(self) -> dict[str, Any]:
        w = self.walked
        return {
            "language": self.language,
            "path": self.path,
            "hours": self.hours,
            "handover_s": _round(w.handover_s),
            "notice_end_s": _round(w.notice_end_s),
            "target": w.target,
            "limit_s": round(self.limit_s, 2),
            "ok": self.ok,
        }


@dataclass(frozen=True)
class BudgetReport:
    paths: tuple[PathTime, ...]
    language_menu_s: float
    language_menu_limit_s: float
    # (node, language, seconds) of every collect node's prompts.
    menu_prompts: tuple[tuple[str, str, float], ...]
    menu_prompt_limit_s: float

    @property
    def long_prompts(self) -> list[tuple[str, str, float]]:
        return [p for p in self.menu_prompts if p[2] > self.menu_prompt_limit_s + 1e-9]

    @property
    def ok(self) -> bool:
        return (
            all(p.ok for p in self.paths)
            and self.language_menu_s <= self.language_menu_limit_s + 1e-9
            and not self.long_prompts
        )

    def to_json(self) -> dict[str, Any]:
        longest: dict[str, tuple[str, float]] = {}
        for node, language, seconds in self.menu_prompts:
            if seconds > longest.get(language, ("", -1.0))[1]:
                longest[language] = (node, seconds)
        return {
            "ok": self.ok,
            "paths": [p.to_json() for p in self.paths],
            "language_menu_s": round(self.language_menu_s, 2),
            "language_menu_limit_s": self.language_menu_limit_s,
            "longest_menu_prompt": {
                lang: {"node": node, "seconds": round(s, 2)} for lang, (node, s) in longest.items()
            },
            "menu_prompt_limit_s": self.menu_prompt_limit_s,
            "long_prompts": [
                {"node": n, "language": lang, "seconds": round(s, 2)}
                for n, lang, s in self.long_prompts
            ],
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def needed_prompts(menu: Menu) -> set[tuple[str, str]]:
    """Every (language, prompt id) the budgets may play: all prompts in all languages."""
    spec = menu.spec
    ids: set[str] = set()
    for node in spec.nodes.values():
        ids.update(parse_prompt_ref(r)[0] for r in getattr(node, "prompts", ()))
    d = spec.defaults
    for ref in (*d.invalid_prompts, *d.no_input_prompts, *d.fallback_prompts):
        ids.add(parse_prompt_ref(ref)[0])
    return {(lang, pid) for pid in ids for lang in LANGUAGES}


class _Call:
    """The virtual caller and clock of one walk."""

    def __init__(self, menu: Menu, durations: Durations, keys: Sequence[tuple[float, str]]) -> None:
        self.notice = set(menu.spec.budgets.notice_prompts)
        self.durations = durations
        self.t = 0.0
        self.typed: deque[str] = deque()
        self.upcoming = deque(sorted(keys))
        self.notice_end: float | None = None
        self.first_menu_end: float | None = None

    def seconds(self, refs: tuple[PromptRef, ...]) -> float:
        try:
            return sum(self.durations[(r.language, r.id)] for r in refs)
        except KeyError as exc:
            raise BudgetError(f"no prompt file for {exc.args[0]}") from None

    def _arrive(self, until: float) -> None:
        while self.upcoming and self.upcoming[0][0] <= until:
            self.typed.append(self.upcoming.popleft()[1])

    def _key_before(self, end: float) -> str | None:
        """A key typed ahead, or the first one pressed before ``end`` (the clock moves to it)."""
        self._arrive(self.t)
        if not self.typed and self.upcoming and self.upcoming[0][0] < end:
            self.t = self.upcoming[0][0]
            self._arrive(self.t)
        return self.typed.popleft() if self.typed else None

    def play(self, action: PlayPrompts, last: bool) -> Event | None:
        length = self.seconds(action.prompts)
        if last and action.interruptible:
            digit = self._key_before(self.t + length)
            if digit is not None:
                return DigitsReceived(digit)
        self.t += length
        self._arrive(self.t)
        if any(r.id in self.notice for r in action.prompts):
            self.notice_end = self.t
        return PromptFinished() if last else None

    def collect(self, action: Collect) -> Event:
        prompts_end = self.t + self.seconds(action.prompts)
        if self.first_menu_end is None:
            self.first_menu_end = prompts_end
        timeout = action.timeout_ms / 1000
        digit = self._key_before(prompts_end + timeout)
        if digit is None:
            self.t = prompts_end + timeout
            return NoInput()
        digits = digit
        while len(digits) < action.max_digits:
            more = self._key_before(self.t + timeout)
            if more is None:
                self.t += timeout
                break
            digits += more
        return DigitsReceived(digits)


def walk(menu: Menu, durations: Durations, keys: Sequence[tuple[float, str]], hours: str) -> Walked:
    """One call from answer to hand-over (see the module invariants)."""
    tz = menu.hours.timezone
    start = dt.datetime.combine(_DAY, HOURS[hours], tz)
    call = _Call(menu, durations, keys)
    state, actions = step(menu, initial_state(menu), Started(), start)
    for _ in range(_MAX_STEPS):
        event: Event | None = None
        for index, action in enumerate(actions):
            final = _final(action, call)
            if final is not None:
                return final
            event = _perform(call, action, index == len(actions) - 1)
        if event is None:
            break
        state, actions = step(menu, state, event, start + dt.timedelta(seconds=call.t))
    return Walked(None, None, call.notice_end, call.first_menu_end)


def _final(action: Action, call: _Call) -> Walked | None:
    if isinstance(action, RouteTo):
        return Walked(call.t, action.target, call.notice_end, call.first_menu_end)
    if isinstance(action, EndCall):
        return Walked(None, None, call.notice_end, call.first_menu_end)
    return None


def _perform(call: _Call, action: Action, last: bool) -> Event | None:
    if isinstance(action, PlayPrompts):
        return call.play(action, last)
    if isinstance(action, Collect):
        return call.collect(action)
    return None


def expert_keys(menu: Menu, language: str) -> list[tuple[float, str]]:
    keys = menu.spec.budgets.expert_keys.get(language)
    if not keys:
        raise BudgetError(f"budgets.expert_keys has no keys for {language!r}")
    return [(FIRST_KEY_S + i * KEY_GAP_S, key) for i, key in enumerate(keys)]


def silent_keys(menu: Menu, language: str) -> list[tuple[float, str]]:
    """No input at all for the default language; the language key alone for the others."""
    return [] if language == DEFAULT_LANGUAGE else expert_keys(menu, language)[:1]


def compute(menu: Menu, durations: Durations) -> BudgetReport:
    budgets = menu.spec.budgets
    paths = []
    for language in LANGUAGES:
        for hours in HOURS:
            silent = walk(menu, durations, silent_keys(menu, language), hours)
            paths.append(PathTime(language, "silent", hours, silent, budgets.silent_s))
            expert = walk(menu, durations, expert_keys(menu, language), hours)
            limit = (expert.notice_end_s or 0.0) + budgets.expert_after_notice_s
            paths.append(PathTime(language, "expert", hours, expert, limit))
    first = walk(menu, durations, [], "open").first_menu_end_s or 0.0
    prompts = []
    for node_id, node in menu.spec.nodes.items():
        if isinstance(node, CollectNode):
            for language in LANGUAGES:
                refs = [parse_prompt_ref(r) for r in node.prompts]
                seconds = sum(durations.get((lang or language, pid), 0.0) for pid, lang in refs)
                prompts.append((node_id, language, seconds))
    return BudgetReport(
        tuple(paths), first, budgets.language_menu_s, tuple(prompts), budgets.menu_prompt_s
    )
