"""Care assembled: tickets, the call-back list, the outbox, and the loop that keeps them moving.

Invariants:
- ``run`` (a supervised engine component) imports the engine's kept requests
  (``<state>/callbacks/requests.jsonl``) into the list, dispatches queued notifications and
  escalates overdue tickets every ``poll_s``; each pass is idempotent, so a crash and restart
  repeats nothing the citizen would notice.
- The clock is injected everywhere (tests move it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from care.callbacks import CallbackList
from care.dialer import CallbackDialer, Dial
from care.notify import CallbackNotifier, Outbox
from care.rules import CareRules, load_rules
from care.settings import CareSettings
from care.survey import Survey
from care.tickets import Tickets
from common.alarms import Clock, utc_now
from common.storage import Storage
from recordings.keys import NumberProtector

log = logging.getLogger("care")


def care_clock(settings: CareSettings, base: Clock = utc_now) -> Clock:
    """The real clock, or (``clock_file``) the real clock moved by the file's seconds."""
    path = settings.clock_file
    if path is None:
        return base

    def shifted() -> dt.datetime:
        try:
            offset = float(path.read_text(encoding="ascii").strip() or 0)
        except (OSError, ValueError):
            offset = 0.0
        return base() + dt.timedelta(seconds=offset)

    return shifted


@dataclass
class Care:
    settings: CareSettings
    rules: CareRules
    tickets: Tickets
    callbacks: CallbackList
    outbox: Outbox
    survey: Survey
    requests_file: Path
    clock: Clock = utc_now
    # Told when call-backs are given up (the engine raises an alarm), so none ends silently.
    on_given_up: Callable[[str], None] | None = None
    _requests_seen: tuple[int, int] | None = None
    _given_up_seen: int | None = None

    @classmethod
    def open(
        cls,
        settings: CareSettings,
        storage: Storage,
        protector: NumberProtector | None,
        requests_file: Path,
        clock: Clock | None = None,
    ) -> Care:
        clock = clock or care_clock(settings)
        rules = load_rules(settings.rules_file)
        tickets = Tickets(storage, rules, protector, clock)
        callbacks = CallbackList(
            storage,
            protector,
            clock,
            max_attempts=settings.callback_max_attempts,
            retry_s=settings.callback_retry_s,
        )
        outbox = Outbox(storage, tickets, {"callback": CallbackNotifier(callbacks)}, clock)
        survey = Survey(storage, clock)
        return cls(settings, rules, tickets, callbacks, outbox, survey, requests_file, clock)

    def dialer(self, dial: Dial, free_consultants: Callable[[], int]) -> CallbackDialer:
        """The engine's worker through the call-back list (paced by ``free_consultants``)."""
        return CallbackDialer(
            self.settings,
            self.callbacks,
            self.tickets,
            dial,
            free_consultants=free_consultants,
            clock=self.clock,
        )

    async def tick(self) -> None:
        """One pass: kept requests in, updates out, overdue tickets escalated."""
        await self.take_requests()
        await self.outbox.dispatch()
        await self._tell_given_up()
        escalated = await self.tickets.escalate_overdue()
        if escalated:
            log.warning("escalated overdue ticket(s): %s", ", ".join(escalated))

    async def take_requests(self) -> None:
        """The requests the engine kept in ``requests.jsonl`` into the list (idempotent; read
        only when the file changed). The engine calls it at once after keeping call-backs an
        earlier engine left pending, so they are dialed without waiting for the next tick."""
        seen = await asyncio.to_thread(_signature, self.requests_file)
        if seen != self._requests_seen:  # read again only when the engine appended
            _good, bad = await self.callbacks.import_jsonl(self.requests_file)
            if bad:
                log.warning("%d unreadable line(s) in %s", bad, self.requests_file)
            self._requests_seen = seen

    async def _tell_given_up(self) -> None:
        given_up = await self.callbacks.count("given_up")
        if self._given_up_seen is not None and given_up > self._given_up_seen:
            message = (
                f"{given_up - self._given_up_seen} call-back request(s) given up after "
                f"{self.settings.callback_max_attempts} attempts; see `dasan callbacks list`"
            )
            log.warning(message)
            if self.on_given_up is not None:
                self.on_given_up(message)
        self._given_up_seen = given_up

    async def run(self) -> None:
        recovered = await self.callbacks.recover_dialing()
        if recovered:
            log.warning("%d call-back(s) were being dialed when the engine stopped", recovered)
        while True:
            await self.tick()
            await asyncio.sleep(self.settings.poll_s)


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_size, stat.st_mtime_ns
