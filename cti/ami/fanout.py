"""Bounded, non-blocking fan-out of one stream to many asyncio subscribers.

Invariants:
- ``publish`` never awaits and never blocks: the producer (the AMI reader) cannot be stalled
  by any subscriber.
- Each subscription has its own bounded queue. When it is full the *oldest* item of that
  subscription alone is discarded; other subscribers are unaffected.
- A subscriber that lost items receives one drop notice (``on_drop(count)``) before its next
  item, so it knows to resynchronise; ``dropped`` is its lifetime total. The first drop of a
  burst is logged once.
- After ``close`` (of the fan-out or the subscription) iteration ends once the queue is
  drained; nothing queued before the close is lost. Subscribing to a closed fan-out gives
  a subscription that is already over.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Subscription(Generic[T]):
    """An async iterator over one subscriber's bounded queue."""

    def __init__(self, fanout: Fanout[T], maxsize: int, name: str) -> None:
        if maxsize < 1:
            raise ValueError("subscription maxsize must be at least 1")
        self._fanout = fanout
        self._items: deque[T] = deque()
        self._maxsize = maxsize
        self._waiter: asyncio.Future[None] | None = None
        self._unreported = 0
        self._closed = False
        self.name = name
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def push(self, item: T) -> None:
        """Queue ``item`` without blocking, discarding this subscriber's oldest if full."""
        if self._closed:
            return
        if len(self._items) >= self._maxsize:
            self._items.popleft()
            self.dropped += 1
            if self._unreported == 0:
                self._fanout.log.warning(
                    "%s subscriber %s is too slow; dropping its oldest items",
                    self._fanout.label,
                    self.name,
                )
            self._unreported += 1
        self._items.append(item)
        self._wake()

    def close(self) -> None:
        """Unsubscribe; already-queued items can still be read, then iteration stops."""
        if not self._closed:
            self._closed = True
            self._fanout.discard(self)
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def get_nowait(self) -> T | None:
        """The next item if one is ready (drop notices first), else None."""
        if self._unreported:
            count, self._unreported = self._unreported, 0
            return self._fanout.on_drop(count)
        if self._items:
            return self._items.popleft()
        return None

    def __aiter__(self) -> Subscription[T]:
        return self

    async def __anext__(self) -> T:
        while True:
            item = self.get_nowait()
            if item is not None:
                return item
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def __enter__(self) -> Subscription[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Fanout(Generic[T]):
    """Publishes items to every current subscription."""

    def __init__(
        self, on_drop: Callable[[int], T], *, label: str, log: logging.Logger | None = None
    ) -> None:
        self.on_drop = on_drop
        self.label = label
        self.log = log or logging.getLogger(__name__)
        self._subs: list[Subscription[T]] = []
        self._counter = 0
        self._closed = False

    def subscribe(self, maxsize: int, name: str | None = None) -> Subscription[T]:
        self._counter += 1
        sub = Subscription(self, maxsize, name or f"#{self._counter}")
        if self._closed:
            sub.close()  # the stream has ended: iteration stops at once
        else:
            self._subs.append(sub)
        return sub

    def discard(self, sub: Subscription[T]) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subs)

    def publish(self, item: T) -> None:
        for sub in self._subs:
            sub.push(item)

    def close(self) -> None:
        self._closed = True
        for sub in list(self._subs):
            sub.close()
