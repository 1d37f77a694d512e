"""The sans-IO AMI protocol fed recorded Asterisk 22 traffic, whole and byte by byte."""

from __future__ import annotations

import pytest

from cti.ami import names
from cti.ami.messages import (
    AmiBanner,
    AmiEvent,
    AmiMessage,
    AmiResponse,
    LocalProtocolError,
    RemoteProtocolError,
)
from cti.ami.protocol import AmiProtocol

from .fixtures import BANNER, feed, started, wire

ACTION_IDS = (
    ("csc-1", "CoreShowChannels"),
    ("bl-1", "BridgeList"),
    ("cmd-1", "Command"),
    ("cmd-2", "Command"),
    ("orig-1", "Originate"),
    ("ping-1", "Ping"),
)


def _login_protocol() -> AmiProtocol:
    protocol = AmiProtocol()
    protocol.send_action("login-1", "Login", {"Username": "dasan", "Secret": "x"})
    return protocol


def _events(messages: list[AmiMessage]) -> list[AmiEvent]:
    return [m for m in messages if isinstance(m, AmiEvent)]


def _responses(messages: list[AmiMessage]) -> dict[str, AmiResponse]:
    return {m.action_id: m for m in messages if isinstance(m, AmiResponse)}


@pytest.mark.parametrize("chunk", [None, 1, 7, 4096])
def test_call_lifecycle_same_whole_or_in_pieces(chunk: int | None) -> None:
    messages = feed(_login_protocol(), wire("call_lifecycle.ami"), chunk=chunk)
    assert messages[0] == AmiBanner(version="11.0.0")
    login = _responses(messages)["login-1"]
    assert login.ok and login.message == "Authentication accepted"
    assert [e.name for e in _events(messages)] == [
        "FullyBooted", "Newchannel", "Newstate", "VarSet", "MixMonitorStart", "Newexten",
        "Newchannel", "DialBegin", "Newstate", "DialEnd", "BridgeCreate", "BridgeEnter",
        "BridgeEnter", "BridgeLeave", "BridgeLeave", "BridgeDestroy", "Hangup", "Hangup",
    ]  # fmt: skip
    assert messages == feed(_login_protocol(), wire("call_lifecycle.ami"))


def test_event_accessors_and_empty_values() -> None:
    events = _events(feed(_login_protocol(), wire("call_lifecycle.ami")))
    dial_end = next(e for e in events if e.name == names.DIAL_END)
    assert dial_end.uniqueid == "1795046401.0"
    assert dial_end.linkedid == "1795046401.0"
    assert dial_end.channel == "PJSIP/citizen-00000000"
    assert dial_end.get("destuniqueid") == "1795046401.1"  # case-insensitive lookup
    assert dial_end.get(names.DIAL_STATUS) == "ANSWER"
    assert dial_end.get(names.ACCOUNT_CODE) == ""
    assert names.ACCOUNT_CODE in dial_end.headers
    assert dial_end.timestamp == pytest.approx(1795046412.0)
    hangup = events[-1]
    assert hangup.get(names.CAUSE_TXT) == "Normal Clearing"


@pytest.mark.parametrize("chunk", [None, 1, 13])
def test_event_list_collected_to_complete_and_interleaved_event_passes(chunk: int | None) -> None:
    protocol = started(*ACTION_IDS)
    messages = feed(protocol, wire("actions.ami"), chunk=chunk)
    # the Newstate between two list items is a live event, not a list item
    assert [e.name for e in _events(messages)] == ["Newstate"]
    responses = _responses(messages)
    channels = responses["csc-1"]
    assert [e.name for e in channels.events] == ["CoreShowChannel", "CoreShowChannel"]
    assert channels.events[0].get(names.CALLER_ID_NAME) == "김민수"
    assert channels.complete is not None
    assert channels.complete.get(names.LIST_ITEMS) == "2"
    assert [e.get(names.BRIDGE_UNIQUEID) for e in responses["bl-1"].events] == [
        "9e0d5a55-7a0b-4a6e-b4a8-0c4f3b8a2e77"
    ]
    assert protocol.pending_actions == ()


