"""The per-call state of a menu session and its journey (what the caller did, and when).

Invariants:
- ``MenuState`` is immutable; the stepper returns a new one for every event.
- The journey only grows; each entry has the milliseconds since the call entered the IVR,
  the node, what happened, and the input (digits or recognized word with its confidence).
- ``journey_to_json`` output is plain JSON (str, int, float, None, lists, dicts) and is stable
  in key order, so the ACD, the consultant's screen and reports can store it as is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from ivr.menu.events import TagPairs


class Phase(Enum):
    NEW = "new"
    PLAYING = "playing"
    COLLECTING = "collecting"
    CONFIRMING = "confirming"
    DONE = "done"


class Mark(Enum):
    """What a journey entry records."""

    ENTER = "enter"
    DIGITS = "digits"
    SPEECH = "speech"
    NO_INPUT = "no_input"
    INVALID = "invalid"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    HOURS = "hours"
    LANGUAGE = "language"
    TAGS = "tags"
    FALLBACK = "fallback"
    ROUTE = "route"
    END = "end"


@dataclass(frozen=True)
class JourneyEntry:
    t_ms: int
    node: str
    mark: Mark
    value: str | None = None
    confidence: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t_ms": self.t_ms, "node": self.node, "event": self.mark.value}
        if self.value is not None:
            out["value"] = self.value
        if self.confidence is not None:
            out["confidence"] = round(self.confidence, 3)
        return out


@dataclass(frozen=True)
class MenuState:
    menu_id: str
    language: str
    phase: Phase = Phase.NEW
    node: str = ""
    started_at: dt.datetime | None = None
    tags: TagPairs = ()
    attempts: int = 0
    # Index of the option whose spoken answer is being confirmed.
    pending: int | None = None
    journey: tuple[JourneyEntry, ...] = field(default=())

    def tag_map(self) -> dict[str, str]:
        return dict(self.tags)

    def with_tags(self, new: dict[str, str]) -> MenuState:
        merged = dict(self.tags) | new
        return replace(self, tags=tuple(sorted(merged.items())))

    def elapsed_ms(self, now: dt.datetime) -> int:
        if self.started_at is None:
            return 0
        return max(0, int((now - self.started_at).total_seconds() * 1000))

    def mark(
        self,
        now: dt.datetime,
        mark: Mark,
        value: str | None = None,
        confidence: float | None = None,
        node: str | None = None,
    ) -> MenuState:
        entry = JourneyEntry(self.elapsed_ms(now), node or self.node, mark, value, confidence)
        return replace(self, journey=(*self.journey, entry))


def journey_to_json(state: MenuState) -> dict[str, Any]:
    """The journey as plain JSON: menu id, start time, final language, tags and entries."""
    return {
        "menu": state.menu_id,
        "started_at": state.started_at.isoformat() if state.started_at else None,
        "language": state.language,
        "tags": dict(state.tags),
        "entries": [entry.to_json() for entry in state.journey],
        "duration_ms": state.journey[-1].t_ms if state.journey else 0,
    }
