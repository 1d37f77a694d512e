"""The sans-IO FastAGI protocol: variable block, replies, HANGUP, limits, misuse, quoting."""

from __future__ import annotations

import pytest

from ivr.agi.protocol import (
    MAX_COMMAND_BYTES,
    AgiConnection,
    CommandCompleted,
    ConnectionClosed,
    ConnectionState,
    HangupReceived,
    LocalProtocolError,
    RemoteProtocolError,
    SessionStarted,
    format_command,
    quote_argument,
    split_command_line,
)

BLOCK = b"agi_network: yes\nagi_network_script: ivr?lang=ko\nagi_uniqueid: 1.1\n\n"


def started(**limits: int) -> AgiConnection:
    conn = AgiConnection(**limits)
    assert conn.receive_data(BLOCK) == [
        SessionStarted(
            {"agi_network": "yes", "agi_network_script": "ivr?lang=ko", "agi_uniqueid": "1.1"}
        )
    ]
    return conn


def reply_to(line: bytes) -> CommandCompleted:
    conn = started()
    conn.send_command("NOOP")
    events = conn.receive_data(line)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, CommandCompleted)
    assert conn.state is ConnectionState.IDLE
    return event


def test_variable_block_fed_byte_by_byte_gives_one_event_at_the_empty_line() -> None:
    conn = AgiConnection()
    events = []
    for i, byte in enumerate(BLOCK):
        events.extend(conn.receive_data(bytes([byte])))
        if i < len(BLOCK) - 1:
            assert events == []
            assert conn.state is ConnectionState.VARIABLES
    assert [type(e) for e in events] == [SessionStarted]
    assert conn.state is ConnectionState.IDLE


def test_variable_block_split_anywhere_gives_the_same_variables() -> None:
    """Asterisk writes the block line by line, so it arrives in pieces of any size."""
    block = (
        b"agi_network: yes\nagi_network_script: ivr?lang=ko\nagi_request: agi://h/ivr\n"
        b"agi_uniqueid: 1.1\nagi_threadid: 7\n\nHANGUP\n"
    )
    whole = AgiConnection().receive_data(block)
    for cut in range(1, len(block)):
        for second in range(cut, len(block)):
            conn = AgiConnection()
            pieces = [block[:cut], block[cut:second], block[second:]]
            events = [e for p in pieces if p for e in conn.receive_data(p)]
            assert events == whole, (cut, second)


@pytest.mark.parametrize("limit", ["max_variables", "max_block_bytes", "max_line_bytes"])
def test_block_limits_hold_however_the_block_is_split(limit: str) -> None:
    lines = [b"agi_v%02d: %s\n" % (i, b"x" * 40) for i in range(12)]
    limits = {"max_variables": 8, "max_block_bytes": 1024, "max_line_bytes": 256}
    sized = {
        "max_variables": lines[:9],
        "max_block_bytes": [b"agi_v%02d: %s\n" % (i, b"x" * 200) for i in range(6)],
        "max_line_bytes": [*lines[:3], b"agi_long: " + b"y" * 300 + b"\n"],
    }[limit]
    block = b"".join(sized) + b"\n"
    for cut in range(len(block)):
        conn = AgiConnection(**{limit: limits[limit]})
        with pytest.raises(RemoteProtocolError, match="too"):
            for piece in (block[:cut], block[cut:]):
                if piece:
                    conn.receive_data(piece)


def test_crlf_line_endings_and_empty_values_are_accepted() -> None:
    conn = AgiConnection()
    events = conn.receive_data(b"agi_accountcode: \r\nagi_x:\r\n\r\n")
    assert events == [SessionStarted({"agi_accountcode": "", "agi_x": ""})]


@pytest.mark.parametrize(
    ("line", "result", "data", "extra"),
    [
        (b"200 result=0\n", "0", None, {}),
        (b"200 result=-1\n", "-1", None, {}),
        (b"200 result=49 endpos=8640\n", "49", None, {"endpos": "8640"}),
        (b"200 result= (timeout)\n", "", "timeout", {}),
        # Ambiguous on the wire: the first ')' followed by a key=value ends the data.
        (b"200 result=1 (a) b=c)\n", "1", "a", {"b": "c)"}),
        (b"200 result=1 (a) b)\n", "1", "a) b", {}),
        (b"200 result=1 (f(x) = 1)\n", "1", "f(x) = 1", {}),
        (b"200 result=0 (timeout) endpos=24000\n", "0", "timeout", {"endpos": "24000"}),
        (b"200 result=0 Gosub complete\n", "0", "Gosub complete", {}),
        (b"200 result=-1 Gosub label not found\n", "-1", "Gosub label not found", {}),
        (b"200 result=1 (x) k=two words\n", "1", "x", {"k": "two words"}),
        (b"503 result=-2 Memory allocation failure\n", "-2", "Memory allocation failure", {}),
    ],
)
def test_reply_lines_parse(
    line: bytes, result: str, data: str | None, extra: dict[str, str]
) -> None:
    event = reply_to(line)
    assert (event.result, event.data, dict(event.extra)) == (result, data, extra)


