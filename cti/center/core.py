"""``CenterCore``: the state the real center's parts share, and how changes are published.

Invariants:
- One core per engine, used only on the event loop; the parts (ACD feed, AMI watch, call
  control, parties, supervision) change state only through it, and every visible change is
  published through the one ``EventHub`` as a whole new view (never a delta).
- Work a part starts in reaction to an event (AMI actions, call-log reads) runs as a tracked
  task: its failure is logged with the call id, never swallowed silently, and ``close``
  cancels what is left.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Protocol

from acd.driver import AcdDriver
from acd.errors import InvalidEvent
from acd.events import ConsultantReady, Event
from acd.views import queue_views
from cti.center.board import Change, ConsultantBoard
from cti.center.book import CallBook
from cti.center.ledger import Ledger
from cti.center.model import CallRec
from cti.center.pbx import Pbx
from cti.control import (
    CallChanged,
    CallOutcome,
    ConsultantChanged,
    EventHub,
    InvalidState,
    QueueChanged,
    QueueStats,
)
from recordings.calllog import CallRecord

log = logging.getLogger("dasan.cti.center")
Clock = Callable[[], datetime]


class CallLogReader(Protocol):
    """What the center reads and writes in the call log (recordings.calllog.CallLog)."""

    async def get(self, call_id: str) -> CallRecord | None: ...

    async def by_caller(self, number: str) -> list[CallRecord]: ...

    async def caller_number(self, call_id: str) -> str | None: ...

    async def all(self, since: datetime | None = None) -> list[CallRecord]: ...

    async def consultant_joined(
        self, call_id: str, consultant_id: str, role: str = "consultant", at: datetime | None = None
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class CenterConfig:
    """The settings slices the center needs, flattened."""

    zone: tzinfo
    default_language: str
    # How outside numbers are dialed ("{number}" replaced), and how long helpers ring.
    outside_dial: str
    ring_s: float
    # Endpoints that exist on the PBX (consultants' phones), for supervisors' devices.
    endpoints: frozenset[str]
    sample_every_s: float = 60.0


QUEUE_PUBLISH_DELAY_S = 0.25


class CenterCore:
    def __init__(
        self,
        *,
        clock: Clock,
        driver: AcdDriver,
        pbx: Pbx,
        calls: CallLogReader,
        config: CenterConfig,
        board: ConsultantBoard,
    ) -> None:
        self.clock = clock
        self.driver = driver
        self.pbx = pbx
        self.calls = calls
        self.config = config
        self.board = board
        self.book = CallBook(clock)
        catalog = driver.state.catalog
        targets = {sid: float(s.target.within_s) for sid, s in catalog.items()}
        self.ledger = Ledger(clock, config.zone, targets)
        self.hub = EventHub()
        self._dirty_queues: set[str] = set()
        self._flush_handle: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # --- publishing -------------------------------------------------------------------------
    def publish_call(self, call: CallRec | None) -> None:
        if call is not None:
            self.hub.publish(CallChanged(self.book.summary(call)))

    def publish_change(self, change: Change | None) -> None:
        if change is None:
            return
        self.ledger.left_state(change.old, change.new.since)
        self.hub.publish(ConsultantChanged(change.new))

    def publish_queue(self, queue_id: str | None) -> None:
        """Publish a queue's figures. Changes are coalesced for a quarter second: figures scan
        every consultant, and a busy PBX changes a queue many times a second."""
        if queue_id is None or queue_id not in self.driver.state.catalog:
            return
        self._dirty_queues.add(queue_id)
        if self._flush_handle is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop (synchronous use): publish at once
                self._flush_queues()
                return
            self._flush_handle = loop.call_later(QUEUE_PUBLISH_DELAY_S, self._flush_queues)

    def _flush_queues(self) -> None:
        self._flush_handle = None
        dirty, self._dirty_queues = sorted(self._dirty_queues), set()
        for stats in self.all_queue_stats(dirty):
            self.hub.publish(QueueChanged(stats))

    # --- figures ----------------------------------------------------------------------------
    def queue_stats(self, queue_id: str) -> QueueStats:
        return self.all_queue_stats([queue_id])[0]

    def all_queue_stats(self, queue_ids: Sequence[str] | None = None) -> list[QueueStats]:
        catalog = self.driver.state.catalog
        ids = list(catalog) if queue_ids is None else list(queue_ids)
        waiting: dict[str, int] = {}
        longest: dict[str, float] = {}
        for row in queue_views(self.driver.state, self.driver.now()):
            waiting[row.service] = waiting.get(row.service, 0) + row.waiting
            longest[row.service] = max(longest.get(row.service, 0.0), row.oldest_wait_s)
        out = []
        for queue_id in ids:
            service = catalog[queue_id]
            language = sorted(service.languages)[0].value
            out.append(
                self.ledger.queue_stats(
                    queue_id,
                    service.name,
                    language,
                    waiting.get(queue_id, 0),
                    longest.get(queue_id, 0.0),
                )
            )
        return out

    def end_call(self, call_id: str, outcome: CallOutcome) -> None:
        """End a call in the book; a consultant reserved to take it (transfer) is released."""
        call = self.book.ended(call_id, outcome)
        if call is None:
            return
        self.publish_call(call)
        handler = call.consultant_id
        if handler is not None and self.board.reserved(handler):
            self.feed_later(ConsultantReady(handler))

    # --- the ACD ----------------------------------------------------------------------------
    def feed(self, event: Event) -> None:
        """Feed the ACD for a user action; its refusal is the action's ``InvalidState``."""
        try:
            self.driver.feed(event)
        except InvalidEvent as exc:
            raise InvalidState(str(exc)) from exc

    def feed_later(self, event: Event) -> None:
        """Feed the ACD soon, outside the current feed (listeners must not feed re-entrantly)."""
        asyncio.get_running_loop().call_soon(self.feed_quietly, event)

    def feed_quietly(self, event: Event) -> None:
        """Feed the ACD in reaction to the PBX; a refusal (a race) is logged, not raised."""
        try:
            self.driver.feed(event)
        except InvalidEvent as exc:
            log.warning("ACD refused %s: %s", event, exc)

    # --- background work --------------------------------------------------------------------
    def spawn(self, what: str, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work, name=f"cti-{what}")
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._finished(t, what))

    def _finished(self, task: asyncio.Task[None], what: str) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("CTI %s failed: %s", what, error, exc_info=error)

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
