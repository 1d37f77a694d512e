"""Sans-IO AMI protocol: bytes in, messages out; actions in, bytes out. No sockets, no asyncio.

Wire format (Asterisk 22): a banner line ``Asterisk Call Manager/<version>``, then messages
of ``Key: Value`` lines ended by an empty line. Lines end in CRLF (a bare LF is accepted).

Invariants:
- ``receive_data`` returns complete messages only, in wire order, and never loses bytes across
  calls: feeding a stream byte by byte yields exactly what feeding it whole does.
- Replies are correlated by ActionID. A reply carrying ``EventList: start`` is held until
  the list's closing event (``EventList: Complete``); its items never reach the event stream
  and come back inside one ``AmiResponse``. Events without a pending list go out as events.
- A forgotten action (timed out) has its late reply and list items discarded, not surfaced.
- Junk (a line that is not ``Key: Value``, a message with neither Response nor Event, a bad
  banner) or a line/message over its limit raises ``RemoteProtocolError``; the protocol then
  stays failed (every later call raises), so the adapter must drop the connection.
- Invalid UTF-8 is decoded with U+FFFD replacements (a caller name in Latin-1 must not kill
  the connection that carries every other call's events).
- ``send_action`` refuses CR/LF in names or values (``LocalProtocolError``): no header
  injection, whatever a caller id or API body contains.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat

from cti.ami import names
from cti.ami.messages import (
    AmiBanner,
    AmiEvent,
    AmiMessage,
    AmiResponse,
    Headers,
    LocalProtocolError,
    RemoteProtocolError,
)

HeaderValue = str | int | Sequence[str]
_FORGOTTEN_LIMIT = 1024
_RESPONSE = f"{names.RESPONSE}:"
_RESPONSE_LOWER = names.RESPONSE.lower()
_EVENT_LOWER = names.EVENT.lower()
_ACTION_ID_LOWER = names.ACTION_ID.lower()
_FOLLOWS = names.RESPONSE_FOLLOWS


class _Reading(enum.Enum):
    BANNER = "banner"
    HEADERS = "headers"
    FOLLOWS_BODY = "follows-body"
    FOLLOWS_END = "follows-end"
    FAILED = "failed"


@dataclass(slots=True)
class _Pending:
    action: str
    response: AmiResponse | None = None
    events: list[AmiEvent] = field(default_factory=list)


class AmiProtocol:
    """One AMI connection's framing and ActionID bookkeeping."""

    def __init__(
        self, *, max_line_bytes: int = 65536, max_message_bytes: int = 8 * 1024 * 1024
    ) -> None:
        self._max_line = max_line_bytes
        self._max_message = max_message_bytes
        self._buffer = bytearray()
        self._state = _Reading.BANNER
        self._headers: list[tuple[str, str]] = []
        self._body: list[str] = []
        self._message_bytes = 0
        self._pending: dict[str, _Pending] = {}
        self._forgotten: OrderedDict[str, None] = OrderedDict()
        self.banner: AmiBanner | None = None

    # --- sending ---------------------------------------------------------------------------
    def send_action(
        self,
        action_id: str,
        name: str,
        headers: Mapping[str, HeaderValue] | Iterable[tuple[str, str]] = (),
    ) -> bytes:
        """Encode one action and remember ``action_id`` for correlating its reply."""
        if action_id in self._pending:
            raise LocalProtocolError(f"ActionID {action_id!r} is already pending")
        pairs = [(names.ACTION, name), (names.ACTION_ID, action_id)]
        items = headers.items() if isinstance(headers, Mapping) else headers
        for key, value in items:
            if isinstance(value, str | int):
                pairs.append((key, str(value)))
            else:
                pairs.extend((key, str(v)) for v in value)
        out = []
        for key, value in pairs:
            _check_outgoing(key, value)
            out.append(f"{key}: {value}\r\n")
        out.append("\r\n")
        self._pending[action_id] = _Pending(action=name)
        return "".join(out).encode("utf-8")

    def forget(self, action_id: str) -> None:
        """Stop waiting for ``action_id`` (timeout/cancel); its late reply will be discarded."""
        if self._pending.pop(action_id, None) is not None:
            self._forgotten[action_id] = None
            while len(self._forgotten) > _FORGOTTEN_LIMIT:
                self._forgotten.popitem(last=False)

    @property
    def pending_actions(self) -> tuple[str, ...]:
        return tuple(self._pending)

    # --- receiving -------------------------------------------------------------------------
    def receive_data(self, data: bytes) -> list[AmiMessage]:
        """Feed bytes from the socket; return every message they complete."""
        if self._state is _Reading.FAILED:
            raise RemoteProtocolError("AMI protocol already failed; drop this connection")
        self._buffer += data
        cut = self._buffer.rfind(b"\n")
        if cut < 0:
            self._check_partial(len(self._buffer))
            return []
        complete = bytes(self._buffer[: cut + 1])
        del self._buffer[: cut + 1]
        out: list[AmiMessage] = []
        try:
            if len(complete) > self._max_line:
                longest = max(map(len, complete.split(b"\n")))
                if longest > self._max_line + 1:  # +1: the line's own \n-less CR
                    raise RemoteProtocolError(
                        f"AMI line of {longest} bytes exceeds the {self._max_line}-byte limit"
                    )
            self._text(complete.decode("utf-8", "replace").replace("\r\n", "\n"), out)
            self._check_partial(len(self._buffer))
        except RemoteProtocolError:
            self._state = _Reading.FAILED
            raise
        return out

    def _text(self, text: str, out: list[AmiMessage]) -> None:
        """Complete lines (LF-terminated, CRLF already folded) -> messages.

        Fast path: a whole ``Key: Value`` block between blank lines is parsed with
        comprehensions; anything unusual (banner, Follows body, a message continued from the
        previous chunk, extra blank lines, junk) goes line by line through ``_line``.
        """
        blocks = text.split("\n\n")
        tail = blocks.pop()
        for block in blocks:
            if self._headers or self._state is not _Reading.HEADERS or not self._block(block, out):
                self._slow([*block.split("\n"), ""], out)
        if tail:
            self._slow(tail.split("\n")[:-1], out)

    def _block(self, block: str, out: list[AmiMessage]) -> bool:
        """Parse one complete message at C speed; False if it needs the careful path."""
        if not block or len(block) > self._max_message or block[0] == "\n":
            return False
        if block.startswith(_RESPONSE) and _FOLLOWS in block[:24]:
            return False
        if block[0] in " \t:" or "\n " in block or "\n\t" in block or "\n:" in block:
            return False  # a key that is empty or starts with blanks: let _header say why
        lines = block.split("\n")
        # "Key: Value" only; "Key:" or "Key:Value" (never sent by Asterisk) take the slow path
        pairs = [(k, v[1:]) for k, _, v in map(str.partition, lines, repeat(":")) if v[:1] == " "]
        if len(pairs) != len(lines):
            return False
        self._headers = pairs
        self._finish(out)
        return True

    def _slow(self, lines: list[str], out: list[AmiMessage]) -> None:
        for line in lines:
            self._message_bytes += len(line) + 1
            if self._message_bytes > self._max_message:
                raise RemoteProtocolError(f"AMI message exceeds the {self._max_message}-byte limit")
            self._line(line, out)

    def receive_eof(self) -> None:
        """The peer closed. Raises RemoteProtocolError if it closed in the middle of a message."""
        mid_message = bool(self._buffer.strip() or self._headers or self._body)
        failed = self._state is _Reading.FAILED
        self._state = _Reading.FAILED
        if mid_message and not failed:
            raise RemoteProtocolError("AMI connection closed in the middle of a message")

    def _check_partial(self, size: int) -> None:
        if size > self._max_line:
            self._state = _Reading.FAILED
            raise RemoteProtocolError(
                f"AMI line longer than the {self._max_line}-byte limit (no line end)"
            )
        if self._message_bytes + size > self._max_message:
            self._state = _Reading.FAILED
            raise RemoteProtocolError(f"AMI message exceeds the {self._max_message}-byte limit")

    def _line(self, line: str, out: list[AmiMessage]) -> None:
        state = self._state
        if state is _Reading.HEADERS:
            if line:
                self._header(line)
            elif self._headers:
                self._finish(out)
            else:
                self._message_bytes = 0  # stray blank line between messages: harmless
        elif state is _Reading.BANNER:
            if not line.startswith(names.BANNER_PREFIX):
                raise RemoteProtocolError(f"expected the AMI banner, got {_show(line)}")
            self.banner = AmiBanner(version=line[len(names.BANNER_PREFIX) :].strip())
            self._message_bytes = 0
            self._state = _Reading.HEADERS
            out.append(self.banner)
        elif state is _Reading.FOLLOWS_BODY:
            self._follows_line(line)
        elif line:  # FOLLOWS_END: only the blank line may follow --END COMMAND--
            raise RemoteProtocolError(
                f"expected a blank line after --END COMMAND--, got {_show(line)}"
            )
        else:
            self._finish(out)

    def _header(self, line: str) -> None:
        colon = line.find(":")
        if colon <= 0 or line[0] in " \t":
            raise RemoteProtocolError(f"not an AMI header line: {_show(line)}")
        key = line[:colon]
        value = line[colon + 1 :]
        if value.startswith(" "):
            value = value[1:]
        if not self._headers and key == names.RESPONSE and value == names.RESPONSE_FOLLOWS:
            self._state = _Reading.FOLLOWS_BODY
        self._headers.append((key, value))

    def _follows_line(self, line: str) -> None:
        """Legacy ``Response: Follows`` body: raw CLI output up to ``--END COMMAND--``."""
        if line.endswith(names.END_COMMAND):
            rest = line[: -len(names.END_COMMAND)]
            if rest:
                self._body.append(rest)
            self._state = _Reading.FOLLOWS_END
            return
        if not self._body:
            key, sep, value = line.partition(": ")
            if sep and key in (names.PRIVILEGE, names.ACTION_ID):
                self._headers.append((key, value))
                return
        self._body.append(line)

    def _finish(self, out: list[AmiMessage]) -> None:
        headers = Headers(self._headers)
        body = tuple(self._body)
        self._headers = []
        self._body = []
        self._message_bytes = 0
        self._state = _Reading.HEADERS
        event_name = headers.lookup_lower(_EVENT_LOWER)
        # An event may carry a Response header too (OriginateResponse): Asterisk writes the
        # Event header first in events and the Response header first in replies.
        is_event = event_name is not None and headers.multi_items()[0][0].lower() == _EVENT_LOWER
        if headers.lookup_lower(_RESPONSE_LOWER) is not None and not is_event:
            self._on_response(headers, body, out)
        elif event_name is not None:
            self._on_event(AmiEvent(name=event_name, headers=headers), out)
        else:
            first = headers.multi_items()[0]
            raise RemoteProtocolError(
                f"AMI message with neither Response nor Event (first header {first[0]!r})"
            )

    def _on_response(self, headers: Headers, body: tuple[str, ...], out: list[AmiMessage]) -> None:
        output = body or headers.getall(names.OUTPUT)
        response = AmiResponse(response=headers[names.RESPONSE], headers=headers, output=output)
        action_id = response.action_id
        pending = self._pending.get(action_id)
        if pending is None:
            if action_id not in self._forgotten:
                out.append(response)
            return
        is_list = headers.get(names.EVENT_LIST).lower() == names.EVENT_LIST_START
        if is_list and response.ok:
            pending.response = response
        else:
            del self._pending[action_id]
            out.append(response)

    def _on_event(self, event: AmiEvent, out: list[AmiMessage]) -> None:
        action_id = event.headers.lookup_lower(_ACTION_ID_LOWER)
        if action_id:
            pending = self._pending.get(action_id)
            if pending is not None and pending.response is not None:
                if _closes_list(event):
                    del self._pending[action_id]
                    base = pending.response
                    out.append(
                        AmiResponse(
                            response=base.response,
                            headers=base.headers,
                            output=base.output,
                            events=tuple(pending.events),
                            complete=event,
                        )
                    )
                else:
                    pending.events.append(event)
                return
            if action_id in self._forgotten:
                return
        out.append(event)


def _closes_list(event: AmiEvent) -> bool:
    marker = event.headers.get(names.EVENT_LIST).lower()
    if marker:
        return marker == names.EVENT_LIST_COMPLETE.lower()
    return event.name.endswith("Complete")


def _check_outgoing(key: str, value: str) -> None:
    if not key or ":" in key or key != key.strip() or any(c in key for c in "\r\n"):
        raise LocalProtocolError(f"invalid AMI header name {key!r}")
    if "\r" in value or "\n" in value:
        raise LocalProtocolError(f"AMI header {key} value contains CR/LF")


def _show(line: str) -> str:
    return repr(line[:80] + ("..." if len(line) > 80 else ""))