def test_int_result_and_ok() -> None:
    assert reply_to(b"200 result=-2\n").int_result() == -2
    assert reply_to(b"200 result=-2\n").ok
    with pytest.raises(RemoteProtocolError):
        reply_to(b"200 result=12*\n").int_result()
    assert not reply_to(b"510 Invalid or unknown command\n").ok


def test_hangup_before_the_reply_keeps_the_command_pending() -> None:
    conn = started()
    conn.send_command("STREAM FILE", "x", "")
    assert conn.receive_data(b"HANGUP\n") == [HangupReceived()]
    assert conn.hangup_received
    assert conn.state is ConnectionState.AWAITING_REPLY
    assert conn.pending_command == "STREAM FILE"
    with pytest.raises(LocalProtocolError):
        conn.send_command("NOOP")
    assert conn.receive_data(b"200 result=-1 endpos=9\n") == [
        CommandCompleted(200, "-1", None, {"endpos": "9"})
    ]
    assert conn.pending_command is None
    conn.send_command("GET VARIABLE", "DIALSTATUS")  # the connection is usable again


def test_hangup_while_idle_and_eof() -> None:
    conn = started()
    assert conn.receive_data(b"HANGUP\nHANGUP\n") == [HangupReceived(), HangupReceived()]
    assert conn.receive_data(b"") == [ConnectionClosed()]
    assert conn.state is ConnectionState.CLOSED
    with pytest.raises(LocalProtocolError):
        conn.receive_data(b"200 result=0\n")
    with pytest.raises(LocalProtocolError):
        conn.send_command("NOOP")


def test_eof_with_a_command_pending_closes() -> None:
    conn = started()
    conn.send_command("NOOP")
    assert conn.receive_data(b"") == [ConnectionClosed()]


def test_commands_before_the_block_or_while_pending_are_local_errors() -> None:
    conn = AgiConnection()
    with pytest.raises(LocalProtocolError, match="variable block"):
        conn.send_command("ANSWER")
    conn.receive_data(BLOCK)
    conn.send_command("ANSWER")
    with pytest.raises(LocalProtocolError, match="ANSWER"):
        conn.send_command("NOOP")


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\n",
        b"agi_x: 1\nnot a variable\n\n",
        b"Host: example\n\n",
        b"HANGUP\n",
    ],
)
def test_garbage_in_the_variable_block_is_a_remote_error(data: bytes) -> None:
    conn = AgiConnection()
    with pytest.raises(RemoteProtocolError):
        conn.receive_data(data)
    assert conn.state is ConnectionState.ERROR
    with pytest.raises(LocalProtocolError):
        conn.receive_data(b"agi_x: 1\n\n")


@pytest.mark.parametrize(
    "data",
    [b"", b"agi_x: 1\n", b"agi_x: 1"],
)
def test_eof_inside_the_block_is_a_remote_error(data: bytes) -> None:
    conn = AgiConnection()
    if data:
        conn.receive_data(data)
    with pytest.raises(RemoteProtocolError, match="closed"):
        conn.receive_data(b"")


@pytest.mark.parametrize(
    "data",
    [
        b"200 result=0\n",  # no command pending
        b"20 result=0\n",
        b"OK\n",
        b"2000 result=0\n",
    ],
)
def test_unexpected_or_malformed_replies_are_remote_errors(data: bytes) -> None:
    conn = started()
    with pytest.raises(RemoteProtocolError) as info:
        conn.receive_data(data)
    assert info.value.line == data.decode().rstrip("\n")


def test_unterminated_data_is_a_remote_error() -> None:
    conn = started()
    conn.send_command("GET VARIABLE", "X")
    with pytest.raises(RemoteProtocolError, match="unterminated"):
        conn.receive_data(b"200 result=1 (abc\n")


