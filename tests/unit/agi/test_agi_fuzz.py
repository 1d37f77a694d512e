"""Property tests: arbitrary bytes parse or raise RemoteProtocolError (never anything else, in
any chunking), and command quoting round-trips through Asterisk's argument splitter."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ivr.agi.protocol import (
    AgiConnection,
    CommandCompleted,
    CommandProgress,
    ConnectionClosed,
    ConnectionState,
    Event,
    HangupReceived,
    LocalProtocolError,
    RemoteProtocolError,
    SessionStarted,
    format_command,
    split_command_line,
)

EVENT_TYPES = (SessionStarted, CommandCompleted, CommandProgress, HangupReceived, ConnectionClosed)
BLOCK = b"agi_network: yes\nagi_uniqueid: 1.1\n\n"
WIRE_WORDS = [
    b"200 result=0\n",
    b"200 result=1 (x)\n",
    b"200 result= (timeout)\n",
    b"HANGUP\n",
    b"510 Invalid or unknown command\n",
    b"520-Invalid\n",
    b"520 End of proper usage.\n",
    b"100 result=0 Trying...\n",
    b"agi_x: y\n",
    b"\n",
    b"(",
    b")",
    b" endpos=",
    b"\r",
]


def drive(
    conn: AgiConnection, chunks: list[bytes], eof: bool, respond: bool = True
) -> tuple[list[Event], bool]:
    """Feed chunks (b"" only as the final EOF); with ``respond``, send a new command whenever
    the connection is idle, like a session does. Returns (events, whether a
    RemoteProtocolError ended it)."""
    events: list[Event] = []
    try:
        for chunk in [*(c for c in chunks if c), *([b""] if eof else [])]:
            events.extend(conn.receive_data(chunk))
            if respond and conn.state is ConnectionState.IDLE:
                conn.send_command("NOOP")
    except RemoteProtocolError:
        assert conn.state is ConnectionState.ERROR
        return events, True
    return events, False


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=20), st.booleans())
def test_arbitrary_bytes_parse_or_raise_remote_error(chunks: list[bytes], eof: bool) -> None:
    conn = AgiConnection(max_line_bytes=256)
    events, failed = drive(conn, chunks, eof)
    assert failed or conn.state is not ConnectionState.ERROR
    assert all(isinstance(e, EVENT_TYPES) for e in events)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WIRE_WORDS) | st.binary(max_size=8), max_size=40), st.booleans())
@example([b"200 result=1 (a) b", b")\n"], False)
def test_agi_like_bytes_after_a_block_parse_or_raise_remote_error(
    chunks: list[bytes], eof: bool
) -> None:
    conn = AgiConnection(max_line_bytes=256)
    conn.receive_data(BLOCK)
    conn.send_command("NOOP")
    events, failed = drive(conn, chunks, eof)
    assert failed or conn.state is not ConnectionState.ERROR
    assert all(isinstance(e, EVENT_TYPES) for e in events)


def pending_noop() -> AgiConnection:
    conn = AgiConnection(max_line_bytes=256)
    conn.receive_data(BLOCK)
    conn.send_command("NOOP")
    return conn


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(WIRE_WORDS) | st.binary(max_size=8), max_size=30), st.data())
def test_chunking_never_changes_the_outcome(chunks: list[bytes], data: st.DataObject) -> None:
    # One command is pending and no more are sent: where our commands fall would otherwise
    # depend on the chunking (a second reply in the same chunk has no command to answer).
    stream = b"".join(chunks)
    cuts = sorted(data.draw(st.sets(st.integers(0, len(stream)), max_size=12)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    whole, whole_failed = drive(pending_noop(), [stream], True, respond=False)
    split, split_failed = drive(pending_noop(), pieces, True, respond=False)
    assert whole_failed == split_failed
    if not whole_failed:
        # (Events of the chunk that failed are dropped with the connection.)
        assert whole == split


ARG = st.text(st.characters(blacklist_characters="\n\r\x00", codec="utf-8"), max_size=30)
NAME = st.lists(st.from_regex(r"[A-Za-z][A-Za-z_]{0,8}", fullmatch=True), min_size=1, max_size=3)


@settings(max_examples=300, deadline=None)
@given(NAME, st.lists(ARG, max_size=6))
def test_command_quoting_round_trips(name_words: list[str], args: list[str]) -> None:
    name = " ".join(name_words)
    try:
        line = format_command(name, *args)
    except LocalProtocolError:
        assert len(" ".join([name, *args]).encode()) > 2000  # only the length limit may refuse
        return
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert split_command_line(line[:-1].decode("utf-8")) == [*name_words, *args]
