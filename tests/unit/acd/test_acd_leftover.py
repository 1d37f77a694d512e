"""Call-backs left pending by a dead engine are found in the ACD journal."""

from __future__ import annotations

import json

from acd.leftover import PendingCallback, pending_callbacks


def event(kind: str, call_id: str, **fields: str) -> str:
    return json.dumps(
        {"kind": "event", "at": 1.0, "event": {"type": kind, "call_id": call_id, **fields}}
    )


def test_accepted_and_never_ended_is_pending_in_order() -> None:
    lines = [
        event("CallArrived", "a"),
        event("CallbackAccepted", "a", number="0101"),
        event("CallbackAccepted", "b", number="0102"),
        event("CallbackAccepted", "c", number="0103"),
        event("CallbackAnswered", "b"),
        event("CallbackFailed", "c"),
        event("CallbackAccepted", "d", number="0104"),
    ]
    found = pending_callbacks(lines)
    assert found.pending == (PendingCallback("a", "0101"), PendingCallback("d", "0104"))
    assert found.unreadable_lines == 0


def test_a_line_cut_by_a_kill_is_skipped_and_counted() -> None:
    lines = [event("CallbackAccepted", "a", number="0101"), '{"kind": "event", "ev', "[]", ""]
    found = pending_callbacks(lines)
    assert found.pending == (PendingCallback("a", "0101"),)
    assert found.unreadable_lines == 3


def test_decisions_and_abandoned_calls_end_nothing_else() -> None:
    lines = [
        json.dumps({"kind": "decision", "at": 1.0, "commands": []}),
        event("CallbackAccepted", "a", number="0101"),
        event("CallAbandoned", "a"),
    ]
    assert pending_callbacks(lines).pending == ()
