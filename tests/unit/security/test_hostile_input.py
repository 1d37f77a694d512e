"""Hostile caller names and numbers, extensions and DTMF strings (>= 10,000 generated in all)
never reach a dial string, an AGI command or an AMI action unescaped.

- a caller id number becomes a dial string or an Originate caller id only as ASCII digits
  (with one leading +), through ``common.dialstring``; anything else is refused;
- the call-back path (``callpath.callbacks``) places nothing for an undialable number and builds
  its Originate from the checked number only;
- AGI arguments round-trip through Asterisk's own argument splitting or are refused;
- AMI header values never add a header or end the action early (CR/LF refused).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from acd.commands import OfferCall
from callpath.callbacks import Callbacks, CallbackSetup
from common.dialstring import dialable_number, outside_channel
from cti.ami import LocalProtocolError as AmiLocalError
from cti.ami import RemoteProtocolError as AmiRemoteError
from cti.ami.protocol import AmiProtocol
from ivr.agi.protocol import AgiConnection, format_command, split_command_line
from ivr.agi.protocol import LocalProtocolError as AgiLocalError
from ivr.agi.protocol import RemoteProtocolError as AgiRemoteError

TEMPLATE = "PJSIP/outside/sip:{number}@127.0.0.1:5092"
DIALED = re.compile(r"PJSIP/outside/sip:\+?[0-9]{2,20}@127\.0\.0\.1:5092")
CALLER_ID = re.compile(r"120 <\+?[0-9]{2,20}>")
# What attackers put in caller ids, extensions and key strings: dial-string and dialplan
# separators, SIP URI parts, quoting, control characters, look-alike digits.
NASTY = "0123456789+*#@;:&,|/\\\"'<>()[]{}$%=?! \t\r\n\x00ABCDabcd\u0661\uff11\u00b2-._~"
hostile = st.one_of(st.text(alphabet=NASTY, max_size=40), st.text(max_size=40))


@settings(max_examples=4000, deadline=None)
@given(hostile)
@example("0102000&PJSIP/c0001")
@example("+8210,1234")
@example("010@evil.example;transport=tcp")
@example("\u0661\u0662\u0663")
@example("0102000\n")
def test_numbers_reach_a_dial_string_as_digits_only(raw: str) -> None:
    number = dialable_number(raw)
    channel = outside_channel(TEMPLATE, raw)
    if number is None:
        assert channel is None
    else:
        assert re.fullmatch(r"\+?[0-9]{2,20}", number)
        assert channel is not None and DIALED.fullmatch(channel)


class _Refused(Exception):
    """The fake AMI's answer to an Originate (the test needs only what was sent)."""


def _callbacks(sent: list[dict[str, Any]]) -> Callbacks:
    """Call-backs over a fake AMI that records what it was asked and refuses it."""

    async def action(name: str, timeout: float | None = None, **headers: Any) -> None:
        sent.append({"Action": name, **headers})
        raise _Refused

    subscription = SimpleNamespace(close=lambda: None)
    ami: Any = SimpleNamespace(action=action, subscribe=lambda name=None: subscription)
    unused: Any = None
    return Callbacks(
        CallbackSetup(
            acd=unused,
            ami=ami,
            calls=unused,
            recordings=unused,
            acd_settings=cast(Any, SimpleNamespace(outside_dial=TEMPLATE, callback_ring_s=20)),
            default_language="ko",
            prompts_dir="/prompts",
            requests_dir=Path("/nonexistent"),
            hangup_channel=unused,
            alarm=unused,
        )
    )


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile)
@example("0102000&PJSIP/c0001")
@example('"Evil" <0101234>')
def test_call_back_originates_only_checked_numbers(raw: str) -> None:
    sent: list[dict[str, Any]] = []
    callbacks = _callbacks(sent)
    offer = OfferCall("call-1", "c0001", 20.0, interpreter_language=None, callback_number=raw)

    async def attempt() -> str | None:
        try:
            return await callbacks._try_originate(offer)
        except _Refused:
            return "sent"

    outcome = asyncio.run(attempt())
    if dialable_number(raw) is None:
        assert sent == [] and outcome is not None and "not dialable" in outcome
        return
    (originate,) = sent
    assert DIALED.fullmatch(originate["Channel"])
    assert CALLER_ID.fullmatch(originate["CallerID"])
    headers = {k: v for k, v in originate.items() if k != "Action"}
    wire = AmiProtocol().send_action("1", "Originate", headers)
    # One line per header, plus Action and ActionID, plus the blank line ending the action.
    assert wire.count(b"\r\n") == len(headers) + 3


@settings(max_examples=3000, deadline=None)
@given(
    st.sampled_from(["SET VARIABLE", "EXEC", "STREAM FILE", "GET DATA"]),
    st.lists(hostile, min_size=1, max_size=3),
)
@example("EXEC", ["Dial", "PJSIP/c0001,30\nHANGUP"])
@example("SET VARIABLE", ["DASAN_LANG", 'ko" "1'])
def test_agi_arguments_round_trip_or_are_refused(name: str, args: list[str]) -> None:
    try:
        line = format_command(name, *args)
    except AgiLocalError:
        return
    text = line.decode("utf-8")
    assert text.endswith("\n") and text.count("\n") == 1
    assert split_command_line(text[:-1]) == [*name.split(), *args]


@settings(max_examples=2000, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["CallerID", "Channel", "Exten", "Digit", "Variable"]), hostile, min_size=1
    )
)
@example({"CallerID": "x\r\nAction: Command\r\nCommand: core stop now"})
@example({"Digit": "1\r\n\r\nAction: Hangup"})
def test_ami_values_never_add_headers(headers: dict[str, str]) -> None:
    try:
        wire = AmiProtocol().send_action("1", "Originate", headers)
    except AmiLocalError:
        assert any("\r" in v or "\n" in v for v in headers.values())
        return
    lines = wire.decode("utf-8").split("\r\n")
    assert lines[-2:] == ["", ""]
    assert len(lines) - 2 == len(headers) + 2


# --- the parsers: bounded work and memory on hostile streams (no hang, no growth) ---------
@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=64), st.integers(min_value=1, max_value=4096))
def test_agi_parser_bounds_a_line_that_never_ends(unit: bytes, chunk: int) -> None:
    conn = AgiConnection(max_line_bytes=1024)
    data = unit.replace(b"\n", b"x") * (8192 // len(unit) + 1)
    with pytest.raises(AgiRemoteError):
        for start in range(0, len(data), chunk):
            conn.receive_data(data[start : start + chunk])


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=64), st.integers(min_value=1, max_value=4096))
def test_ami_parser_bounds_a_line_that_never_ends(unit: bytes, chunk: int) -> None:
    proto = AmiProtocol(max_line_bytes=1024, max_message_bytes=4096)
    proto.receive_data(b"Asterisk Call Manager/9.0.0\r\n")
    data = unit.replace(b"\n", b"x") * (16384 // len(unit) + 1)
    with pytest.raises(AmiRemoteError):
        for start in range(0, len(data), chunk):
            proto.receive_data(data[start : start + chunk])
