"""The typed model of a menu file (YAML), exactly as an operator writes it.

Invariants:
- Parsing is structural only (field names, types, ranges); cross-references between nodes,
  prompts, hours, languages and routing targets are checked by ``ivr.menu.validate``.
- Models are frozen and never mutated after parsing; tag values are strings (numbers in the
  file are turned into strings, e.g. ``priority: 3`` -> ``"3"``).
- A prompt reference is ``id`` (played in the caller's language) or ``id@lang`` (always in
  that language, e.g. each language offering itself in the language menu).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

PromptList = tuple[str, ...]
Tags = dict[str, str]

_CONFIG = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)


class _Model(BaseModel):
    model_config = _CONFIG


class Transition(_Model):
    """Set tags, then go to another node."""

    set: Tags = Field(default_factory=dict)
    next: str


class Option(_Model):
    """One choice of a collect node: a DTMF key sequence and, optionally, Korean words."""

    digit: str = Field(min_length=1, max_length=8)
    words: tuple[str, ...] = ()
    # Prompt that names this choice when a spoken answer is confirmed back ("you said ...").
    label: str | None = None
    set: Tags = Field(default_factory=dict)
    next: str


class PlayNode(_Model):
    kind: Literal["play"]
    description: str = ""
    prompts: PromptList = Field(min_length=1)
    next: str
    # A key pressed while this plays skips it and counts as input for the next collect node.
    interruptible: bool = False


class CollectNode(_Model):
    kind: Literal["collect"]
    description: str = ""
    prompts: PromptList = Field(min_length=1)
    options: tuple[Option, ...] = Field(min_length=1)
    # None: the length of the longest option digit sequence.
    max_digits: int | None = Field(default=None, ge=1, le=8)
    timeout_ms: int | None = Field(default=None, ge=500, le=60_000)
    # Re-prompts after no or invalid input (None: the menu default).
    retries: int | None = Field(default=None, ge=0, le=5)
    # Korean speech accepted besides DTMF (only for callers whose language is Korean).
    speech: bool = False
    # Taken at once when the caller gives no input (and after the last invalid attempt),
    # instead of re-prompting and then falling back to a consultant.
    on_no_input: Transition | None = None


class BranchNode(_Model):
    """Either on a tag (``tag`` + ``cases`` + ``default``) or on service hours (``hours``)."""

    kind: Literal["branch"]
    description: str = ""
    tag: str | None = None
    cases: dict[str, str] = Field(default_factory=dict)
    default: str | None = None
    hours: str | None = None
    open: str | None = None
    closed: str | None = None


class SetNode(_Model):
    kind: Literal["set"]
    description: str = ""
    tags: Tags = Field(min_length=1)
    next: str


class RouteNode(_Model):
    kind: Literal["route"]
    description: str = ""
    target: str
    prompts: PromptList = ()
    tags: Tags = Field(default_factory=dict)


class EndNode(_Model):
    """Play information and end the call (only where the caller chose to hear it)."""

    kind: Literal["end"]
    description: str = ""
    prompts: PromptList = Field(min_length=1)


Node = Annotated[
    PlayNode | CollectNode | BranchNode | SetNode | RouteNode | EndNode,
    Field(discriminator="kind"),
]


class ConfirmSpec(_Model):
    """How a spoken answer is confirmed: "you said <label>, press 1 (or say 네)"."""

    before: PromptList = Field(min_length=1)
    after: PromptList = Field(min_length=1)
    yes_digit: str = "1"
    no_digit: str = "2"
    yes_words: tuple[str, ...] = ("네", "예")
    no_words: tuple[str, ...] = ("아니요",)


class Defaults(_Model):
    timeout_ms: int = Field(default=6000, ge=500, le=60_000)
    retries: int = Field(default=2, ge=0, le=5)
    invalid_prompts: PromptList = Field(min_length=1)
    no_input_prompts: PromptList = Field(min_length=1)
    # After the last retry the caller is told and handed to a consultant (never hung up on).
    fallback_prompts: PromptList = ()
    fallback_target: str = "general"
    speech_min_confidence: float = Field(default=0.3, ge=0.0, le=1.0)
    confirm: ConfirmSpec


class Budgets(_Model):
    """Time budgets, in seconds from answer, that ``dasan ivr budget`` checks against the real
    prompt files and the menu's timeouts (see ``ivr.menu.budget``)."""

    # A caller who gives no input (besides the language key) is handed to the ACD within this.
    silent_s: float = Field(default=20.0, gt=0, le=600)
    # A caller who types ahead is handed over at most this long after the notice has played.
    expert_after_notice_s: float = Field(default=0.5, ge=0, le=60)
    # language -> the keys an expert types ahead (from 1 s after answer, 0.5 s apart).
    expert_keys: dict[str, str] = Field(default_factory=dict)
    # Prompt ids that carry the recording notice.
    notice_prompts: tuple[str, ...] = Field(default=("recorded_notice",), min_length=1)
    # The greeting and the language choice, from answer to the end of the language prompts.
    language_menu_s: float = Field(default=10.0, gt=0, le=600)
    # Any one collect node's prompts, in any language.
    menu_prompt_s: float = Field(default=12.0, gt=0, le=600)


class MenuSpec(_Model):
    id: str = Field(min_length=1)
    description: str = ""
    start: str
    # Other ways into the menu, e.g. the dialed number: {"129": "line_129"}.
    entries: dict[str, str] = Field(default_factory=dict)
    defaults: Defaults
    budgets: Budgets = Field(default_factory=Budgets)
    nodes: dict[str, Node] = Field(min_length=1)


def parse_prompt_ref(ref: str) -> tuple[str, str | None]:
    """``"id@lang"`` -> ``("id", "lang")``; ``"id"`` -> ``("id", None)``."""
    prompt_id, sep, language = ref.partition("@")
    return prompt_id, (language if sep else None)
