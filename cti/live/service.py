"""``LiveState``: feeds AMI events through the pure reducer, resyncs, publishes changes.

Invariants:
- One writer: only ``run`` (and the resync it starts, between awaits) replaces the snapshot.
- A resync starts at startup, after ``AmiReconnected`` and after this consumer lost events
  (``AmiEventsDropped``). From the moment it starts, live events are buffered; the fresh
  snapshot (CoreShowChannels + BridgeList + PJSIPShowContacts + DeviceStateList) is then
  installed and the buffer replayed on it in order, so no event seen during a resync is lost.
  A newer resync supersedes a running one.
- Every AMI item read is also passed on, unchanged and in order, to the readers of ``events``
  (``cti.live.feed``) before the model applies it: the engine's one AMI subscription. An
  event the model cannot apply is logged and starts a resync; readers still get it. When
  ``run`` starts again after a failure, readers are told they missed events
  (``AmiEventsDropped`` with count 0: the number is not known).
- Subscribers get every change in order, one ``StateResynced`` per resync (carrying the
  whole snapshot) instead of the replayed changes, and ``StateStale`` when AMI drops. A slow
  subscriber loses only its own oldest changes and is told (``StateChangesDropped``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable

from cti.ami import names
from cti.ami.client import AmiClient
from cti.ami.fanout import Fanout, Subscription
from cti.ami.messages import (
    AmiConnectionLost,
    AmiDisconnected,
    AmiError,
    AmiEvent,
    AmiEventsDropped,
    AmiReconnected,
    AmiStreamItem,
)
from cti.live.feed import EventFeed
from cti.live.model import (
    LiveChange,
    LiveSnapshot,
    StateChangesDropped,
    StateResynced,
    StateStale,
)
from cti.live.reducer import Reducer

_OPTIONAL_LISTS = (names.PJSIP_SHOW_CONTACTS, names.DEVICE_STATE_LIST)


class LiveState:
    """The live channels/bridges/dials/endpoints picture, kept from one ``AmiClient``."""

    def __init__(
        self,
        ami: AmiClient,
        *,
        clock: Callable[[], float] = time.time,
        log: logging.Logger | None = None,
        ami_queue: int = 100_000,
        max_buffered: int = 200_000,
        resync_timeout_s: float = 15.0,
        resync_retry_s: float = 1.0,
    ) -> None:
        self._ami = ami
        self._clock = clock
        self._log = log or logging.getLogger(__name__)
        self._ami_queue = ami_queue
        self._max_buffered = max_buffered
        self._resync_timeout_s = resync_timeout_s
        self._resync_retry_s = resync_retry_s
        self._reducer = Reducer()
        self._snapshot = LiveSnapshot()
        self._fanout: Fanout[LiveChange] = Fanout(
            StateChangesDropped, label="live-state", log=self._log
        )
        # The AMI stream passed on to the engine's other readers (one subscription for all).
        self.events = EventFeed(ami.settings.subscription_maxsize, self._log)
        self._runs = 0
        self._buffer: list[AmiEvent] | None = None  # not None while a resync runs
        self._resync_task: asyncio.Task[None] | None = None
        self._synced = asyncio.Event()
        self.events_applied = 0
        self.events_replayed = 0
        self.resyncs = 0

    @property
    def snapshot(self) -> LiveSnapshot:
        return self._snapshot

    def subscribe(self, maxsize: int = 1000, name: str | None = None) -> Subscription[LiveChange]:
        """Changes from now on; read ``snapshot`` first for the current picture."""
        return self._fanout.subscribe(maxsize, name)

    async def wait_synced(self, within_s: float) -> LiveSnapshot:
        """Wait until a resync has completed (raises TimeoutError after ``within_s``)."""
        async with asyncio.timeout(within_s):
            await self._synced.wait()
        return self._snapshot

    async def run(self) -> None:
        """Consume AMI until the client stops (its subscription ends) or this is cancelled."""
        if self._runs:
            self.events.publish(AmiEventsDropped(0))  # between two runs nobody was reading
        self._runs += 1
        ended = False
        with self._ami.subscribe(self._ami_queue, name="live-state") as sub:
            try:
                async with asyncio.TaskGroup() as group:
                    self._start_resync(group)
                    async for item in sub:
                        self._consume(item, group)
                    self._cancel_resync()
                ended = True
            finally:
                self._fanout.close()
                if ended:
                    self.events.close()

    def _consume(self, item: AmiStreamItem, group: asyncio.TaskGroup) -> None:
        self.events.publish(item)
        if isinstance(item, AmiEvent):
            if self._buffer is None:
                self._apply_or_resync(item, group)
            elif len(self._buffer) < self._max_buffered:
                self._buffer.append(item)
            else:
                self._log.warning("live state: resync buffer full; starting over")
                self._start_resync(group)
        elif isinstance(item, AmiConnectionLost):
            self._mark_stale(item.reason)
        elif isinstance(item, AmiReconnected):
            self._start_resync(group)
        elif isinstance(item, AmiEventsDropped):
            self._log.warning("live state lost %d AMI events; resyncing", item.count)
            self._start_resync(group)

    def _apply_or_resync(self, event: AmiEvent, group: asyncio.TaskGroup) -> None:
        try:
            self._apply(event)
        except Exception:  # a model defect must not stop the stream the call path reads
            self._log.exception("live state: event %s could not be applied; resyncing", event.name)
            self._start_resync(group)

    def _apply(self, event: AmiEvent) -> None:
        self._snapshot, changes = self._reducer.apply(self._snapshot, event, self._clock())
        self.events_applied += 1
        for change in changes:
            self._fanout.publish(change)

    def _mark_stale(self, reason: str) -> None:
        self._synced.clear()
        if self._snapshot.synced:
            self._snapshot = dataclasses.replace(self._snapshot, synced=False)
        self._fanout.publish(StateStale(reason=reason, at=self._clock()))

    # --- resync ----------------------------------------------------------------------------
    def _cancel_resync(self) -> None:
        if self._resync_task is not None and not self._resync_task.done():
            self._resync_task.cancel()
        self._resync_task = None

    def _start_resync(self, group: asyncio.TaskGroup) -> None:
        self._cancel_resync()
        self._buffer = []
        self._synced.clear()
        self._resync_task = group.create_task(self._resync(), name="live-state-resync")

    async def _resync(self) -> None:
        while True:
            try:
                lists, keep_endpoints = await self._fetch()
            except AmiDisconnected as exc:
                self._log.info("live state resync deferred until AMI reconnects: %s", exc)
                return
            except AmiError as exc:
                self._log.warning("live state resync failed (%s); retrying", exc)
                await asyncio.sleep(self._resync_retry_s)  # retry pacing, not a poll
                continue
            self._install(lists, keep_endpoints)
            return

    async def _fetch(self) -> tuple[list[list[AmiEvent]], bool]:
        limit = self._resync_timeout_s
        channels = await self._ami.action_list(names.CORE_SHOW_CHANNELS, limit)
        bridges = await self._ami.action_list(names.BRIDGE_LIST, limit)
        lists = [bridges, channels]
        keep_endpoints = False
        for action in _OPTIONAL_LISTS:
            try:
                lists.append(await self._ami.action_list(action, limit))
            except AmiDisconnected:
                raise
            except AmiError as exc:  # e.g. res_pjsip not loaded: endpoints stay as they were
                self._log.warning("live state: %s unavailable: %s", action, exc)
                keep_endpoints = True
        return lists, keep_endpoints

    def _install(self, lists: list[list[AmiEvent]], keep_endpoints: bool) -> None:
        now = self._clock()
        snapshot = self._reducer.resync(self._snapshot, lists, now, keep_endpoints=keep_endpoints)
        replay, self._buffer = self._buffer or [], None
        for event in replay:
            snapshot, _ = self._reducer.apply(snapshot, event, now)
        self.events_applied += len(replay)
        self.events_replayed += len(replay)
        self._snapshot = snapshot
        self.resyncs += 1
        self._resync_task = None
        self._synced.set()
        self._log.info(
            "live state resynced: %d channels, %d bridges, %d endpoints (%d events replayed)",
            len(snapshot.channels),
            len(snapshot.bridges),
            len(snapshot.endpoints),
            len(replay),
        )
        self._fanout.publish(StateResynced(snapshot=snapshot, at=now))