def test_command_output_and_errors() -> None:
    responses = _responses(feed(started(*ACTION_IDS), wire("actions.ami")))
    version = responses["cmd-1"]
    assert version.ok
    assert version.output[0].startswith("Asterisk 22.10.1")
    bad = responses["cmd-2"]
    assert not bad.ok
    assert "No such command" in bad.output[0]
    originate = responses["orig-1"]
    assert not originate.ok and originate.message == "Extension does not exist."
    assert responses["ping-1"].headers["Ping"] == "Pong"


@pytest.mark.parametrize("chunk", [None, 1])
def test_legacy_follows_body_keeps_blank_lines_and_colons(chunk: int | None) -> None:
    protocol = started(("cmd-legacy", "Command"))
    (response,) = feed(protocol, wire("follows_legacy.ami"), chunk=chunk)
    assert isinstance(response, AmiResponse)
    assert response.ok
    assert response.headers[names.PRIVILEGE] == "Command"
    assert response.output == (
        "Name/username             Contact                   Status",
        "c0001/sip:c0001@127.0.0.1:5090                       Avail",
        "",
        "1 objects found.",
    )


def test_follows_end_marker_glued_to_last_line() -> None:
    protocol = started(("c", "Command"))
    data = b"Response: Follows\r\nActionID: c\r\nline one\nlast line--END COMMAND--\r\n\r\n"
    (response,) = protocol.receive_data(data)
    assert isinstance(response, AmiResponse)
    assert response.output == ("line one", "last line")


def test_duplicate_headers_kept_in_order() -> None:
    protocol = started()
    data = (
        b"Event: Hangup\r\nChannel: PJSIP/x\r\nChanVariable: A=1\r\n"
        b"ChanVariable: B=two: words\r\nchanvariable: C=\r\n\r\n"
    )
    (event,) = protocol.receive_data(data)
    assert isinstance(event, AmiEvent)
    assert event.headers.getall("ChanVariable") == ("A=1", "B=two: words", "C=")
    assert event.headers["CHANVARIABLE"] == "A=1"
    assert list(event.headers) == ["Event", "Channel", "ChanVariable"]
    assert len(event.headers) == 3
    assert event.headers.multi_items()[-1] == ("chanvariable", "C=")


def test_bare_lf_and_stray_blank_lines_accepted() -> None:
    protocol = AmiProtocol()
    messages = protocol.receive_data(
        b"Asterisk Call Manager/11.0.0\n\r\n\nEvent: Newstate\nUniqueid: 1.1\n\n"
    )
    assert [type(m) for m in messages] == [AmiBanner, AmiEvent]


def test_value_keeps_inner_and_trailing_spaces_but_drops_one_leading() -> None:
    protocol = started()
    (event,) = protocol.receive_data(b"Event: X\r\nOutput:   indented  \r\nNoSpace:v\r\n\r\n")
    assert isinstance(event, AmiEvent)
    assert event.get("Output") == "  indented  "
    assert event.get("NoSpace") == "v"


def test_invalid_utf8_replaced_not_fatal() -> None:
    protocol = started()
    (event,) = protocol.receive_data(b"Event: Newchannel\r\nCallerIDName: Jos\xe9\r\n\r\n")
    assert isinstance(event, AmiEvent)
    assert event.get("CallerIDName") == "Jos\ufffd"


