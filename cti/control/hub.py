"""Fan-out of center events to subscribers, for any ``ContactCenter`` implementation.

Invariants: ``publish`` never blocks; a subscription receives every event published after
``subscribe()`` returned; a subscriber that falls behind by ``maxsize`` events has its backlog
replaced by one ``Resync`` (refetch everything) instead of silently missing events.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, Self

from cti.control.model import CenterEvent, Resync


class EventStream(Protocol):
    """An async iterator of events that must be closed (``aclose`` or ``async with``)."""

    def __aiter__(self) -> Self: ...

    async def __anext__(self) -> CenterEvent: ...

    async def aclose(self) -> None: ...


class Subscription:
    """One subscriber's bounded queue; registered with its hub from construction."""

    def __init__(self, hub: EventHub, maxsize: int) -> None:
        self._hub = hub
        self._queue: asyncio.Queue[CenterEvent] = asyncio.Queue(maxsize)
        self._closed = False

    def offer(self, event: CenterEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            # Everything queued is now stale: replace it with one Resync.
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(Resync("subscriber fell behind"))

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> CenterEvent:
        if self._closed:
            raise StopAsyncIteration
        return await self._queue.get()

    async def aclose(self) -> None:
        self._closed = True
        self._hub.remove(self)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class EventHub:
    """Fan-out of center events to subscribers; ``publish`` never blocks."""

    def __init__(self, maxsize: int = 1000) -> None:
        self._maxsize = maxsize
        self._subscribers: list[Subscription] = []

    def subscribe(self) -> Subscription:
        subscription = Subscription(self, self._maxsize)
        self._subscribers.append(subscription)
        return subscription

    def remove(self, subscription: Subscription) -> None:
        if subscription in self._subscribers:
            self._subscribers.remove(subscription)

    def publish(self, event: CenterEvent) -> None:
        for subscription in tuple(self._subscribers):
            subscription.offer(event)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
