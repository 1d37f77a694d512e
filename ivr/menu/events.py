"""Events into the menu stepper and the actions it asks its runner to perform.

Invariants:
- All events and actions are frozen dataclasses; actions carry everything the runner needs
  (prompt ids already resolved to a language), so the runner holds no menu logic.
- Among the actions of one step only the last may wait for the caller (``Collect``, or an
  interruptible ``PlayPrompts``); the runner answers it with exactly one event. ``RouteTo`` and
  ``EndCall`` are final: the stepper accepts no event after them.
"""

from __future__ import annotations

from dataclasses import dataclass

TagPairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PromptRef:
    id: str
    language: str

    def path(self, base: str) -> str:
        """The file name Asterisk plays: ``<base>/<lang>/<id>`` (no extension)."""
        return f"{base.rstrip('/')}/{self.language}/{self.id}"


# --- events --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    # How the call came in (e.g. the dialed number); a key of the menu's ``entries`` starts
    # there, anything else at the menu's start node.
    entry: str = ""


@dataclass(frozen=True)
class DigitsReceived:
    digits: str


@dataclass(frozen=True)
class SpeechRecognized:
    word: str
    confidence: float


@dataclass(frozen=True)
class NoInput:
    pass


@dataclass(frozen=True)
class PromptFinished:
    pass


Event = Started | DigitsReceived | SpeechRecognized | NoInput | PromptFinished


# --- actions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlayPrompts:
    prompts: tuple[PromptRef, ...]
    # Keys that stop playback; non-empty only on a final action that waits for the caller.
    interruptible: str = ""


@dataclass(frozen=True)
class Collect:
    prompts: tuple[PromptRef, ...]
    max_digits: int
    timeout_ms: int
    grammar: tuple[str, ...]
    speech: bool


@dataclass(frozen=True)
class SetLanguage:
    code: str


@dataclass(frozen=True)
class SetTags:
    tags: TagPairs


@dataclass(frozen=True)
class RouteTo:
    target: str
    tags: TagPairs

    def tag(self, key: str) -> str | None:
        return dict(self.tags).get(key)


@dataclass(frozen=True)
class EndCall:
    prompts: tuple[PromptRef, ...]


Action = PlayPrompts | Collect | SetLanguage | SetTags | RouteTo | EndCall
