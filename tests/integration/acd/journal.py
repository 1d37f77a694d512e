"""Reading the ACD's decision log (``<state>/acd/acd-YYYY-MM-DD.jsonl``) in tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def journal(state_dir: Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for path in sorted((state_dir / "acd").glob("acd-*.jsonl")):
        records += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return records


def decisions(state_dir: Path) -> list[dict[str, Any]]:
    return [r for r in journal(state_dir) if r["kind"] == "decision"]


def events(state_dir: Path, kind: str) -> list[dict[str, Any]]:
    """The events of that type the core applied (those the journal marks ignored changed
    nothing and are left out)."""
    return [
        r["event"]
        for r in journal(state_dir)
        if r["kind"] == "event" and r["event"]["type"] == kind and not r.get("ignored")
    ]


def states(state_dir: Path, consultant: str) -> list[dict[str, Any]]:
    return [r for r in journal(state_dir) if r["kind"] == "state" and r["consultant"] == consultant]
