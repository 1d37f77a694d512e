"""Call-backs a dead engine left pending, read from the ACD journal.

Invariants:
- Pure over the journal's lines (``<state>/acd/acd-YYYY-MM-DD.jsonl``): a call-back is pending
  when the journal has its ``CallbackAccepted`` and, after it, none of the events that end it
  (answered, failed, abandoned, ended). The number comes from the ``CallbackAccepted``.
- An event the journal marks ``ignored`` changed nothing in the core: it neither makes a
  call-back pending (an acceptance that came too late) nor ends one.
- Lines that are not JSON or not events (a line cut by a kill) are skipped and counted, never
  fatal: a journal is read after a crash by definition.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

_ENDS = frozenset({"CallbackAnswered", "CallbackFailed", "CallAbandoned", "CallEnded"})


@dataclass(frozen=True)
class PendingCallback:
    call_id: str
    number: str


@dataclass(frozen=True)
class Leftover:
    pending: tuple[PendingCallback, ...]
    unreadable_lines: int


def pending_callbacks(lines: Iterable[str]) -> Leftover:
    """The call-backs accepted and never ended, in the order they were accepted."""
    pending: dict[str, PendingCallback] = {}
    unreadable = 0
    for line in lines:
        try:
            record = json.loads(line)
            event = record["event"] if record.get("kind") == "event" else None
            if record.get("ignored"):
                continue
        except (ValueError, KeyError, TypeError, AttributeError):
            unreadable += 1
            continue
        if not isinstance(event, dict):
            continue
        kind, call_id = event.get("type"), event.get("call_id")
        if not isinstance(call_id, str):
            continue
        if kind == "CallbackAccepted":
            pending[call_id] = PendingCallback(call_id, str(event.get("number") or ""))
        elif kind in _ENDS:
            pending.pop(call_id, None)
    return Leftover(tuple(pending.values()), unreadable)
