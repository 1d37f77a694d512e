"""Bridge part of the reducer: BridgeCreate/Enter/Leave/Destroy/Merge and BridgeListItem.

Invariants:
- Membership is kept on both sides: ``bridge.members`` and each member's ``bridge_id``.
- Entering a bridge leaves any other bridge the channel was in; entering twice adds once.
"""

from __future__ import annotations

import dataclasses

from cti.ami import names as n
from cti.ami.messages import AmiEvent
from cti.live.draft import Draft, known
from cti.live.model import Bridge, BridgeDestroyed


def _bridge_from(draft: Draft, event: AmiEvent, prefix: str = "") -> Bridge | None:
    h = event.headers
    bid = h.get(prefix + n.BRIDGE_UNIQUEID)
    if not bid:
        return None
    old = draft.bridges.get(bid)
    return Bridge(
        id=bid,
        type=h.get(prefix + n.BRIDGE_TYPE),
        technology=h.get(prefix + n.BRIDGE_TECHNOLOGY),
        name=known(h.get(prefix + n.BRIDGE_NAME)),
        created_at=old.created_at if old is not None else draft.at,
        members=old.members if old is not None else (),
    )


def _bridge_create(draft: Draft, event: AmiEvent) -> None:
    bridge = _bridge_from(draft, event)
    if bridge is not None:
        draft.put_bridge(bridge)


def _bridge_enter(draft: Draft, event: AmiEvent) -> None:
    bridge = _bridge_from(draft, event)
    channel = draft.upsert_channel(event)
    if bridge is None or channel is None:
        return
    if channel.bridge_id is not None and channel.bridge_id != bridge.id:
        drop_member(draft, channel.bridge_id, channel.uniqueid)
    if channel.uniqueid not in bridge.members:
        bridge = dataclasses.replace(bridge, members=(*bridge.members, channel.uniqueid))
    draft.put_bridge(bridge)
    draft.put_channel(dataclasses.replace(channel, bridge_id=bridge.id), channel)


def _bridge_leave(draft: Draft, event: AmiEvent) -> None:
    channel = draft.upsert_channel(event)
    bid = event.get(n.BRIDGE_UNIQUEID)
    drop_member(draft, bid, event.uniqueid)
    if channel is not None and channel.bridge_id == bid:
        draft.put_channel(dataclasses.replace(channel, bridge_id=None), channel)


def drop_member(draft: Draft, bid: str, uid: str) -> None:
    bridge = draft.bridges.get(bid)
    if bridge is not None and uid in bridge.members:
        members = tuple(m for m in bridge.members if m != uid)
        draft.put_bridge(dataclasses.replace(bridge, members=members))


def _bridge_destroy(draft: Draft, event: AmiEvent) -> None:
    bridge = draft.bridges.pop(event.get(n.BRIDGE_UNIQUEID), None)
    if bridge is None:
        return
    for uid in bridge.members:
        channel = draft.channel(uid)
        if channel is not None and channel.bridge_id == bridge.id:
            draft.put_channel(dataclasses.replace(channel, bridge_id=None), channel)
    draft.changes.append(BridgeDestroyed(bridge=bridge, at=draft.at))


def _bridge_merge(draft: Draft, event: AmiEvent) -> None:
    target = _bridge_from(draft, event, n.TO)
    source = _bridge_from(draft, event, n.FROM)
    if target is None or source is None:
        return
    moved = tuple(m for m in source.members if m not in target.members)
    draft.put_bridge(dataclasses.replace(target, members=(*target.members, *moved)))
    draft.put_bridge(dataclasses.replace(source, members=()))
    for uid in moved:
        channel = draft.channel(uid)
        if channel is not None:
            draft.put_channel(dataclasses.replace(channel, bridge_id=target.id), channel)


BRIDGE_HANDLERS = {
    n.BRIDGE_CREATE: _bridge_create,
    n.BRIDGE_ENTER: _bridge_enter,
    n.BRIDGE_LEAVE: _bridge_leave,
    n.BRIDGE_DESTROY: _bridge_destroy,
    n.BRIDGE_MERGE: _bridge_merge,
    n.BRIDGE_LIST_ITEM: _bridge_create,
}
