"""The PBX's channel events (CEL) give a call's exact answer and hang-up: the CDR stamps them
when its engine gets to them (seconds late on a saturated PBX). The audit takes a call's
length from CEL first; malformed lines are counted, never fatal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from recordings.calllog import CallRecord
from recordings.cdr import CdrCall
from recordings.cel import parse_text, refine
from recordings.reconcile import finished_calls
from recordings.settings import RecordingsSettings

pytestmark = pytest.mark.unit

ANSWER = 1796319012.657654
CEL = f"""\
"CHAN_START","{ANSWER - 0.2:.6f}","dasan-1.1","dasan-1.1","PJSIP/citizens-1"
"ANSWER","{ANSWER:.6f}","dasan-1.1","dasan-1.1","PJSIP/citizens-1"
"ANSWER","{ANSWER + 40:.6f}","dasan-1.1","dasan-1.1","PJSIP/citizens-1"
"HANGUP","{ANSWER + 329.8:.6f}","dasan-1.1","dasan-1.1","PJSIP/citizens-1"
"ANSWER","{ANSWER + 1:.6f}","dasan-2.2","dasan-2.2","PJSIP/citizens-2"
"HANGUP","not-a-time","dasan-3.3","dasan-3.3","PJSIP/citizens-3"
"HANGUP","{ANSWER:.6f}"
"ANSWER","{ANSWER + 9:.6f}","dasan-4.4","dasan-4.4","PJSIP/citizens-4"
"HANGUP","{ANSWER + 5:.6f}","dasan-4.4","dasan-4.4","PJSIP/citizens-4"
"""


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def cdr_call(uniqueid: str, seconds: float) -> CdrCall:
    # The CDR's end is 19.7 s late, as measured under saturation.
    return CdrCall(uniqueid, at(ANSWER), at(ANSWER + seconds + 19.7), rows=2)


def test_the_first_answer_and_the_last_hang_up_of_each_channel() -> None:
    parsed = parse_text(CEL)
    assert parsed.channels["dasan-1.1"].answered == at(ANSWER)
    assert parsed.channels["dasan-1.1"].hung_up == at(ANSWER + 329.8)
    assert parsed.channels["dasan-2.2"].hung_up is None
    assert parsed.skipped == 2  # a bad time, a short line; CHAN_START is not counted as bad


def test_cdr_calls_take_their_ends_from_cel_only_where_it_has_both() -> None:
    calls = {u: cdr_call(u, 300) for u in ("dasan-1.1", "dasan-2.2", "dasan-4.4", "dasan-5.5")}
    refined = refine(calls, parse_text(CEL))
    assert refined["dasan-1.1"].precise and refined["dasan-1.1"].duration_ms == 329_800
    # No hang-up, a hang-up before the answer, no events: the CDR's own stamps stay.
    for uniqueid in ("dasan-2.2", "dasan-4.4", "dasan-5.5"):
        assert refined[uniqueid] == calls[uniqueid] and not refined[uniqueid].precise


def test_the_audit_prefers_the_pbx_events_to_the_call_log_and_the_cdr() -> None:
    cfg = RecordingsSettings()
    log = [
        CallRecord(
            id="dasan-1.1",
            uniqueid="dasan-1.1",
            linkedid="dasan-1.1",
            language="ko",
            service="general",
            journey={"entries": [{"event": "digits", "value": "12"}]},
            started_at=at(ANSWER),
            routed_at=None,
            ended_at=at(ANSWER) + timedelta(seconds=331),
            duration_ms=331_000,
            participants=(),
        )
    ]
    calls = refine({"dasan-1.1": cdr_call("dasan-1.1", 300)}, parse_text(CEL))
    finished, in_progress = finished_calls(log, calls, cfg)
    call = finished["dasan-1.1"]
    assert (call.source, call.duration_ms, in_progress) == ("cel", 329_800, [])
    # The call log's slack (two keys pressed), not the CDR's whole-second slack.
    assert call.slack_ms == round((cfg.duration_slack_s + 2 * cfg.dtmf_key_gap_s) * 1000)
    # Without CEL, the call log's view comes first, as before.
    plain = {"dasan-1.1": cdr_call("dasan-1.1", 300)}
    assert finished_calls(log, plain, cfg)[0]["dasan-1.1"].source == "call-log"
