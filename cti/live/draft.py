"""Copy-on-write working copy of a ``LiveSnapshot`` used inside one reducer step.

Invariants:
- A map is copied only when first written; ``freeze`` shares every untouched map with the
  base snapshot, and returns the base itself when nothing was written.
- Every write appends the matching change (``ChannelChanged``...) for subscribers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import TypeVar

from cti.ami import names as n
from cti.ami.messages import AmiEvent
from cti.live.model import (
    Bridge,
    BridgeChanged,
    Channel,
    ChannelChanged,
    ChannelState,
    Dial,
    DialChanged,
    LiveSnapshot,
)
from cti.live.reducer_endpoints import EndpointDraft

K = TypeVar("K")
V = TypeVar("V")
UNKNOWN = "<unknown>"


class Draft(EndpointDraft):
    """Copy-on-write working copy of a snapshot, used inside one ``apply`` call only."""

    def __init__(self, base: LiveSnapshot, at: float, now: float) -> None:
        super().__init__(base.endpoints, at)
        self.base = base
        self.now = now
        self._channels: dict[str, Channel] | None = None
        self._bridges: dict[str, Bridge] | None = None
        self._dials: dict[str, Dial] | None = None

    @property
    def channels(self) -> dict[str, Channel]:
        if self._channels is None:
            self._channels = copy_map(self.base.channels)
        return self._channels

    @property
    def bridges(self) -> dict[str, Bridge]:
        if self._bridges is None:
            self._bridges = copy_map(self.base.bridges)
        return self._bridges

    @property
    def dials(self) -> dict[str, Dial]:
        if self._dials is None:
            self._dials = copy_map(self.base.dials)
        return self._dials

    def dials_view(self) -> Mapping[str, Dial]:
        return self.base.dials if self._dials is None else self._dials

    def freeze(self) -> LiveSnapshot:
        if self.touched_nothing():
            return self.base
        return dataclasses.replace(
            self.base,
            channels=frozen(self._channels, self.base.channels),
            bridges=frozen(self._bridges, self.base.bridges),
            dials=frozen(self._dials, self.base.dials),
            endpoints=frozen(self.endpoints_written, self.base.endpoints),
        )

    def touched_nothing(self) -> bool:
        return (
            self._channels is None
            and self._bridges is None
            and self._dials is None
            and self.endpoints_written is None
        )

    # --- channels --------------------------------------------------------------------------
    def upsert_channel(self, event: AmiEvent, prefix: str = "") -> Channel | None:
        """Create or refresh a channel from the snapshot headers under ``prefix``."""
        h = event.headers
        uid = h.get(prefix + n.UNIQUEID)
        if not uid:
            return None
        old = self.base.channels.get(uid) if self._channels is None else self._channels.get(uid)
        channel = Channel(
            uniqueid=uid,
            linkedid=h.get(prefix + n.LINKEDID) or uid,
            name=h.get(prefix + n.CHANNEL),
            state=ChannelState.parse(h.get(prefix + n.CHANNEL_STATE_DESC)),
            caller_num=known(h.get(prefix + n.CALLER_ID_NUM)),
            caller_name=known(h.get(prefix + n.CALLER_ID_NAME)),
            connected_num=known(h.get(prefix + n.CONNECTED_LINE_NUM)),
            connected_name=known(h.get(prefix + n.CONNECTED_LINE_NAME)),
            context=h.get(prefix + n.CONTEXT),
            exten=h.get(prefix + n.EXTEN),
            language=h.get(prefix + n.LANGUAGE),
            account_code=h.get(prefix + n.ACCOUNT_CODE),
            created_at=old.created_at if old is not None else self.at,
            bridge_id=old.bridge_id if old is not None else None,
            app=old.app if old is not None else "",
            app_data=old.app_data if old is not None else "",
            recording=old.recording if old is not None else False,
        )
        return self.put_channel(channel, old)

    def put_channel(self, channel: Channel, old: Channel | None = None) -> Channel:
        if channel != old:
            self.channels[channel.uniqueid] = channel
            self.changes.append(ChannelChanged(channel=channel, at=self.at))
        return channel

    def channel(self, uid: str) -> Channel | None:
        return (self._channels if self._channels is not None else self.base.channels).get(uid)

    def put_bridge(self, bridge: Bridge) -> None:
        self.bridges[bridge.id] = bridge
        self.changes.append(BridgeChanged(bridge=bridge, at=self.at))

    def put_dial(self, dial: Dial) -> None:
        self.dials[dial.dest_uniqueid] = dial
        self.changes.append(DialChanged(dial=dial, at=self.at))


def copy_map(mapping: Mapping[K, V]) -> dict[K, V]:
    """A writable copy; a MappingProxyType over a dict copies at C speed via its ``copy``."""
    if isinstance(mapping, MappingProxyType | dict):
        return mapping.copy()
    return dict(mapping)


def known(value: str) -> str:
    return "" if value == UNKNOWN else value


def frozen(written: dict[K, V] | None, base: Mapping[K, V]) -> Mapping[K, V]:
    return base if written is None else MappingProxyType(written)
