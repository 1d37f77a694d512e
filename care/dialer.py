"""Working through the call-back list: when the service is open, each due request is dialed
through the engine's call-back path, paced by free consultants; every attempt's outcome is
kept, and the request's ticket (if any) hears about it in its timeline.

Invariants:
- Pure decisions: ``is_open`` (local hours of the injected clock) and ``slots`` (how many new
  attempts now: free consultants and the concurrency cap, minus those in flight).
- Every ``attempt_started`` ends in exactly one ``attempt_ended`` (answered, not answered,
  crashed, cancelled): a request is never left ``dialing`` by this process; one left by a
  process that died is recovered at start (``CallbackList.recover_dialing``).
- Outside the hours, or with dialing off (``callback_dialing``), nothing is dialed, and the
  list still shows every request waiting.
- Steps never overlap (a lock): the dialer's own loop and a step asked for at once (the engine
  after keeping call-backs a dead engine left) never start one request twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from care.callbacks import CallbackList, CallbackView
from care.errors import CareError
from care.settings import CareSettings
from care.tickets import Tickets
from common.alarms import Clock

log = logging.getLogger("care.dialer")


@dataclass(frozen=True, slots=True)
class DialRequest:
    callback_id: str
    number: str
    language: str
    kind: str
    original_call_id: str | None


@dataclass(frozen=True, slots=True)
class DialOutcome:
    answered: bool
    outcome: str
    call_id: str | None = None


class Dial(Protocol):
    """Places one call-back and returns when it is answered (and handed to a consultant) or
    has failed; the engine implements it over its existing call-back Originate path."""

    async def dial(self, request: DialRequest) -> DialOutcome: ...


def is_open(now: dt.datetime, zone: ZoneInfo, opens: dt.time, closes: dt.time) -> bool:
    local = now.astimezone(zone).time()
    return opens <= local < closes


def slots(free_consultants: int, in_flight: int, concurrency: int) -> int:
    return max(0, min(free_consultants, concurrency) - in_flight)


class CallbackDialer:
    def __init__(
        self,
        settings: CareSettings,
        callbacks: CallbackList,
        tickets: Tickets,
        dial: Dial,
        *,
        free_consultants: Callable[[], int],
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._callbacks = callbacks
        self._tickets = tickets
        self._dial = dial
        self._free = free_consultants
        self._clock = clock
        self._zone = ZoneInfo(settings.timezone)
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._stepping = asyncio.Lock()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def open_now(self) -> bool:
        s = self._settings
        return is_open(self._clock(), self._zone, s.callback_open, s.callback_close)

    async def step(self) -> list[str]:
        """Start the attempts that fit now; returns the request ids started."""
        async with self._stepping:
            return await self._step()

    async def _step(self) -> list[str]:
        if not self._settings.callback_dialing or not self.open_now():
            return []
        room = slots(self._free(), self.in_flight, self._settings.callback_concurrency)
        if room == 0:
            return []
        started = []
        for request in (await self._callbacks.due())[:room]:
            if request.id in self._in_flight:
                continue
            await self._callbacks.attempt_started(request.id)
            task = asyncio.get_running_loop().create_task(self._attempt(request))
            self._in_flight[request.id] = task
            task.add_done_callback(self._forget(request.id))
            started.append(request.id)
        return started

    def _forget(self, callback_id: str) -> Callable[[asyncio.Task[None]], None]:
        def forget(_task: asyncio.Task[None]) -> None:
            self._in_flight.pop(callback_id, None)

        return forget

    async def _attempt(self, request: CallbackView) -> None:
        outcome = DialOutcome(False, "cancelled")
        try:
            number = await self._callbacks.number(request.id)
            outcome = await self._dial.dial(
                DialRequest(request.id, number, request.language, request.kind, request.call_id)
            )
        except Exception as exc:  # a bug must not leave the request dialing
            log.exception("call-back %s: attempt crashed", request.id)
            outcome = DialOutcome(False, f"crashed: {exc}")
        finally:
            await asyncio.shield(self._end(request, outcome))

    async def _end(self, request: CallbackView, outcome: DialOutcome) -> None:
        try:
            after = await self._callbacks.attempt_ended(
                request.id,
                answered=outcome.answered,
                outcome=outcome.outcome,
                dialed_call_id=outcome.call_id,
            )
        except CareError as exc:
            log.error("call-back %s: outcome not stored: %s", request.id, exc)
            return
        log.info("call-back %s: %s -> %s", request.id, outcome.outcome, after.state)
        if request.ticket_id:
            text = f"call-back attempt {after.attempts}: {outcome.outcome} ({after.state})"
            await self._tickets.record(request.ticket_id, "callback", text, call_id=outcome.call_id)

    async def run(self) -> None:
        if not self._settings.callback_dialing:
            log.info("call-back dialing is off (care.callback_dialing); the list is kept")
            return
        try:
            while True:
                await self.step()
                await asyncio.sleep(self._settings.poll_s)
        finally:
            for task in list(self._in_flight.values()):
                task.cancel()
            if self._in_flight:
                await asyncio.wait(list(self._in_flight.values()), timeout=5.0)
