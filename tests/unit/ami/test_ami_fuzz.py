"""Hypothesis: AMI parsing either yields messages or raises RemoteProtocolError, never
anything else; chunking never changes the result; what we encode parses back unchanged."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from cti.ami.messages import AmiEvent, AmiMessage, AmiResponse, RemoteProtocolError
from cti.ami.protocol import AmiProtocol

from .fixtures import BANNER, wire

KEY = st.text(alphabet=string.ascii_letters + string.digits + "-_()", min_size=1, max_size=12)
VALUE = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"),
    max_size=40,
)
RECORDED = wire("call_lifecycle.ami")


def _parse(data: bytes, cuts: list[int]) -> list[AmiMessage] | str:
    protocol = AmiProtocol(max_line_bytes=512, max_message_bytes=4096)
    protocol.send_action("login-1", "Login")
    out: list[AmiMessage] = []
    start = 0
    try:
        for cut in [*sorted(cuts), len(data)]:
            out.extend(protocol.receive_data(data[start:cut]))
            start = cut
    except RemoteProtocolError:
        return "error"
    return out


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.lists(st.integers(min_value=0, max_value=600), max_size=5))
def test_junk_parses_or_raises_remote_protocol_error(junk: bytes, cuts: list[int]) -> None:
    data = BANNER + junk
    cuts = [c for c in cuts if c <= len(data)]
    assert _parse(data, cuts) == _parse(data, [])


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=0, max_value=len(RECORDED)),
    st.binary(min_size=1, max_size=30),
    st.lists(st.integers(min_value=0, max_value=len(RECORDED) + 30), max_size=6),
)
def test_corrupted_recording_parses_or_raises(at: int, noise: bytes, cuts: list[int]) -> None:
    data = RECORDED[:at] + noise + RECORDED[at:]
    result = _parse(data, [c for c in cuts if c <= len(data)])
    assert result == _parse(data, [])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(KEY, VALUE), max_size=8),
    st.lists(st.integers(min_value=1, max_value=50), max_size=10),
)
def test_encoded_action_parses_back(headers: list[tuple[str, str]], sizes: list[int]) -> None:
    sender = AmiProtocol()
    data = sender.send_action("a-1", "Test", headers)
    receiver = AmiProtocol()
    receiver.receive_data(BANNER)
    # what Asterisk does with an action's headers: echo them back as an event
    data = b"Event: Echo\r\n" + data.replace(b"Action: Test\r\n", b"", 1)
    out: list[AmiMessage] = []
    pos = 0
    for size in [*sizes, len(data)]:
        out.extend(receiver.receive_data(data[pos : pos + size]))
        pos += size
    (event,) = out
    assert isinstance(event, AmiEvent)
    assert event.headers.multi_items()[2:] == tuple(headers)


@settings(max_examples=100, deadline=None)
@given(st.lists(VALUE, min_size=1, max_size=6))
def test_command_output_round_trip(lines: list[str]) -> None:
    protocol = AmiProtocol()
    protocol.receive_data(BANNER)
    protocol.send_action("c", "Command", {"Command": "core show version"})
    body = b"".join(b"Output: " + line.encode() + b"\r\n" for line in lines)
    (response,) = protocol.receive_data(b"Response: Success\r\nActionID: c\r\n" + body + b"\r\n")
    assert isinstance(response, AmiResponse)
    assert response.output == tuple(lines)


PIECES = st.sampled_from(
    [b"Event: A", b"Response: Follows", b"Response:Follows", b"Response: Success",
     b"ActionID: login-1", b"--END COMMAND--", b"x--END COMMAND--", b"Key: v", b"K:v",
     b" Ind: x", b": x", b"junk", b"", b"\r", b"\xe9", b"Output:  sp "]
)  # fmt: skip
ENDS = st.sampled_from([b"\r\n", b"\n", b"\r\r\n"])


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(PIECES, ENDS), max_size=30),
    st.lists(st.integers(min_value=0, max_value=400), max_size=6),
)
def test_structured_junk_same_whole_or_chunked(
    lines: list[tuple[bytes, bytes]], cuts: list[int]
) -> None:
    """Whole blocks take the fast path, chunked ones the line-by-line path: same result."""
    data = BANNER + b"".join(text + end for text, end in lines)
    cuts = [c for c in cuts if c <= len(data)]
    assert _parse(data, cuts) == _parse(data, [])
