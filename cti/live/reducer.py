"""Pure reducer: ``apply(snapshot, event, now) -> (snapshot, changes)``; ``resync(...)``.

Invariants:
- No I/O, no clock: ``now`` is passed in (used for ``created_at`` when Asterisk sends no
  ``Timestamp``); the same inputs always give the same outputs.
- Channel events are upserts: an event for a channel we never saw creates it (we may have
  missed its Newchannel), a Hangup for an unknown channel changes nothing, so replaying
  events that a resync snapshot already reflects is harmless.
- Only the maps an event touches are copied; unchanged maps are shared.
- Events we do not model (VarSet values, Cdr, Queue*...) return the snapshot unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from types import MappingProxyType

from cti.ami import names as n
from cti.ami.messages import AmiEvent
from cti.live.draft import Draft
from cti.live.model import (
    Bridge,
    ChannelHungUp,
    Dial,
    DialStatus,
    LiveSnapshot,
    StateChange,
)
from cti.live.reducer_bridges import BRIDGE_HANDLERS, drop_member
from cti.live.reducer_endpoints import ENDPOINT_HANDLERS

Handler = Callable[[Draft, AmiEvent], None]


def _event_time(event: AmiEvent, now: float) -> float:
    stamp = event.timestamp
    return stamp if stamp is not None else now


# --- handlers ------------------------------------------------------------------------------
def _channel(draft: Draft, event: AmiEvent) -> None:
    draft.upsert_channel(event)


def _newexten(draft: Draft, event: AmiEvent) -> None:
    channel = draft.upsert_channel(event)
    if channel is not None:
        app, data = event.get(n.APPLICATION), event.get(n.APP_DATA)
        draft.put_channel(dataclasses.replace(channel, app=app, app_data=data), channel)


def _mixmonitor(recording: bool) -> Handler:
    def handle(draft: Draft, event: AmiEvent) -> None:
        channel = draft.upsert_channel(event)
        if channel is not None:
            draft.put_channel(dataclasses.replace(channel, recording=recording), channel)

    return handle


def _hangup(draft: Draft, event: AmiEvent) -> None:
    uid = event.uniqueid
    channel = draft.channel(uid)
    if channel is None:
        return
    del draft.channels[uid]
    if channel.bridge_id is not None:
        drop_member(draft, channel.bridge_id, uid)
    current = draft.dials_view()
    gone = [k for k, d in current.items() if uid in (k, d.caller_uniqueid)]
    for key in gone:
        del draft.dials[key]
    draft.changes.append(
        ChannelHungUp(channel=channel, cause=event.get(n.CAUSE),
                      cause_txt=event.get(n.CAUSE_TXT), at=draft.at)
    )  # fmt: skip


def _dial_begin(draft: Draft, event: AmiEvent) -> None:
    caller = draft.upsert_channel(event)
    dest = draft.upsert_channel(event, n.DEST)
    if dest is None:
        return
    draft.put_dial(
        Dial(dest_uniqueid=dest.uniqueid, dest_name=dest.name,
             caller_uniqueid=caller.uniqueid if caller is not None else None,
             dial_string=event.get(n.DIAL_STRING), begun_at=draft.at)
    )  # fmt: skip


def _dial_progress(final: bool) -> Handler:
    def handle(draft: Draft, event: AmiEvent) -> None:
        caller = draft.upsert_channel(event)
        dest = draft.upsert_channel(event, n.DEST)
        if dest is None:
            return
        dial = draft.dials.get(dest.uniqueid) or Dial(
            dest_uniqueid=dest.uniqueid, dest_name=dest.name,
            caller_uniqueid=caller.uniqueid if caller is not None else None,
            dial_string=event.get(n.DIAL_STRING), begun_at=draft.at,
        )  # fmt: skip
        status = DialStatus.parse(event.get(n.DIAL_STATUS))
        ended = draft.at if final else None
        draft.put_dial(dataclasses.replace(dial, status=status, ended_at=ended))

    return handle


def _core_show_channel(draft: Draft, event: AmiEvent) -> None:
    channel = draft.upsert_channel(event)
    if channel is None:
        return
    bid = event.get(n.BRIDGE_ID) or None
    created = draft.now - _seconds(event.get(n.DURATION))
    refreshed = dataclasses.replace(
        channel, bridge_id=bid, app=event.get(n.APPLICATION),
        app_data=event.get(n.APPLICATION_DATA), created_at=created,
    )  # fmt: skip
    draft.put_channel(refreshed, channel)
    if bid is not None:
        bridge = draft.bridges.get(bid) or Bridge(bid, "", "", "", created_at=created)
        if channel.uniqueid not in bridge.members:
            bridge = dataclasses.replace(bridge, members=(*bridge.members, channel.uniqueid))
        draft.put_bridge(bridge)


def _seconds(hms: str) -> float:
    """``"01:02:03"`` -> 3723.0; anything unparsable -> 0."""
    try:
        total = 0
        for part in hms.split(":"):
            total = total * 60 + int(part)
        return float(total)
    except ValueError:
        return 0.0


CHANNEL_EVENTS = (
    n.NEWCHANNEL, n.NEWSTATE, n.NEW_CALLERID, n.NEW_CONNECTED_LINE, n.NEW_ACCOUNT_CODE,
    n.VAR_SET, n.HANGUP_REQUEST, "SoftHangupRequest", "Hold", "Unhold",
    "MusicOnHoldStart", "MusicOnHoldStop",
)  # fmt: skip


def _handlers() -> dict[str, Handler]:
    table: dict[str, Handler] = {name: _channel for name in CHANNEL_EVENTS}
    table.update({
        n.NEWEXTEN: _newexten,
        n.MIX_MONITOR_START: _mixmonitor(True),
        n.MIX_MONITOR_STOP: _mixmonitor(False),
        n.HANGUP: _hangup,
        n.DIAL_BEGIN: _dial_begin,
        n.DIAL_STATE: _dial_progress(final=False),
        n.DIAL_END: _dial_progress(final=True),
        n.CORE_SHOW_CHANNEL: _core_show_channel,
    })  # fmt: skip
    table.update(BRIDGE_HANDLERS)
    table.update(ENDPOINT_HANDLERS)
    return table


class Reducer:
    """The dispatch table, built once per owner (no import-time registration)."""

    def __init__(self) -> None:
        self._table = _handlers()

    def handles(self, event_name: str) -> bool:
        return event_name in self._table

    def apply(
        self, snapshot: LiveSnapshot, event: AmiEvent, now: float
    ) -> tuple[LiveSnapshot, tuple[StateChange, ...]]:
        handler = self._table.get(event.name)
        if handler is None:
            return snapshot, ()
        draft = Draft(snapshot, _event_time(event, now), now)
        handler(draft, event)
        return draft.freeze(), tuple(draft.changes)

    def resync(
        self,
        previous: LiveSnapshot,
        lists: Iterable[Iterable[AmiEvent]],
        now: float,
        *,
        keep_endpoints: bool,
    ) -> LiveSnapshot:
        """A fresh snapshot from list actions (CoreShowChannels, BridgeList, contacts...).

        Dials of channels still up are carried over (AMI cannot list them); endpoints are
        carried over too when ``keep_endpoints`` (their lists were not fetched).
        """
        start = LiveSnapshot(endpoints=previous.endpoints) if keep_endpoints else LiveSnapshot()
        draft = Draft(start, now, now)
        for items in lists:
            for event in items:
                handler = self._table.get(event.name)
                if handler is not None:
                    handler(draft, event)
        snapshot = draft.freeze()
        dials = {k: d for k, d in previous.dials.items() if k in snapshot.channels}
        return dataclasses.replace(snapshot, dials=MappingProxyType(dials), synced=True)