def test_forgotten_action_reply_and_list_items_discarded() -> None:
    protocol = started(("late", "CoreShowChannels"), ("single", "Ping"))
    protocol.forget("late")
    protocol.forget("single")
    data = (
        b"Response: Success\r\nActionID: late\r\nEventList: start\r\n\r\n"
        b"Event: CoreShowChannel\r\nActionID: late\r\nUniqueid: 1.1\r\n\r\n"
        b"Event: CoreShowChannelsComplete\r\nActionID: late\r\nEventList: Complete\r\n\r\n"
        b"Response: Success\r\nActionID: single\r\nPing: Pong\r\n\r\n"
        b"Event: Newstate\r\nUniqueid: 1.1\r\n\r\n"
    )
    messages = protocol.receive_data(data)
    assert [m.name for m in _events(messages)] == ["Newstate"]
    assert _responses(messages) == {}


def test_unknown_action_reply_surfaces_for_the_adapter_to_log() -> None:
    (response,) = started().receive_data(b"Response: Success\r\nActionID: who\r\n\r\n")
    assert isinstance(response, AmiResponse) and response.action_id == "who"


def test_event_list_error_reply_completes_at_once() -> None:
    protocol = started(("q", "QueueStatus"))
    (response,) = protocol.receive_data(
        b"Response: Error\r\nActionID: q\r\nMessage: Permission denied\r\n\r\n"
    )
    assert isinstance(response, AmiResponse)
    assert not response.ok and response.events == ()
    assert protocol.pending_actions == ()


def test_send_action_encodes_repeated_headers() -> None:
    protocol = AmiProtocol()
    headers: dict[str, str | int | list[str]] = {
        "Channel": "PJSIP/c0001",
        "Variable": ["A=1", "B=2"],
        "Timeout": 30,
    }
    data = protocol.send_action("7", "Originate", headers)
    assert data == (
        b"Action: Originate\r\nActionID: 7\r\nChannel: PJSIP/c0001\r\n"
        b"Variable: A=1\r\nVariable: B=2\r\nTimeout: 30\r\n\r\n"
    )
    assert protocol.pending_actions == ("7",)


@pytest.mark.parametrize(
    ("name", "headers"),
    [
        ("Originate", {"CallerID": "x\r\nAction: Hangup"}),
        ("Originate", {"Bad:Key": "v"}),
        ("Originate", {"": "v"}),
        ("Ping\r\nAction: Hangup", {}),
    ],
)
def test_send_action_refuses_header_injection(name: str, headers: dict[str, str]) -> None:
    protocol = AmiProtocol()
    with pytest.raises(LocalProtocolError):
        protocol.send_action("1", name, headers)
    assert protocol.pending_actions == ()


def test_duplicate_action_id_refused() -> None:
    protocol = AmiProtocol()
    protocol.send_action("1", "Ping")
    with pytest.raises(LocalProtocolError, match="already pending"):
        protocol.send_action("1", "Ping")


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"HTTP/1.1 400 Bad Request\r\n", "expected the AMI banner"),
        (BANNER + b"this is not a header\r\n\r\n", "not an AMI header line"),
        (BANNER + b": no key\r\n\r\n", "not an AMI header line"),
        (BANNER + b" Indented: header\r\n\r\n", "not an AMI header line"),
        (BANNER + b"Foo: bar\r\n\r\n", "neither Response nor Event"),
    ],
)
def test_junk_raises_remote_protocol_error_and_stays_failed(data: bytes, match: str) -> None:
    protocol = AmiProtocol()
    with pytest.raises(RemoteProtocolError, match=match):
        protocol.receive_data(data)
    with pytest.raises(RemoteProtocolError, match="already failed"):
        protocol.receive_data(b"Event: Newstate\r\n\r\n")


def test_line_limit_with_and_without_line_end() -> None:
    protocol = AmiProtocol(max_line_bytes=256)
    protocol.receive_data(BANNER)
    with pytest.raises(RemoteProtocolError, match="256-byte limit"):
        protocol.receive_data(b"Event: " + b"x" * 300 + b"\r\n")
    endless = AmiProtocol(max_line_bytes=256)
    endless.receive_data(BANNER)
    for _ in range(2):
        endless.receive_data(b"Event: " + b"y" * 100)
    with pytest.raises(RemoteProtocolError, match="no line end"):
        endless.receive_data(b"y" * 100)


