"""Sans-IO FastAGI protocol: bytes from Asterisk in, events out; commands in, bytes out.

The wire (Asterisk's res_agi over a TCP socket, one line per ``\\n``):
  - Asterisk first writes the variable block, ``agi_<name>: <value>`` lines ended by an empty
    line (``agi_network``, ``agi_network_script``, ``agi_request``, ``agi_channel``, ...,
    ``agi_arg_1``..).
  - We write one command line; Asterisk answers ``200 result=<r> [(<data>)] [key=value ...]``,
    ``510 ...``, ``511 ...``, a one-line ``520 ...`` or a ``520-`` ... ``520 End of proper usage.``
    block. ``100 result=0 Trying...`` is an interim line (GOSUB) and the command stays pending.
  - ``HANGUP`` may arrive at any time after the block (AGISIGHUP, the default), even between our
    command and its reply.

Invariants:
  - No sockets, no asyncio, no clock here; adapters feed ``receive_data`` and write what
    ``send_command`` returns.
  - At most one command is pending. Its reply is the next reply line (or multi-line block);
    ``HANGUP`` never completes it, so a reply written after ``HANGUP`` is still attributed to
    the command that caused it and never to a later one.
  - Feeding the bytes one at a time yields the same events as feeding them at once.
  - Anything that is not AGI (an over-long line, a bad variable line, a reply with no command
    pending, limits exceeded, EOF inside the block) raises ``RemoteProtocolError`` carrying the
    offending line; the connection is then in ``ERROR`` and accepts nothing more.
  - Misuse by our side (a second command while one is pending, a command before the block,
    an argument with a newline) raises ``LocalProtocolError`` and changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType

from ivr.agi.commandline import (
    MAX_COMMAND_BYTES,
    AgiProtocolError,
    LocalProtocolError,
    encode_command,
    format_command,
    quote_argument,
    split_command_line,
)

__all__ = [
    "MAX_COMMAND_BYTES",
    "AgiConnection",
    "AgiProtocolError",
    "CommandCompleted",
    "CommandProgress",
    "ConnectionClosed",
    "ConnectionState",
    "Event",
    "HangupReceived",
    "LocalProtocolError",
    "RemoteProtocolError",
    "SessionStarted",
    "format_command",
    "parse_reply",
    "quote_argument",
    "split_command_line",
]

DEFAULT_MAX_LINE_BYTES = 8192
DEFAULT_MAX_VARIABLES = 512
DEFAULT_MAX_BLOCK_BYTES = 65536
DEFAULT_MAX_USAGE_LINES = 256

_VARIABLE_LINE = re.compile(r"(agi_[A-Za-z0-9_]+): ?(.*)\Z", re.DOTALL)
_VARIABLE_PAIRS = re.compile(r"^(agi_[A-Za-z0-9_]+): (.*)$", re.MULTILINE)
_REPLY_LINE = re.compile(r"([0-9]{3})([ -])(.*)\Z", re.DOTALL)
_KEY_AHEAD = re.compile(r"\s+[A-Za-z_][A-Za-z0-9_]*=")
_KEY_TOKEN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)\Z", re.DOTALL)
_NO_EXTRA: Mapping[str, str] = MappingProxyType({})
_REPLY_CACHE_SIZE = 64


class RemoteProtocolError(AgiProtocolError):
    """The peer sent something that is not FastAGI; ``line`` is the offending line."""

    def __init__(self, message: str, line: str | None = None) -> None:
        super().__init__(message if line is None else f"{message}: {line[:200]!r}")
        self.line = line


class ConnectionState(Enum):
    VARIABLES = "variables"  # reading the agi_* block
    IDLE = "idle"  # ready for a command
    AWAITING_REPLY = "awaiting_reply"
    CLOSED = "closed"  # the peer closed the stream cleanly
    ERROR = "error"  # a RemoteProtocolError was raised


@dataclass(frozen=True, slots=True)
class SessionStarted:
    variables: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class CommandCompleted:
    """The reply to the pending command. ``result`` is the text after ``result=`` ("" if
    absent or empty, as in ``200 result= (timeout)``); ``data`` is the parenthesized part,
    or free text (``Gosub complete``), or a 5xx message / usage text."""

    code: int
    result: str = ""
    data: str | None = None
    extra: Mapping[str, str] = field(default_factory=lambda: _NO_EXTRA)

    @property
    def ok(self) -> bool:
        return self.code == 200

    def int_result(self) -> int:
        try:
            return int(self.result)
        except ValueError:
            raise RemoteProtocolError("reply result is not an integer", self.result) from None


@dataclass(frozen=True, slots=True)
class CommandProgress:
    """An interim ``100`` line; the command is still pending."""

    text: str


@dataclass(frozen=True, slots=True)
class HangupReceived:
    """Asterisk reported that the channel hung up (the unsolicited ``HANGUP`` line)."""


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The peer closed the stream after a complete variable block."""


