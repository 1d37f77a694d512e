"""Timers of the routing core: position / wait announcements and the one wake-up request.

Invariants:
- A waiting caller hears an announcement on arrival (if not routed at once) and then every
  ``announce_every_s``; a call-back is offered at most once per call, when the estimate
  reaches ``callback_offer_min_wait_s``; callers on virtual hold hear nothing.
- ``request_wakeup`` emits ``ScheduleWakeup`` only when the earliest pending time changes:
  the next wrap-up end, announcement, or overflow stage opening for a queue head while
  someone is free. The driver keeps one timer at the latest requested time.
"""

from __future__ import annotations

import heapq

from acd.commands import AnnounceWait, Command, OfferCallback, ScheduleWakeup
from acd.model import CallStatus
from acd.policy import estimate_wait, next_overflow
from acd.state import AcdState, CallRecord


def announce(state: AcdState, record: CallRecord, now: float, out: list[Command]) -> None:
    if record.call.callback_number is None:  # nobody on the line to hear it on virtual hold
        position, estimate = estimate_wait(state, record.call)
        out.append(AnnounceWait(record.call.call_id, position, round(estimate, 1)))
        threshold = state.settings.callback_offer_min_wait_s
        if threshold is not None and not record.callback_offered and estimate >= threshold:
            record.callback_offered = True
            out.append(OfferCallback(record.call.call_id, round(estimate, 1)))
    every = state.settings.announce_every_s
    if every is not None:
        state.schedule_announcement(record, now + every)


def announce_due(state: AcdState, now: float, out: list[Command]) -> None:
    heap = state.announcements
    while heap and heap[0][0] <= now:
        at, seq = heapq.heappop(heap)
        call_id = state.by_seq.get(seq)
        record = state.calls.get(call_id) if call_id is not None else None
        if record is not None and record.announce_at == at and record.status is CallStatus.WAITING:
            announce(state, record, now, out)


def request_wakeup(state: AcdState, now: float, out: list[Command]) -> None:
    times = [t for t in (state.next_timer(), next_overflow(state, now)) if t is not None]
    wakeup = min(times) if times else None
    if wakeup is not None and wakeup != state.last_wakeup:
        out.append(ScheduleWakeup(wakeup))
    state.last_wakeup = wakeup
