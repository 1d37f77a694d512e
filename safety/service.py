"""The running safety campaign: plans the week, places due calls (AMI Originate), keeps the
escalation going. The composition root builds it and runs ``run()`` supervised.

Invariants:
- Pacing (``safety.pacing``) decides every placement from the safety calls up and the ready
  consultants in the ACD at that moment; nothing else places a safety call.
- Every placed call is an attempt row before the Originate is sent, and ends in exactly one
  outcome: from the FastAGI session when the person answered, else from the
  OriginateResponse's reason (busy 5, ringing/no answer 3, anything else failed), or failed
  when nothing is heard within the deadline. An answering machine is not detected: it
  counts as an answer (and, pressing nothing, as "answered-no-key").
- Escalation state is rebuilt at start by replaying the stored outcomes and marks through the
  pure core, so a restarted engine keeps the same cases; attempts left open by an earlier
  engine are ended as failed ("engine stopped").
- Times come from the injected campaign clock only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from acd.model import ConsultantState
from acd.views import consultant_counts
from cti.ami.client import AmiClient
from cti.ami.messages import AmiError
from ivr.agi import AgiSession
from safety.call import MODE_CHECKIN, MODE_CONSULTANT, CallDesk, CallResult, run_session
from safety.escalation import (
    AttemptEnded,
    CallAgain,
    CaseClosedByConsultant,
    CloseCase,
    Command,
    ConcernMarked,
    EscalationState,
    Event,
    Notify,
    OpenCase,
    Outcome,
    Policy,
    decide,
)
from safety.notify import NotificationRequest, Notifier
from safety.originate import Dialing, place_call
from safety.pacing import Capacity, DueCall, choose
from safety.people import Person
from safety.schedule import Enrollee, next_in_window, plan_week, week_of
from safety.settings import SafetySettings
from safety.store import SafetyStore

log = logging.getLogger("dasan.safety")


@dataclass
class _Live:
    call: DueCall
    result: asyncio.Future[CallResult]
    language: str


@dataclass
class CampaignStatus:
    week: str | None = None
    planned: int = 0
    due_later: int = 0
    live: int = 0
    placed: int = 0
    missed: int = 0
    peak_live: int = 0
    last_pacing: dict[str, int] = field(default_factory=dict)


def _enrollee(person: Person) -> Enrollee:
    return Enrollee(person.id, person.window_start, person.window_end, person.calls_per_week)


def policy_of(settings: SafetySettings) -> Policy:
    return Policy(
        attempts=settings.attempts_before_escalation,
        window=dt.timedelta(hours=settings.escalation_window_h),
        retry_after=dt.timedelta(minutes=settings.retry_after_min),
        callback_attempts=settings.callback_attempts,
    )


class SafetyCampaign:
    def __init__(
        self,
        settings: SafetySettings,
        *,
        store: SafetyStore,
        ami: AmiClient,
        desk: CallDesk,
        notifier: Notifier,
        clock: Callable[[], dt.datetime],
        zone: ZoneInfo,
        is_holiday: Callable[[dt.date], bool],
        dial: str,
    ) -> None:
        self._settings = settings
        self._store = store
        self._desk = desk
        self._notifier = notifier
        self._clock = clock
        self._zone = zone
        self._is_holiday = is_holiday
        self._dialing = Dialing(ami, dial, settings.ring_s)
        self._policy = policy_of(settings)
        self._capacity = Capacity(
            settings.trunk_limit, settings.keep_free, settings.consultant_share
        )
        self._people: dict[str, Person] = {}
        self._week: dt.date | None = None
        self._planned: list[DueCall] = []
        self._again: dict[str, DueCall] = {}  # person -> their retry or call-back
        self._live: dict[str, _Live] = {}  # attempt id -> call
        self._escalation = EscalationState()
        self._tasks: set[asyncio.Task[None]] = set()
        self.status = CampaignStatus()

    # Running ------------------------------------------------------------------------------
    async def run(self) -> None:
        await self._restore()
        while True:
            await self.tick()
            await asyncio.sleep(self._settings.tick_s)

    async def tick(self) -> None:
        now = self._clock()
        if self._week != week_of(now, self._zone):
            await self._plan(now)
        self._drop_missed(now)
        due = [c for c in self._planned if c.due_at <= now] + [
            c for c in self._again.values() if c.due_at <= now
        ]
        ready = consultant_counts(self._desk.acd.state)[ConsultantState.READY]
        busy = frozenset(live.call.person_id for live in self._live.values())
        chosen = choose(
            due,
            now,
            in_progress=len(self._live),
            ready_consultants=ready,
            busy_people=busy,
            capacity=self._capacity,
        )
        self.status.last_pacing = {"due": len(due), "ready": ready, "live": len(self._live)}
        for call in chosen:
            if call in self._planned:
                self._planned.remove(call)
            elif self._again.get(call.person_id) == call:
                del self._again[call.person_id]
            self._start(call, now)
        self.status.live = len(self._live)
        self.status.peak_live = max(self.status.peak_live, len(self._live))
        self.status.planned = len(self._planned)
        self.status.due_later = len(self._again)

    def _drop_missed(self, now: dt.datetime) -> None:
        """Calls whose hours ended before they could be placed (the engine was down, the
        desk was full) are not placed late: counted and logged, the next one is planned."""
        missed = [c for c in self._planned if c.until is not None and c.until <= now]
        for call in missed:
            self._planned.remove(call)
        if missed:
            self.status.missed += len(missed)
            log.warning("safety: %d planned call(s) missed their hours", len(missed))

    async def _plan(self, now: dt.datetime) -> None:
        self._people = {p.id: p for p in await self._store.people()}
        week = week_of(now, self._zone)
        plan = plan_week(
            [_enrollee(p) for p in self._people.values()],
            week,
            self._zone,
            self._settings.weekdays,
            self._is_holiday,
        )
        placed = {
            (a.person_id, a.planned_at)
            for a in await self._store.attempts()
            if a.kind == "scheduled"
        }
        self._planned = [
            DueCall(c.person_id, c.at, "scheduled", c.at, c.until)
            for c in plan
            if (c.person_id, c.at) not in placed
        ]
        self._week = week
        self.status.week = week.isoformat()
        log.info("safety: week of %s planned, %d calls to place", week, len(self._planned))

    # Placing a call -----------------------------------------------------------------------
    def _start(self, call: DueCall, now: dt.datetime) -> None:
        person = self._people.get(call.person_id)
        if person is None:
            return
        attempt_id = f"dasan-sf-{uuid.uuid4().hex[:12]}"
        future: asyncio.Future[CallResult] = asyncio.get_running_loop().create_future()
        self._live[attempt_id] = _Live(call, future, person.language)
        self.status.placed += 1
        task = asyncio.get_running_loop().create_task(self._place(attempt_id, person, call, now))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _place(
        self, attempt_id: str, person: Person, call: DueCall, now: dt.datetime
    ) -> None:
        result = CallResult(Outcome.FAILED, detail="cancelled")
        try:
            await self._store.attempt_placed(
                attempt_id, person.id, call.kind, call.planned_at or call.due_at, now
            )
            result = await self._originate(attempt_id, person, call)
        except (AmiError, TimeoutError) as exc:
            result = CallResult(Outcome.FAILED, detail=str(exc) or type(exc).__name__)
        except Exception as exc:  # a bug must not leave the person without an outcome
            log.exception("safety call %s crashed", attempt_id)
            result = CallResult(Outcome.FAILED, detail=f"crashed: {exc}")
        finally:
            self._live.pop(attempt_id, None)
            self.status.live = len(self._live)
            await self._finish(attempt_id, call, result)

    async def _originate(self, attempt_id: str, person: Person, call: DueCall) -> CallResult:
        mode = MODE_CONSULTANT if person.personal_call or call.kind == "callback" else MODE_CHECKIN
        variables = {
            "DASAN_SAFETY_ATTEMPT": attempt_id,
            "DASAN_LANG": person.language,
            "DASAN_SAFETY_MODE": mode,
        }
        return await place_call(
            self._dialing, attempt_id, person.number, variables, self._live[attempt_id].result
        )

    def call_of(self, attempt_id: str) -> tuple[str, str, str] | None:
        """(person id, number, language) of a call in progress."""
        live = self._live.get(attempt_id)
        person = self._people.get(live.call.person_id) if live else None
        return None if person is None else (person.id, person.number, person.language)

    async def handle(self, session: AgiSession) -> None:
        """The FastAGI session of an answered safety call."""
        attempt_id = (await session.get_variable("DASAN_SAFETY_ATTEMPT")) or ""
        live = self._live.get(attempt_id)
        if live is None:
            log.error("safety session %s for unknown attempt %r", session.uniqueid, attempt_id)
            return
        result = CallResult(Outcome.FAILED, detail="the session crashed")
        try:
            mode = (await session.get_variable("DASAN_SAFETY_MODE")) or MODE_CHECKIN
            result = await run_session(session, self._desk, live.language, mode)
        finally:
            if not live.result.done():
                live.result.set_result(result)

    # Outcomes and escalation --------------------------------------------------------------
    async def _finish(self, attempt_id: str, call: DueCall, result: CallResult) -> None:
        now = self._clock()
        parts = ["pressed-2"] if result.pressed_two else []
        parts += [f"consultant {result.consultant}"] if result.consultant else []
        parts += [result.detail] if result.detail else []
        detail = "; ".join(parts)
        try:
            await self._store.attempt_ended(attempt_id, result.outcome.value, now, detail)
        except Exception:
            log.exception("safety attempt %s: outcome not stored", attempt_id)
        log.info("safety call %s (%s): %s %s", attempt_id, call.kind, result.outcome.value, detail)
        await self._feed(
            AttemptEnded(call.person_id, call.kind, result.outcome, now, result.pressed_two)
        )

    async def _feed(self, event: Event, *, replay: bool = False) -> None:
        self._escalation, commands = decide(self._escalation, event, self._policy)
        for command in commands:
            await self._carry_out(command, replay=replay)

    async def _carry_out(self, command: Command, *, replay: bool) -> None:
        if isinstance(command, CallAgain):
            person = self._people.get(command.person_id)
            if person is not None:
                at, until = next_in_window(
                    command.not_before,
                    _enrollee(person),
                    self._zone,
                    self._settings.weekdays,
                    self._is_holiday,
                )
                self._again[command.person_id] = DueCall(
                    command.person_id, at, command.kind, at, until
                )
            return
        if replay:
            return  # already stored by the engine that decided it
        if isinstance(command, OpenCase):
            await self._store.escalation_opened(
                command.case_id, command.person_id, command.reason, command.at
            )
        elif isinstance(command, CloseCase):
            await self._store.escalation_stage(
                command.case_id, command.person_id, "closed", command.at, command.reason
            )
        elif isinstance(command, Notify):
            await self._notify(command)

    async def _notify(self, command: Notify) -> None:
        await self._store.escalation_stage(
            command.case_id,
            command.person_id,
            "notified",
            command.at,
            "no contact after call-backs",
        )
        ids = await self._store.notification_pending(
            command.person_id, command.case_id, command.recipients, command.at
        )
        person = self._people.get(command.person_id)
        if person is None:
            return

        async def delivered(notification_id: str, channel: str) -> None:
            await self._store.notification_delivered(notification_id, channel, self._clock())

        request = NotificationRequest(
            person,
            command.case_id,
            "no-contact",
            dict(zip(command.recipients, ids, strict=True)),
            delivered,
        )
        try:
            await self._notifier.notify(request)
        except Exception:
            log.exception("safety case %s: the notifier failed; kept pending", command.case_id)

    async def mark_concern(self, person_id: str, by: str) -> bool:
        """A consultant's concern: a priority call-back (False: no such person)."""
        if person_id not in self._people:
            return False
        now = self._clock()
        await self._store.note(person_id, now, "concern-marked", {"by": by})
        await self._feed(ConcernMarked(person_id, now, by))
        return True

    async def close_case(self, person_id: str, by: str) -> bool:
        if person_id not in self._people:
            return False
        now = self._clock()
        await self._store.note(person_id, now, "case-closed-by", {"by": by})
        await self._feed(CaseClosedByConsultant(person_id, now, by))
        return True

    # Start: rebuild from what is stored ----------------------------------------------------
    async def _restore(self) -> None:
        self._people = {p.id: p for p in await self._store.people()}
        now = self._clock()
        events: list[tuple[dt.datetime, int, Event]] = []
        for attempt in await self._store.attempts():
            if attempt.outcome is None:
                await self._store.attempt_ended(
                    attempt.id, Outcome.FAILED.value, now, "engine stopped"
                )
                outcome, ended = Outcome.FAILED, now
            else:
                outcome, ended = Outcome(attempt.outcome), attempt.ended_at or attempt.placed_at
            pressed = "pressed-2" in (attempt.detail or "")
            events.append(
                (ended, 0, AttemptEnded(attempt.person_id, attempt.kind, outcome, ended, pressed))
            )
        for person_id, at, kind, by in await self._store.marks():
            mark: Event = (
                ConcernMarked(person_id, at, by)
                if kind == "concern-marked"
                else CaseClosedByConsultant(person_id, at, by)
            )
            events.append((at, 1, mark))
        for _, _, event in sorted(events, key=lambda e: (e[0], e[1])):
            if isinstance(event, AttemptEnded):
                self._again.pop(event.person_id, None)
            await self._feed(event, replay=True)