def test_message_limit() -> None:
    protocol = AmiProtocol(max_message_bytes=1024)
    protocol.receive_data(BANNER)
    protocol.receive_data(b"Event: Small\r\n\r\n" * 200)  # many small messages are fine
    with pytest.raises(RemoteProtocolError, match="1024-byte limit"):
        for _ in range(100):
            protocol.receive_data(b"Output: " + b"z" * 40 + b"\r\n")


def test_eof_mid_message_is_reported_clean_eof_is_not() -> None:
    clean = started()
    clean.receive_data(b"Event: A\r\n\r\n")
    clean.receive_eof()
    partial = started()
    partial.receive_data(b"Event: A\r\nUniqueid: 1")
    with pytest.raises(RemoteProtocolError, match="middle of a message"):
        partial.receive_eof()


@pytest.mark.parametrize("chunk", [None, 1, 1500])
def test_real_asterisk22_action_replies(chunk: int | None) -> None:
    """Recorded from Asterisk 22.10.1: Login, lists, Command, a failed Originate, Ping."""
    ids = ["login-1", "csc-1", "bl-1", "pc-1", "ds-1", "cmd-1", "cmd-2", "orig-1", "ping-1"]
    protocol = AmiProtocol()
    for action_id in ids:
        protocol.send_action(action_id, "X")
    messages = feed(protocol, wire("asterisk22_actions.ami"), chunk=chunk)
    responses = _responses(messages)
    assert set(responses) == set(ids) and protocol.pending_actions == ()
    # PJSIPShowContacts with no contacts: an error, "Message: ...\n" with a bare LF
    assert responses["pc-1"].message == "No Contacts found" and not responses["pc-1"].ok
    devices = responses["ds-1"].events
    assert len(devices) > 471 and {e.name for e in devices} == {"DeviceStateChange"}
    assert responses["csc-1"].events == () and responses["csc-1"].complete is not None
    assert responses["cmd-1"].output[0].startswith("Asterisk 22.10.1")
    assert responses["orig-1"].message == "Originate failed"
    assert all(e.headers.get("SystemName") == "dasan" for e in _events(messages)[1:])


@pytest.mark.parametrize("chunk", [None, 1, 999])
def test_real_asterisk22_call(chunk: int | None) -> None:
    """Recorded: a citizen call through the static fallback queue to a SIPp consultant."""
    protocol = AmiProtocol()
    protocol.send_action("login-1", "Login")
    events = _events(feed(protocol, wire("asterisk22_fallback_call.ami"), chunk=chunk))
    names_seen = [e.name for e in events]
    for expected in ("Newchannel", "MixMonitorStart", "DialBegin", "DialEnd", "BridgeEnter",
                     "BridgeLeave", "Hangup", "QueueCallerJoin"):  # fmt: skip
        assert expected in names_seen
    dial_end = next(e for e in events if e.name == "DialEnd")
    assert dial_end.get("DialStatus") == "ANSWER"
    assert dial_end.uniqueid.startswith("dasan-")  # systemname=dasan prefixes uniqueids


@pytest.mark.parametrize(
    "data",
    [
        b"Response:Follows\r\nActionID: f\r\nbody\r\n--END COMMAND--\r\n\r\n",
        b"Event: A\r\nKey: v\r\r\n\r\n",
        b"Event: A\r\nNoSpace:v\r\n\r\n\r\n\r\nEvent: B\r\n\r\n",
        b"Response: Follows\r\nActionID: f\r\n\r\n\r\nx\r\n--END COMMAND--\r\n\r\n",
    ],
)
def test_fast_and_line_by_line_paths_agree(data: bytes) -> None:
    whole = started(("f", "Command")).receive_data(data)
    assert whole == feed(started(("f", "Command")), data, chunk=1)
    assert whole
