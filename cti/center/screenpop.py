"""The screen pop: a call's IVR journey and the caller's earlier calls, from the call log.

Invariants:
- Read-only on the call log; the caller's number is looked up by its keyed hash
  (``by_caller``) and shown decrypted only to those allowed to read the call.
- What does not change during a call (journey, earlier calls) is cached per call id once
  the IVR has routed the call (before that the journey grows as the caller moves through the
  menu, so it is read afresh); the live part (state, parties) always comes from the book.
- A malformed journey yields no steps rather than an error: the screen pop still opens.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any

from cti.center.core import CallLogReader
from cti.control import CallDetails, CallOutcome, CallSummary, EarlierCall, IvrStep
from recordings.calllog import CallRecord
from recordings.models import ParticipantRole

_EARLIER = 10
# What the screen pop caches per call: IVR steps, earlier calls, video or not.
_Pop = tuple[tuple[IvrStep, ...], tuple[EarlierCall, ...], bool]


def journey_steps(journey: Any) -> tuple[IvrStep, ...]:
    """IVR steps from ``ivr.menu.state.journey_to_json`` output."""
    if not isinstance(journey, dict):
        return ()
    try:
        started = datetime.fromisoformat(str(journey["started_at"]))
        entries = list(journey.get("entries") or [])
    except (KeyError, ValueError, TypeError):
        return ()
    steps = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        at = started + timedelta(milliseconds=int(entry.get("t_ms", 0)))
        node = str(entry.get("node", ""))
        what = str(entry.get("event", ""))
        value = entry.get("value")
        steps.append(IvrStep(at, node, f"{node} · {what}", None if value is None else str(value)))
    return tuple(steps)


def is_video(journey: Any) -> bool:
    """The IVR tagged the call a video call (``tags.channel == "video"``, set on routing)."""
    tags = journey.get("tags") if isinstance(journey, dict) else None
    return isinstance(tags, dict) and tags.get("channel") == "video"


def earlier_call(record: CallRecord) -> EarlierCall:
    consultants = record.people(ParticipantRole.CONSULTANT)
    if record.linkedid:
        outcome = CallOutcome.CALLBACK
    elif consultants:
        outcome = CallOutcome.ANSWERED
    else:
        outcome = CallOutcome.ABANDONED
    return EarlierCall(
        call_id=record.id,
        started_at=record.started_at,
        queue_id=record.service,
        outcome=outcome,
        consultant_id=consultants[0] if consultants else None,
        duration_s=(record.duration_ms or 0) / 1000,
    )


class ScreenPop:
    def __init__(self, calls: CallLogReader, cache_size: int = 1000) -> None:
        self._calls = calls
        self._cache: OrderedDict[str, _Pop] = OrderedDict()
        self._cache_size = cache_size

    async def number(self, call_id: str) -> str | None:
        return await self._calls.caller_number(call_id)

    async def details(self, call: CallSummary) -> CallDetails:
        cached = self._cache.get(call.call_id)
        if cached is None:
            cached = await self._load(call)
        return CallDetails(call, cached[0], cached[1], cached[2])

    async def _load(self, call: CallSummary) -> _Pop:
        record = await self._calls.get(call.call_id)
        steps = journey_steps(record.journey) if record is not None else ()
        video = record is not None and is_video(record.journey)
        number = (await self._calls.caller_number(call.call_id)) or call.number
        earlier: tuple[EarlierCall, ...] = ()
        if number:
            found = [r for r in await self._calls.by_caller(number) if r.id != call.call_id]
            found.sort(key=lambda r: r.started_at, reverse=True)
            earlier = tuple(earlier_call(r) for r in found[:_EARLIER])
        if steps and record is not None and record.routed_at is not None:
            self._cache[call.call_id] = (steps, earlier, video)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return steps, earlier, video