Event = SessionStarted | CommandCompleted | CommandProgress | HangupReceived | ConnectionClosed


def _parse_tail(tail: str, line: str) -> tuple[str | None, Mapping[str, str]]:
    """Split what follows ``result=<r>`` into ``(data)`` / free text and ``key=value`` pairs."""
    data: str | None = None
    end = len(tail.rstrip())
    if tail.startswith("("):
        close = tail.find(")", 1)
        # The data itself may contain ')': take the first ')' followed by the end or a key=.
        while close >= 0 and close + 1 < end and not _KEY_AHEAD.match(tail, close + 1):
            close = tail.find(")", close + 1)
        if close < 0:
            raise RemoteProtocolError("unterminated (data) in reply", line)
        data, tail = tail[1:close], tail[close + 1 :]
    extra: dict[str, str] = {}
    free: list[str] = []
    key: str | None = None
    for token in tail.split():
        match = _KEY_TOKEN.match(token)
        if match:
            key = match.group(1)
            extra[key] = match.group(2)
        elif key is not None:
            # Values such as speech results (text0="two words") contain spaces.
            extra[key] = f"{extra[key]} {token}"
        else:
            free.append(token)
    if free:
        data = " ".join(free)
    return data, extra or _NO_EXTRA


def parse_reply(code: int, text: str, line: str) -> CommandCompleted:
    """Parse the text after ``NNN `` of a one-line reply."""
    if not text.startswith("result="):
        return CommandCompleted(code, "", text or None, _NO_EXTRA)
    rest = text[7:]
    space = rest.find(" ")
    if space < 0:
        return CommandCompleted(code, rest, None, _NO_EXTRA)
    data, extra = _parse_tail(rest[space + 1 :], line)
    return CommandCompleted(code, rest[:space], data, extra)


