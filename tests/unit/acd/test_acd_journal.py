"""A journal of (now, event) pairs replays to the very same routing decisions."""

from __future__ import annotations

import json

import pytest
from acd_support import Harness, person

from acd.core import decide
from acd.events import (
    CallAbandoned,
    CallArrived,
    CallbackAccepted,
    CallEnded,
    ConsultantLoggedIn,
    ConsultantNotReady,
    Event,
    OfferAccepted,
    OfferTimedOut,
    Tick,
    event_from_json,
    event_to_json,
)
from acd.model import Language, Priority

ROSTER = (person("c1", general=5), person("c2", "ko,en", general=3, foreign_en=4))


def _session() -> list[tuple[float, Event]]:
    return [
        (0.0, ConsultantLoggedIn("c1")),
        (0.0, ConsultantLoggedIn("c2")),
        (1.0, CallArrived("k1", Language.KO, "general", tags=frozenset({"vip", "b"}))),
        (2.0, CallArrived("e1", Language.EN, "foreign_en", Priority.CALLBACK)),
        (3.0, CallArrived("k2", Language.KO, "general", enqueued_at=0.5)),
        (4.0, OfferTimedOut("k1", "c1")),
        (5.0, CallbackAccepted("k2", "+8210")),
        (6.0, OfferAccepted("e1", "c2")),
        (7.0, ConsultantNotReady("c2", "meal")),
        (9.0, CallAbandoned("k1")),
        (60.0, CallEnded("e1")),
        (75.0, Tick()),
    ]


def test_every_event_round_trips_through_json() -> None:
    for _at, event in _session():
        text = json.dumps(event_to_json(event))
        assert event_from_json(json.loads(text)) == event


def test_replaying_the_journal_reproduces_every_command() -> None:
    live = Harness(ROSTER)
    produced = [repr(live.feed(event, at)) for at, event in _session()]
    journal = [json.dumps({"at": at, "event": event_to_json(event)}) for at, event in _session()]
    replay = Harness(ROSTER).state
    replayed = []
    for line in journal:
        entry = json.loads(line)
        replay, commands = decide(replay, event_from_json(entry["event"]), entry["at"])
        replayed.append(repr(commands))
    assert replayed == produced


def test_bad_journal_entries_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        event_from_json({"type": "CallTeleported", "call_id": "x"})
    with pytest.raises(ValueError, match="unknown fields"):
        event_from_json({"type": "CallAbandoned", "call_id": "x", "colour": "red"})