def test_line_limit_applies_with_and_without_a_newline() -> None:
    conn = started(max_line_bytes=256)
    conn.send_command("NOOP")
    with pytest.raises(RemoteProtocolError, match="too long"):
        conn.receive_data(b"2" * 257)
    conn = started(max_line_bytes=256)
    conn.send_command("NOOP")
    with pytest.raises(RemoteProtocolError, match="too long"):
        conn.receive_data(b"200 result=1 (" + b"x" * 300 + b")\n")


def test_a_line_at_the_limit_is_fine() -> None:
    conn = started(max_line_bytes=256)
    conn.send_command("GET VARIABLE", "X")
    line = b"200 result=1 (" + b"x" * (256 - 15) + b")"
    assert len(line) == 256
    [event] = conn.receive_data(line + b"\n")
    assert isinstance(event, CommandCompleted)
    assert event.data == "x" * (256 - 15)


def test_variable_block_limits() -> None:
    conn = AgiConnection(max_variables=8)
    with pytest.raises(RemoteProtocolError, match="too large"):
        conn.receive_data(b"".join(b"agi_v%d: x\n" % i for i in range(9)))
    conn = AgiConnection(max_block_bytes=1024)
    with pytest.raises(RemoteProtocolError, match="too large"):
        conn.receive_data(b"".join(b"agi_v%d: %s\n" % (i, b"x" * 200) for i in range(6)))


def test_usage_block_limit_and_eof_inside_it() -> None:
    conn = started(max_usage_lines=3)
    conn.send_command("X")
    with pytest.raises(RemoteProtocolError, match="multi-line"):
        conn.receive_data(b"520-Invalid\na\nb\nc\nd\n")
    conn = started()
    conn.send_command("X")
    conn.receive_data(b"520-Invalid\nusage\n")
    with pytest.raises(RemoteProtocolError, match="multi-line"):
        conn.receive_data(b"")


def test_interim_100_keeps_the_command_pending() -> None:
    conn = started()
    conn.send_command("GOSUB", "ctx", "s", "1")
    conn.receive_data(b"100 result=0 Trying...\n")
    assert conn.state is ConnectionState.AWAITING_REPLY


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    conn = AgiConnection()
    [event] = conn.receive_data(b"agi_calleridname: \xff\xfe\n\n")
    assert isinstance(event, SessionStarted)
    assert event.variables["agi_calleridname"] == "\ufffd\ufffd"


# -- command encoding -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arg", "wire"),
    [
        ("hello", "hello"),
        ("", '""'),
        ("two words", '"two words"'),
        ("tab\there", '"tab\there"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("PJSIP/c0001,30,tT", "PJSIP/c0001,30,tT"),
        ("민원", "민원"),
    ],
)
def test_quote_argument(arg: str, wire: str) -> None:
    assert quote_argument(arg) == wire
    assert split_command_line(f"NOOP {wire}") == ["NOOP", arg]


@pytest.mark.parametrize("arg", ["a\nb", "a\rb", "a\x00b"])
def test_newlines_in_arguments_are_refused(arg: str) -> None:
    conn = started()
    with pytest.raises(LocalProtocolError):
        conn.send_command("VERBOSE", arg)
    assert conn.state is ConnectionState.IDLE  # nothing changed


@pytest.mark.parametrize("name", ["", "STREAM  FILE", "NOOP\n", "1ABC", "GET-DATA", " ANSWER"])
def test_bad_command_names_are_refused(name: str) -> None:
    with pytest.raises(LocalProtocolError):
        format_command(name)


def test_command_line_longer_than_asterisks_buffer_is_refused() -> None:
    fits = "x" * (MAX_COMMAND_BYTES - len(b"VERBOSE \n"))
    assert len(format_command("VERBOSE", fits)) == MAX_COMMAND_BYTES
    with pytest.raises(LocalProtocolError, match="bytes"):
        format_command("VERBOSE", fits + "x")


def test_non_str_arguments_are_refused() -> None:
    with pytest.raises(LocalProtocolError, match="str"):
        format_command("VERBOSE", 5)  # type: ignore[arg-type]


def test_split_command_line_mirrors_asterisk_quirks() -> None:
    assert split_command_line('a"b c"d e') == ["ab cd", "e"]
    assert split_command_line("a\\ b") == ["a b"]
    assert split_command_line('  x   ""  ') == ["x", ""]
    assert split_command_line("tail\\") == ["tail"]
