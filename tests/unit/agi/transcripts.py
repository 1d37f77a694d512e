"""Reading the FastAGI wire transcripts in tests/fixtures/agi (format in its README)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.agi.protocol import (
    CommandCompleted,
    CommandProgress,
    ConnectionClosed,
    Event,
    HangupReceived,
    SessionStarted,
    split_command_line,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "agi"

# Longest first, so "GET FULL VARIABLE" wins over "GET".
COMMAND_NAMES = sorted(
    [
        "ANSWER",
        "EXEC",
        "GET DATA",
        "GET FULL VARIABLE",
        "GET VARIABLE",
        "GOSUB",
        "HANGUP",
        "RECORD FILE",
        "SAY NUMBER",
        "SET MUSIC",
        "SET VARIABLE",
        "SPEECH RECOGNIZE",
        "STREAM FILE",
        "VERBOSE",
        "WAIT FOR DIGIT",
        "FROBNICATE",
    ],
    key=lambda n: -len(n.split()),
)


@dataclass(frozen=True)
class Step:
    kind: str  # "in" (from Asterisk), "out" (our command), "event", "eof"
    wire: bytes = b""
    name: str = ""
    args: tuple[str, ...] = ()
    event: Event | None = None


def split_command(line: str) -> tuple[str, tuple[str, ...]]:
    words = split_command_line(line)
    for name in COMMAND_NAMES:
        size = len(name.split())
        if [w.upper() for w in words[:size]] == name.split():
            return name, tuple(words[size:])
    raise ValueError(f"unknown command in transcript: {line!r}")


def event_from_json(spec: dict[str, Any]) -> Event:
    kind = spec.pop("event")
    if kind == "SessionStarted":
        return SessionStarted(spec["variables"])
    if kind == "CommandCompleted":
        return CommandCompleted(spec["code"], spec["result"], spec["data"], spec["extra"])
    if kind == "CommandProgress":
        return CommandProgress(spec["text"])
    if kind == "HangupReceived":
        return HangupReceived()
    if kind == "ConnectionClosed":
        return ConnectionClosed()
    raise ValueError(f"unknown event {kind!r}")


def load(name: str) -> list[Step]:
    steps: list[Step] = []
    for raw in (FIXTURES / name).read_text(encoding="utf-8").splitlines():
        if raw.startswith("#") or not raw:
            continue
        if raw == "<EOF>":
            steps.append(Step("eof"))
        elif raw == "<" or raw.startswith("< "):
            steps.append(Step("in", wire=raw[2:].encode("utf-8") + b"\n"))
        elif raw.startswith("> "):
            name, args = split_command(raw[2:])
            steps.append(Step("out", wire=raw[2:].encode("utf-8") + b"\n", name=name, args=args))
        elif raw.startswith("= "):
            steps.append(Step("event", event=event_from_json(json.loads(raw[2:]))))
        else:
            raise ValueError(f"{name}: bad transcript line {raw!r}")
    return steps


def transcript_names() -> list[str]:
    return sorted(p.name for p in FIXTURES.glob("*.txt"))
