"""Replaying the recorded FastAGI transcripts through the sans-IO protocol: whole lines, byte
by byte and in random chunks, checking our command encoding against the recorded lines."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import pytest

from ivr.agi.protocol import AgiConnection, ConnectionState, Event

from .transcripts import Step, load, transcript_names

Chunker = Callable[[bytes], Iterator[bytes]]


def whole(data: bytes) -> Iterator[bytes]:
    yield data


def byte_by_byte(data: bytes) -> Iterator[bytes]:
    for i in range(len(data)):
        yield data[i : i + 1]


def random_chunks(data: bytes) -> Iterator[bytes]:
    rng = random.Random(len(data))
    i = 0
    while i < len(data):
        n = rng.randint(1, 17)
        yield data[i : i + n]
        i += n


def replay(steps: list[Step], chunker: Chunker) -> tuple[list[Event], list[Event]]:
    """Feed the transcript; returns (events the protocol yielded, events the transcript expects)."""
    conn = AgiConnection()
    got: list[Event] = []
    expected: list[Event] = []
    for step in steps:
        if step.kind == "in":
            for chunk in chunker(step.wire):
                got.extend(conn.receive_data(chunk))
        elif step.kind == "eof":
            got.extend(conn.receive_data(b""))
        elif step.kind == "out":
            assert conn.send_command(step.name, *step.args) == step.wire
        else:
            assert step.event is not None
            expected.append(step.event)
    return got, expected


@pytest.mark.parametrize("name", transcript_names())
@pytest.mark.parametrize("chunker", [whole, byte_by_byte, random_chunks])
def test_transcript_replays_to_the_recorded_events(name: str, chunker: Chunker) -> None:
    got, expected = replay(load(name), chunker)
    assert got == expected


@pytest.mark.parametrize("name", transcript_names())
def test_all_of_asterisks_bytes_at_once_give_the_same_events(name: str) -> None:
    """Asterisk may write several lines in one segment (e.g. HANGUP and the late reply)."""
    steps = load(name)
    conn = AgiConnection()
    got: list[Event] = []
    pending = b""
    for step in steps:
        if step.kind == "in":
            pending += step.wire
        elif step.kind == "out":
            got.extend(conn.receive_data(pending))
            pending = b""
            conn.send_command(step.name, *step.args)
        elif step.kind == "eof":
            got.extend(conn.receive_data(pending))
            pending = b""
            got.extend(conn.receive_data(b""))
    if pending:
        got.extend(conn.receive_data(pending))
    assert got == [s.event for s in steps if s.kind == "event"]
    if any(s.kind == "eof" for s in steps):
        assert conn.state is ConnectionState.CLOSED


def test_transcripts_cover_the_required_cases() -> None:
    text = "".join(
        step.wire.decode() for name in transcript_names() for step in load(name) if step.wire
    )
    for needle in (
        "agi_network_script:",
        "agi_arg_1:",
        "STREAM FILE",
        "endpos=",
        "GET DATA",
        "EXEC Dial",
        "GET VARIABLE",
        "520-Invalid command syntax",
        "520 End of proper usage.",
        "511 ",
        "510 ",
        "HANGUP\n200 result=-1",
        "result=-2",
    ):
        assert needle in text, needle
