"""AMI messages as values: headers, events, responses, stream notices and errors.

Invariants:
- Every message is immutable. ``Headers`` keeps every header in wire order with its original
  spelling, duplicates included (``ChanVariable``, ``Output``); lookups are case-insensitive
  and return the first value.
- ``RemoteProtocolError`` means Asterisk (or whatever is on the socket) broke the framing;
  ``LocalProtocolError`` means we tried to send something unencodable. Neither carries I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from cti.ami import names


class AmiError(Exception):
    """Base of every error raised by the AMI package."""


class RemoteProtocolError(AmiError):
    """The peer sent bytes that are not AMI (junk line, oversize line or message, bad banner)."""


class LocalProtocolError(AmiError):
    """We were asked to send something AMI cannot carry (CR/LF in a value, empty name...)."""


class AmiDisconnected(AmiError):
    """No logged-in connection: the action was not sent, or the connection died before a reply."""


class AmiTimeout(AmiError):
    """The action got no complete reply within its timeout; its late reply will be discarded."""


class AmiLoginError(AmiError):
    """Asterisk rejected the Login (wrong username or secret, or not permitted from here)."""


class AmiActionError(AmiError):
    """Asterisk answered ``Response: Error``; ``message`` is Asterisk's own ``Message`` text."""

    def __init__(self, action: str, message: str, response: AmiResponse) -> None:
        super().__init__(f"AMI action {action} failed: {message or '(no message)'}")
        self.action = action
        self.message = message
        self.response = response


class Headers(Mapping[str, str]):
    """Case-preserving, case-insensitive, duplicate-keeping header list (read-only)."""

    __slots__ = ("_index", "_items")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: tuple[tuple[str, str], ...] = tuple(items)
        # reversed: the first occurrence of a duplicated header wins
        self._index = {key.lower(): value for key, value in reversed(self._items)}

    def __getitem__(self, key: str) -> str:
        return self._index[key.lower()]

    def get(self, key: str, default: str = "") -> str:  # type: ignore[override]
        """First value of ``key``, or ``default`` (``""``) when absent: AMI has no nulls."""
        return self._index.get(key.lower(), default)

    def lookup_lower(self, lowered: str) -> str | None:
        """First value of an already lower-cased header name, or None (hot-path lookup)."""
        return self._index.get(lowered)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._index

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for key, _ in self._items:
            if key.lower() not in seen:
                seen.add(key.lower())
                yield key

    def __len__(self) -> int:
        return len(self._index)

    def getall(self, key: str) -> tuple[str, ...]:
        """Every value of ``key`` in wire order (e.g. all ``ChanVariable`` lines)."""
        wanted = key.lower()
        return tuple(value for name, value in self._items if name.lower() == wanted)

    def multi_items(self) -> tuple[tuple[str, str], ...]:
        """All ``(name, value)`` pairs in wire order, duplicates included."""
        return self._items

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self._items == other._items
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        return f"Headers({list(self._items)!r})"


@dataclass(frozen=True, slots=True)
class AmiBanner:
    """The first line Asterisk sends, e.g. ``Asterisk Call Manager/11.0.0``."""

    version: str


@dataclass(frozen=True, slots=True)
class AmiEvent:
    """One ``Event:`` message. ``name`` is the Event header's value."""

    name: str
    headers: Headers

    def get(self, header: str, default: str = "") -> str:
        return self.headers.get(header, default)

    @property
    def action_id(self) -> str:
        return self.headers.get(names.ACTION_ID)

    @property
    def uniqueid(self) -> str:
        return self.headers.get(names.UNIQUEID)

    @property
    def linkedid(self) -> str:
        return self.headers.get(names.LINKEDID)

    @property
    def channel(self) -> str:
        return self.headers.get(names.CHANNEL)

    @property
    def timestamp(self) -> float | None:
        """Asterisk's ``Timestamp`` header (manager.conf ``timestampevents=yes``), if any."""
        raw = self.headers.get(names.TIMESTAMP)
        try:
            return float(raw) if raw else None
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class AmiResponse:
    """The complete reply to one action.

    ``output`` holds Command output lines (``Output:`` headers, or the body of a legacy
    ``Response: Follows``). ``events`` holds the list items of an EventList action, in order,
    and ``complete`` the closing ``...Complete`` event (None for single-reply actions).
    """

    response: str
    headers: Headers
    output: tuple[str, ...] = ()
    events: tuple[AmiEvent, ...] = ()
    complete: AmiEvent | None = None

    @property
    def ok(self) -> bool:
        return self.response.lower() in ("success", "follows", "goodbye")

    @property
    def message(self) -> str:
        return self.headers.get(names.MESSAGE)

    @property
    def action_id(self) -> str:
        return self.headers.get(names.ACTION_ID)


@dataclass(frozen=True, slots=True)
class AmiReconnected:
    """Delivered to subscribers after a (re-)login: events may have been missed, resync.

    ``attempts`` is 0 for the first login (``AmiClient.start``). ``booted`` marks the notice
    sent when the connection's ``FullyBooted`` arrived (the PBX finished loading: resync
    again, what an earlier resync of a booting PBX saw may be incomplete)."""

    attempts: int
    booted: bool = False


@dataclass(frozen=True, slots=True)
class AmiConnectionLost:
    """Delivered to subscribers when the connection drops; ``reason`` is for logs."""

    reason: str


@dataclass(frozen=True, slots=True)
class AmiEventsDropped:
    """This subscriber was too slow: ``count`` of its oldest items were discarded."""

    count: int


AmiMessage = AmiBanner | AmiEvent | AmiResponse
AmiStreamItem = AmiEvent | AmiReconnected | AmiConnectionLost | AmiEventsDropped
