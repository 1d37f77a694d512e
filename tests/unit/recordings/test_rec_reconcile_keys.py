"""The audit allows a short gap per key the caller pressed (RFC 2833 interrupts the audio)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from recordings.calllog import CallRecord
from recordings.reconcile import finished_calls, keys_pressed
from recordings.settings import RecordingsSettings

pytestmark = pytest.mark.unit

START = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)


def journey(*entries: dict[str, object]) -> dict[str, object]:
    return {"menu": "dasan120", "entries": list(entries)}


def call(journey_json: object) -> CallRecord:
    return CallRecord(
        id="c1",
        uniqueid="u1",
        linkedid="u1",
        language="vi",
        service="foreign_vi",
        journey=journey_json,
        started_at=START,
        routed_at=None,
        ended_at=START + timedelta(seconds=20),
        duration_ms=20_000,
        participants=(),
    )


def test_keys_are_counted_from_digit_and_invalid_entries() -> None:
    path = journey(
        {"t_ms": 0, "node": "lang", "event": "enter"},
        {"t_ms": 900, "node": "lang", "event": "digits", "value": "5"},
        {"t_ms": 5000, "node": "main", "event": "invalid", "value": "9"},
        {"t_ms": 9000, "node": "main", "event": "digits", "value": "12"},
        {"t_ms": 9100, "node": "main", "event": "speech", "value": "교통"},
    )
    assert keys_pressed(path) == 4


@pytest.mark.parametrize("bad", [None, "not a journey", {"entries": "x"}, {"entries": [1, None]}])
def test_malformed_journeys_count_no_keys(bad: object) -> None:
    assert keys_pressed(bad) == 0


def test_slack_grows_with_the_keys_pressed() -> None:
    cfg = RecordingsSettings()
    three = journey(*({"t_ms": i, "node": "n", "event": "digits", "value": "1"} for i in range(3)))
    finished, _ = finished_calls([call(three)], {}, cfg)
    assert finished["u1"].slack_ms == round((cfg.duration_slack_s + 3 * cfg.dtmf_key_gap_s) * 1000)
    silent, _ = finished_calls([call(journey())], {}, cfg)
    assert silent["u1"].slack_ms == round(cfg.duration_slack_s * 1000)
