"""Live call state as values: channels, bridges, dials and endpoints, and the changes to them.

Invariants:
- Everything here is immutable; a ``LiveSnapshot`` is never modified, the reducer returns
  a new one (unchanged maps are shared between snapshots).
- A channel's ``bridge_id`` names a bridge in ``bridges`` whose ``members`` holds that
  channel, and vice versa (the reducer keeps both sides together).
- ``dials`` is keyed by the dialled (destination) channel's uniqueid and only holds dials
  whose channels are still up, so memory is bounded by live channels.
- Queue and consultant state belong to the ACD; endpoints only say what AMI says: reachable
  contacts and device state.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


def _empty() -> Mapping[Any, Any]:
    return MappingProxyType({})


class ChannelState(enum.Enum):
    DOWN = "Down"
    RESERVED = "Rsrvd"
    OFFHOOK = "OffHook"
    DIALING = "Dialing"
    RING = "Ring"
    RINGING = "Ringing"
    UP = "Up"
    BUSY = "Busy"
    DIALING_OFFHOOK = "Dialing Offhook"
    PRERING = "Pre-ring"
    UNKNOWN = "Unknown"

    @classmethod
    def parse(cls, desc: str) -> ChannelState:
        try:
            return cls(desc)
        except ValueError:
            return cls.UNKNOWN


class DialStatus(enum.Enum):
    """Interim (RINGING, PROCEEDING, PROGRESS) and final (the rest) dial outcomes."""

    RINGING = "RINGING"
    PROCEEDING = "PROCEEDING"
    PROGRESS = "PROGRESS"
    ANSWER = "ANSWER"
    BUSY = "BUSY"
    NOANSWER = "NOANSWER"
    CANCEL = "CANCEL"
    CONGESTION = "CONGESTION"
    CHANUNAVAIL = "CHANUNAVAIL"
    DONTCALL = "DONTCALL"
    TORTURE = "TORTURE"
    INVALIDARGS = "INVALIDARGS"
    UNKNOWN = "UNKNOWN"

    @classmethod
    def parse(cls, raw: str) -> DialStatus:
        try:
            return cls(raw.upper())
        except ValueError:
            return cls.UNKNOWN


class DeviceState(enum.Enum):
    UNKNOWN = "UNKNOWN"
    NOT_INUSE = "NOT_INUSE"
    INUSE = "INUSE"
    BUSY = "BUSY"
    INVALID = "INVALID"
    UNAVAILABLE = "UNAVAILABLE"
    RINGING = "RINGING"
    RINGINUSE = "RINGINUSE"
    ONHOLD = "ONHOLD"

    @classmethod
    def parse(cls, raw: str) -> DeviceState:
        try:
            return cls(raw.upper())
        except ValueError:
            return cls.UNKNOWN


class ContactState(enum.Enum):
    REACHABLE = "Reachable"
    UNREACHABLE = "Unreachable"
    NON_QUALIFIED = "NonQualified"
    UNKNOWN = "Unknown"

    @classmethod
    def parse(cls, raw: str) -> ContactState:
        try:
            return cls(raw)
        except ValueError:
            return cls.UNKNOWN


@dataclass(frozen=True, slots=True)
class Channel:
    uniqueid: str
    linkedid: str
    name: str
    state: ChannelState
    caller_num: str
    caller_name: str
    connected_num: str
    connected_name: str
    context: str
    exten: str
    language: str
    account_code: str
    created_at: float
    bridge_id: str | None = None
    app: str = ""
    app_data: str = ""
    recording: bool = False


@dataclass(frozen=True, slots=True)
class Bridge:
    id: str
    type: str
    technology: str
    name: str
    created_at: float
    members: tuple[str, ...] = ()  # channel uniqueids, in order of entry


@dataclass(frozen=True, slots=True)
class Dial:
    dest_uniqueid: str
    dest_name: str
    caller_uniqueid: str | None  # None for an Originate (no calling channel)
    dial_string: str
    begun_at: float
    status: DialStatus | None = None
    ended_at: float | None = None

    @property
    def answered(self) -> bool:
        return self.status is DialStatus.ANSWER


_IN_USE = frozenset(
    {DeviceState.INUSE, DeviceState.BUSY, DeviceState.RINGINUSE, DeviceState.ONHOLD}
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A PJSIP endpoint (``c0001``) as AMI reports it."""

    name: str
    device_state: DeviceState = DeviceState.UNKNOWN
    contacts: tuple[tuple[str, ContactState], ...] = ()  # (uri, state), sorted by uri
    peer_status: str = ""

    @property
    def reachable(self) -> bool | None:
        """True if a contact answers qualify; False if none can; None if nobody knows."""
        states = {state for _, state in self.contacts}
        if ContactState.REACHABLE in states:
            return True
        if states & {ContactState.NON_QUALIFIED, ContactState.UNKNOWN}:
            return None
        if states:
            return False
        return None if self.peer_status in ("", "Registered") else self.peer_status == "Reachable"

    @property
    def in_use(self) -> bool:
        return self.device_state in _IN_USE

    @property
    def ringing(self) -> bool:
        return self.device_state in (DeviceState.RINGING, DeviceState.RINGINUSE)


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    channels: Mapping[str, Channel] = field(default_factory=_empty)
    bridges: Mapping[str, Bridge] = field(default_factory=_empty)
    dials: Mapping[str, Dial] = field(default_factory=_empty)
    endpoints: Mapping[str, Endpoint] = field(default_factory=_empty)
    synced: bool = False

    def call(self, linkedid: str) -> tuple[Channel, ...]:
        """Every live channel of one call (same linkedid), oldest first."""
        legs = [c for c in self.channels.values() if c.linkedid == linkedid]
        return tuple(sorted(legs, key=lambda c: (c.created_at, c.uniqueid)))


# --- changes published to subscribers ------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ChannelChanged:
    channel: Channel
    at: float


@dataclass(frozen=True, slots=True)
class ChannelHungUp:
    channel: Channel
    cause: str
    cause_txt: str
    at: float


@dataclass(frozen=True, slots=True)
class BridgeChanged:
    bridge: Bridge
    at: float


@dataclass(frozen=True, slots=True)
class BridgeDestroyed:
    bridge: Bridge
    at: float


@dataclass(frozen=True, slots=True)
class DialChanged:
    dial: Dial
    at: float


@dataclass(frozen=True, slots=True)
class EndpointChanged:
    endpoint: Endpoint
    at: float


@dataclass(frozen=True, slots=True)
class StateResynced:
    """The whole state was replaced (start, reconnect, or lost events): redraw from it."""

    snapshot: LiveSnapshot
    at: float


@dataclass(frozen=True, slots=True)
class StateStale:
    """AMI is down: the last snapshot is kept but may be out of date until StateResynced."""

    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class StateChangesDropped:
    """This subscriber was too slow and lost ``count`` changes: re-read the snapshot."""

    count: int


StateChange = (
    ChannelChanged
    | ChannelHungUp
    | BridgeChanged
    | BridgeDestroyed
    | DialChanged
    | EndpointChanged
    | StateResynced
    | StateStale
)
LiveChange = StateChange | StateChangesDropped
