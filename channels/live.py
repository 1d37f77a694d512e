"""In-memory fan-out of conversation events to the sockets watching them (no I/O here).

Invariants:
- A listener is a bounded queue; a listener that falls behind is dropped (its socket then
  closes and the page reloads its state from the database), so one slow client never
  slows the others or grows memory without bound.
- Citizens listen to one conversation; consultants (and supervisors) to their own id.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

Event = dict[str, Any]
QUEUE_MAX = 256


class Listener:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(QUEUE_MAX)
        self.dropped = False

    def put(self, event: Event) -> None:
        if self.dropped:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped = True
            self.queue = asyncio.Queue(1)
            self.queue.put_nowait(None)


class LiveHub:
    def __init__(self) -> None:
        self._conversations: dict[str, set[Listener]] = defaultdict(set)
        self._consultants: dict[str, set[Listener]] = defaultdict(set)

    def watch_conversation(self, conversation_id: str) -> Listener:
        listener = Listener()
        self._conversations[conversation_id].add(listener)
        return listener

    def watch_consultant(self, consultant_id: str) -> Listener:
        listener = Listener()
        self._consultants[consultant_id].add(listener)
        return listener

    def forget(self, listener: Listener) -> None:
        for table in (self._conversations, self._consultants):
            for key in [k for k, v in table.items() if listener in v]:
                table[key].discard(listener)
                if not table[key]:
                    del table[key]

    def to_citizen(self, conversation_id: str, event: Event) -> None:
        for listener in list(self._conversations.get(conversation_id, ())):
            listener.put(event)

    def to_consultant(self, consultant_id: str | None, event: Event) -> None:
        if consultant_id is None:
            return
        for listener in list(self._consultants.get(consultant_id, ())):
            listener.put(event)

    def citizen_online(self, conversation_id: str) -> bool:
        return bool(self._conversations.get(conversation_id))