class AgiConnection:
    """One FastAGI connection, seen from the server side (we are the AGI "script")."""

    def __init__(
        self,
        *,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        max_variables: int = DEFAULT_MAX_VARIABLES,
        max_block_bytes: int = DEFAULT_MAX_BLOCK_BYTES,
        max_usage_lines: int = DEFAULT_MAX_USAGE_LINES,
    ) -> None:
        self._max_line = max_line_bytes
        self._max_variables = max_variables
        self._max_block = max_block_bytes
        self._max_usage = max_usage_lines
        self._buffer = bytearray()
        self._scanned = 0  # bytes of _buffer known to hold no newline
        self._state = ConnectionState.VARIABLES
        self._variables: dict[str, str] = {}
        self._block_bytes = 0
        self._multi_code: str | None = None
        self._multi_lines: list[str] = []
        self._pending: str | None = None
        self._names: set[str] = set()  # command names already validated
        self._replies: dict[str, CommandCompleted] = {}  # parsed one-line replies, by line
        self.hangup_received = False

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def pending_command(self) -> str | None:
        return self._pending

    def send_command(self, name: str, *args: str) -> bytes:
        """Bytes to write for ``name args...``; the command is pending until its reply."""
        if self._state is ConnectionState.VARIABLES:
            raise LocalProtocolError("no command may be sent before the variable block ends")
        if self._state is ConnectionState.AWAITING_REPLY:
            raise LocalProtocolError(f"command {self._pending!r} is still waiting for its reply")
        if self._state is not ConnectionState.IDLE:
            raise LocalProtocolError(f"connection is {self._state.value}")
        if name not in self._names:
            data = format_command(name, *args)
            self._names.add(name)
        else:
            data = encode_command(name, args)
        self._pending = name
        self._state = ConnectionState.AWAITING_REPLY
        return data

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes from the peer; ``b""`` means end of stream."""
        if self._state in (ConnectionState.CLOSED, ConnectionState.ERROR):
            raise LocalProtocolError(f"receive_data on a connection that is {self._state.value}")
        try:
            return self._receive(data)
        except RemoteProtocolError:
            self._state = ConnectionState.ERROR
            raise

    def _receive(self, data: bytes) -> list[Event]:
        events: list[Event] = []
        if not data:
            self._end_of_stream(events)
            return events
        buffer = self._buffer
        if not buffer and self._state is ConnectionState.VARIABLES:
            data = self._variable_lines(data, events)
            if not data:
                return events
        if not buffer and data.find(b"\n") == len(data) - 1:  # one whole line: the usual case
            if len(data) - 1 > self._max_line:
                raise RemoteProtocolError("line too long", data[:80].decode("utf-8", "replace"))
            self._handle_line(data[:-2] if data.endswith(b"\r\n") else data[:-1], events)
            return events
        buffer += data
        start = 0
        while True:
            newline = buffer.find(b"\n", max(start, self._scanned))
            if newline < 0:
                break
            if newline - start > self._max_line:
                raise RemoteProtocolError("line too long", self._preview(start))
            raw = bytes(buffer[start:newline])
            start = newline + 1
            self._scanned = start
            self._handle_line(raw[:-1] if raw.endswith(b"\r") else raw, events)
        del buffer[:start]
        self._scanned = len(buffer)
        if len(buffer) > self._max_line:
            raise RemoteProtocolError("line too long", self._preview(0))
        return events

    def _variable_lines(self, data: bytes, events: list[Event]) -> bytes:
        """Bulk path for the variable block: parse every complete line of ``data`` (which
        starts at a line boundary) in one go, and the block's end if it is there. Returns the
        bytes not consumed, or ``data`` untouched for the line-by-line path, which applies
        the same limits and gives the precise error for anything unusual."""
        end = data.find(b"\n\n")
        stop = end + 1 if end >= 0 else data.rfind(b"\n") + 1  # complete lines, with "\n"
        raw = data[: stop - 1]
        if stop <= 1 or self._block_bytes + stop > self._max_block or b"\r" in raw:
            return data
        if stop > self._max_line and max(map(len, raw.split(b"\n"))) > self._max_line:
            return data
        text = raw.decode("utf-8", "replace")
        count = text.count("\n") + 1
        if len(self._variables) + count > self._max_variables:
            return data
        pairs = _VARIABLE_PAIRS.findall(text)
        if len(pairs) != count:  # some line is not "agi_<name>: <value>"
            return data
        self._variables.update(pairs)
        self._block_bytes += stop
        if end < 0:
            return data[stop:]
        self._state = ConnectionState.IDLE
        events.append(SessionStarted(self._variables))
        self._variables = {}
        return data[end + 2 :]

    def _preview(self, start: int) -> str:
        return bytes(self._buffer[start : start + 80]).decode("utf-8", "replace")

    def _end_of_stream(self, events: list[Event]) -> None:
        if self._buffer:
            raise RemoteProtocolError("connection closed inside a line", self._preview(0))
        if self._state is ConnectionState.VARIABLES:
            raise RemoteProtocolError("connection closed before the variable block ended")
        if self._multi_code is not None:
            raise RemoteProtocolError("connection closed inside a multi-line reply")
        self._state = ConnectionState.CLOSED
        events.append(ConnectionClosed())

    def _handle_line(self, raw: bytes, events: list[Event]) -> None:
        line = raw.decode("utf-8", "replace")
        if self._state is ConnectionState.VARIABLES:
            self._variable_line(line, len(raw), events)
        elif self._multi_code is not None:
            self._usage_line(line, events)
        elif line == "HANGUP":
            self.hangup_received = True
            events.append(HangupReceived())
        else:
            self._reply_line(line, events)

    def _variable_line(self, line: str, size: int, events: list[Event]) -> None:
        if not line:
            if not self._variables:
                raise RemoteProtocolError("empty variable block", line)
            self._state = ConnectionState.IDLE
            events.append(SessionStarted(self._variables))
            self._variables = {}
            return
        match = _VARIABLE_LINE.match(line)
        if match is None:
            raise RemoteProtocolError("not an agi_ variable line", line)
        self._block_bytes += size + 1
        if len(self._variables) >= self._max_variables or self._block_bytes > self._max_block:
            raise RemoteProtocolError("variable block too large", line)
        self._variables[match.group(1)] = match.group(2)

    def _reply_line(self, line: str, events: list[Event]) -> None:
        cached = self._replies.get(line)
        if cached is not None and self._state is ConnectionState.AWAITING_REPLY:
            self._complete(cached, events)  # replies are immutable: "200 result=0" repeats
            return
        match = _REPLY_LINE.match(line)
        if match is None:
            raise RemoteProtocolError("not an AGI reply line", line)
        if self._state is not ConnectionState.AWAITING_REPLY:
            raise RemoteProtocolError("reply with no command pending", line)
        code, sep, text = match.groups()
        if sep == "-":
            self._multi_code = code
            self._multi_lines = []
        elif code == "100":
            events.append(CommandProgress(text))
        else:
            reply = parse_reply(int(code), text, line)
            if reply.extra is _NO_EXTRA and len(self._replies) < _REPLY_CACHE_SIZE:
                self._replies[line] = reply
            self._complete(reply, events)

    def _usage_line(self, line: str, events: list[Event]) -> None:
        code = self._multi_code
        assert code is not None
        if line.startswith(code + " "):
            self._multi_code = None
            usage = "\n".join(self._multi_lines)
            self._multi_lines = []
            self._complete(CommandCompleted(int(code), "", usage, {}), events)
            return
        if len(self._multi_lines) >= self._max_usage:
            raise RemoteProtocolError("multi-line reply too long", line)
        self._multi_lines.append(line)

    def _complete(self, reply: CommandCompleted, events: list[Event]) -> None:
        self._pending = None
        self._state = ConnectionState.IDLE
        events.append(reply)
