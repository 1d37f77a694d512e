"""Call-backs left pending by a dead engine are found in the ACD journal."""

from __future__ import annotations

import json
from pathlib import Path

from acd.driver import AcdDriver
from acd.events import CallArrived, CallbackAccepted
from acd.leftover import PendingCallback, pending_callbacks
from acd.model import Language
from acd.settings import AcdSettings


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


def test_events_the_journal_marks_ignored_neither_start_nor_end_a_call_back() -> None:
    late = json.loads(event("CallbackAccepted", "a", number="0101"))
    late["ignored"] = "call 'a' is not waiting on the line"
    stray = json.loads(event("CallbackFailed", "b"))
    stray["ignored"] = "call 'b' is not being called back"
    lines = [json.dumps(late), event("CallbackAccepted", "b", number="0102"), json.dumps(stray)]
    assert pending_callbacks(lines).pending == (PendingCallback("b", "0102"),)


def _journal_lines(folder: Path) -> list[str]:
    return [
        line for path in sorted(folder.glob("acd-*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]  # fmt: skip


async def test_the_driver_marks_an_ignored_event_in_the_journal(tmp_path: Path) -> None:
    """A call-back accepted for a call that is no longer waiting changes nothing: its journal
    line says so and why, and a restarted engine does not call that caller back."""
    driver = AcdDriver(AcdSettings(logged_in=()), tmp_path)
    driver.feed(CallbackAccepted("gone", "0101"))
    driver.feed(CallArrived("here", Language.KO, "general"))
    driver.close()
    lines = _journal_lines(tmp_path)
    records = [json.loads(line) for line in lines]
    (ignored,) = [r for r in records if r.get("ignored")]
    assert ignored["event"]["type"] == "CallbackAccepted"
    assert "not waiting on the line" in ignored["ignored"]
    arrived = [r for r in records if r.get("event", {}).get("type") == "CallArrived"]
    assert arrived and "ignored" not in arrived[0]
    assert pending_callbacks(lines).pending == ()
