"""Index structures that keep a routing decision cheap with hundreds of consultants and
thousands of waiting calls.

Invariants:
- :class:`CallQueues` holds each waiting call exactly once, in the bucket
  ``(language, service, priority)``, as ``(enqueued_at, seq)`` in ascending order, so the head
  of a bucket is its oldest call (first come first served) and, because overflow stages only
  widen with waiting time, the head has the widest pool of its bucket. Removal is eager: an
  abandoned call leaves nothing behind.
- :class:`IdlePool` holds every READY consultant under each ``(language, skill)`` they have, in
  a heap ordered by (higher proficiency, longer idle, earlier ready). Entries of consultants who
  left READY are stale and skipped lazily; the live token says which entry is current.
- :class:`StaffCounts` counts logged-in, routable consultants (ready, ringing, talking, wrap-up)
  per ``(language, skill, proficiency)`` for Erlang-style wait estimates.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections.abc import Iterator

from acd.model import PROFICIENCY_MAX, Consultant, Language, WaitingCall

BucketKey = tuple[Language, str, int]
QueueEntry = tuple[float, int]  # (enqueued_at, seq)
IdleEntry = tuple[int, float, int, str]  # (-proficiency, idle_since, token, consultant_id)


class CallQueues:
    def __init__(self) -> None:
        self._buckets: dict[BucketKey, list[QueueEntry]] = {}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @staticmethod
    def key(call: WaitingCall) -> BucketKey:
        return (call.language, call.service, int(call.priority))

    def add(self, call: WaitingCall) -> None:
        insort(self._buckets.setdefault(self.key(call), []), (call.enqueued_at, call.seq))
        self._count += 1

    def remove(self, call: WaitingCall) -> None:
        key = self.key(call)
        entries = self._buckets[key]
        entry = (call.enqueued_at, call.seq)
        index = bisect_left(entries, entry)
        if index == len(entries) or entries[index] != entry:
            raise KeyError(call.call_id)
        del entries[index]
        if not entries:
            del self._buckets[key]
        self._count -= 1

    def heads(self) -> Iterator[tuple[BucketKey, QueueEntry]]:
        """The oldest call of every non-empty bucket."""
        for key, entries in self._buckets.items():
            yield key, entries[0]

    def items(self) -> Iterator[tuple[BucketKey, list[QueueEntry]]]:
        """Every non-empty bucket (read-only in intent)."""
        return iter(self._buckets.items())

    def bucket(self, key: BucketKey) -> list[QueueEntry]:
        """A read-only view in intent: callers must not mutate it."""
        return self._buckets.get(key, [])

    def position(self, call: WaitingCall) -> int:
        """1-based place among calls of the same language and service (higher tiers first)."""
        ahead = 0
        for (language, service, priority), entries in self._buckets.items():
            if language != call.language or service != call.service:
                continue
            if priority > call.priority:
                ahead += len(entries)
            elif priority == call.priority:
                ahead += bisect_left(entries, (call.enqueued_at, call.seq))
        return ahead + 1


class IdlePool:
    def __init__(self) -> None:
        self._heaps: dict[tuple[Language, str], list[IdleEntry]] = {}
        self._live: dict[str, int] = {}  # consultant id -> token of the current entries
        self._entries = 0
        self._stale = 0
        self._width: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, consultant_id: object) -> bool:
        return consultant_id in self._live

    def add(self, consultant: Consultant, idle_since: float, token: int) -> None:
        if consultant.id in self._live:
            self.discard(consultant.id)
        self._live[consultant.id] = token
        width = 0
        for language in consultant.languages:
            for skill, proficiency in consultant.skills.items():
                entry = (-proficiency, idle_since, token, consultant.id)
                heapq.heappush(self._heaps.setdefault((language, skill), []), entry)
                width += 1
        self._width[consultant.id] = width
        self._entries += width

    def discard(self, consultant_id: str) -> None:
        if self._live.pop(consultant_id, None) is None:
            return
        self._stale += self._width.pop(consultant_id)
        if self._stale > 4096 and self._stale > self._entries - self._stale:
            self._compact()

    def best(self, language: Language, skill: str, min_proficiency: int) -> IdleEntry | None:
        """The best READY consultant speaking ``language`` with ``skill`` >= min, or None."""
        heap = self._heaps.get((language, skill))
        if not heap:
            return None
        live = self._live
        while heap:
            top = heap[0]
            if live.get(top[3]) == top[2]:
                return top if -top[0] >= min_proficiency else None
            heapq.heappop(heap)
            self._entries -= 1
            self._stale -= 1
        return None

    def ready_ids(self) -> frozenset[str]:
        return frozenset(self._live)

    def _compact(self) -> None:
        live = self._live
        for key, heap in self._heaps.items():
            kept = [e for e in heap if live.get(e[3]) == e[2]]
            heapq.heapify(kept)
            self._heaps[key] = kept
        self._entries = sum(len(h) for h in self._heaps.values())
        self._stale = 0


class StaffCounts:
    def __init__(self) -> None:
        self._counts: dict[tuple[Language, str], list[int]] = {}

    def change(self, consultant: Consultant, delta: int) -> None:
        for language in consultant.languages:
            for skill, proficiency in consultant.skills.items():
                row = self._counts.setdefault((language, skill), [0] * (PROFICIENCY_MAX + 1))
                row[proficiency] += delta

    def staffed(self, language: Language, skill: str, min_proficiency: int) -> int:
        row = self._counts.get((language, skill))
        return 0 if row is None else sum(row[min_proficiency:])
