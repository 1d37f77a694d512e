"""Discrete-event replay of a day of traffic through a router (ours: the real core).

Invariants:
- The simulator plays the PBX, the callers and the consultants; the router only sees the
  events a live driver would feed and only acts through the commands it returns, so the
  Dasan router here is exactly ``acd.core.decide``.
- Deterministic: traffic carries its own random draws; the few draws that depend on routing
  (a repeated offer's ring delay) come from a generator seeded per run.
- Every call ends answered, abandoned or with a failed call-back; the run stops when every
  call (and text thread) has ended. Consultant state time is accounted from
  ``ConsultantStateChanged`` only.
- Text threads (``acd.sim.texts``), when given, are handed out by a ``TextDesk`` after each
  event; the router learns of them only through the consultant states the product's link feeds
  (NOT_READY for text, READY again).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from acd.capacity import TEXT_REASON
from acd.commands import (
    AnnounceWait,
    CancelOffer,
    Command,
    ConsultantStateChanged,
    DecisionRecord,
    OfferCall,
    OfferCallback,
    ScheduleWakeup,
)
from acd.events import (
    CallAbandoned,
    CallArrived,
    CallbackAccepted,
    CallbackAnswered,
    CallbackFailed,
    CallEnded,
    ConsultantLoggedIn,
    ConsultantLoggedOut,
    ConsultantNotReady,
    ConsultantReady,
    Event,
    OfferAccepted,
    OfferTimedOut,
    Tick,
)
from acd.model import NO_ANSWER, ConsultantState
from acd.sim.staffing import MEAL, WorkPlan
from acd.sim.texts import TextDesk, TextThread
from acd.sim.traffic import DAY_S, SimCall, TrafficProfile

NO_ANSWER_BACK_S = 45.0  # a consultant set not ready for not answering is back after this
CALLBACK_DIAL_S = 8.0  # time to reach (or give up on) a citizen we call back
HORIZON_S = DAY_S + 6 * 3600.0  # the replay stops six hours after the day's end

# Event kinds, in the order they run at equal times.
LOGIN, MEAL_END, BACK, END, ANSWER, TIMEOUT, CALLBACK, ARRIVE, ABANDON, TICK, MEAL_START, LOGOUT = (
    range(12)
)
TEXT_END, TEXT_ARRIVE, TEXT_ABANDON = range(12, 15)


class Router(Protocol):
    name: str

    def handle(self, event: Event, now: float) -> Sequence[Command]: ...


@dataclass(slots=True)
class CallOutcome:
    answered_at: float | None = None
    abandoned_at: float | None = None
    consultant_id: str | None = None
    callback: bool = False
    first_estimate_s: float | None = None


@dataclass(slots=True)
class AgentLog:
    state: ConsultantState = ConsultantState.LOGGED_OUT
    reason: str | None = None
    since: float = 0.0
    seconds: dict[ConsultantState, float] = field(default_factory=dict)
    handled: int = 0


@dataclass(slots=True)
class SimResult:
    policy: str
    calls: list[SimCall]
    outcomes: list[CallOutcome]
    agents: dict[str, AgentLog]
    decisions: int
    ignored: int
    wall_s: float = 0.0
    texts: TextDesk | None = None


class Simulation:
    def __init__(
        self,
        calls: list[SimCall],
        plans: list[WorkPlan],
        router: Router,
        profile: TrafficProfile,
        *,
        ring_timeout_s: float,
        seed: int,
        texts: list[TextThread] | None = None,
    ) -> None:
        self.calls = calls
        self.router = router
        self.profile = profile
        self.ring_timeout_s = ring_timeout_s
        self.rng = random.Random(seed ^ 0x5EED)
        self.outcomes = [CallOutcome() for _ in calls]
        self.agents = {p.consultant.id: AgentLog() for p in plans}
        self.index = {c.call_id: c.idx for c in calls}
        self.heap: list[tuple[float, int, int, int, str, int]] = []
        self.seq = 0
        self.offers: dict[int, tuple[str, int]] = {}  # call idx -> (consultant, token)
        self.offer_count = [0] * len(calls)
        self.wakeup_token = 0
        self.open_calls = len(calls)
        self.decisions = 0
        self.ignored = 0
        self.now = 0.0
        self.meal_s: dict[str, float] = {}
        for plan in plans:
            self._schedule_plan(plan)
        for call in calls:
            self._push(call.arrival, ARRIVE, call.idx)
        self.texts: TextDesk | None = None
        self._texts_dirty = False
        if texts:
            self.texts = TextDesk(texts, (p.consultant for p in plans))
            for thread in texts:
                self._push(thread.arrival, TEXT_ARRIVE, thread.idx)
                if thread.patience_s is not None:
                    self._push(thread.arrival + thread.patience_s, TEXT_ABANDON, thread.idx)

    def _push(self, at: float, kind: int, idx: int = -1, cid: str = "", token: int = 0) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (at, kind, self.seq, idx, cid, token))

    def _schedule_plan(self, plan: WorkPlan) -> None:
        cid = plan.consultant.id
        for a, b in plan.on:
            self._push(a, LOGIN, cid=cid)
            if b < 86_400.0:
                self._push(b, LOGOUT, cid=cid)
        for a, b in plan.meals:
            self._push(a, MEAL_START, cid=cid)
            self.meal_s[cid] = b - a  # the break lasts this long from when it really starts

    def _open(self) -> bool:
        return bool(self.open_calls or (self.texts is not None and self.texts.open))

    def run(self) -> SimResult:
        while self.heap and self._open():
            at, kind, _seq, idx, cid, token = heapq.heappop(self.heap)
            if at > HORIZON_S:
                break  # calls still open (a call-back nobody could take) count as not answered
            self.now = at
            if kind >= TEXT_END:
                event = self._text_event(kind, idx)
            else:
                event = self._event(kind, idx, cid, token)
            if event is not None:
                self._apply(self.router.handle(event, at))
            if self._texts_dirty:
                self._hand_out_texts()
        for log in self.agents.values():
            self._account(log, self.now)
        return SimResult(
            self.router.name,
            self.calls,
            self.outcomes,
            self.agents,
            self.decisions,
            self.ignored,
            texts=self.texts,
        )

    # Text threads ------------------------------------------------------------------------
    def _text_event(self, kind: int, idx: int) -> Event | None:
        desk = self.texts
        assert desk is not None
        if kind == TEXT_ARRIVE:
            desk.arrive(idx)
            self._texts_dirty = True
            return None
        if kind == TEXT_ABANDON:
            desk.abandon(idx, self.now)
            return None
        cid = desk.outcomes[idx].consultant_id or ""
        log = self.agents[cid]
        self._texts_dirty = True
        return desk.end(idx, log.state, log.reason)

    def _hand_out_texts(self) -> None:
        self._texts_dirty = False
        desk = self.texts
        if desk is None or not desk.waiting:
            return
        states = {cid: (log.state, log.reason, log.since) for cid, log in self.agents.items()}
        for idx, _cid, event in desk.assign(self.now, states):
            self._push(self.now + desk.threads[idx].handle_s, TEXT_END, idx)
            if event is not None:
                self._apply(self.router.handle(event, self.now))

    def _event(self, kind: int, idx: int, cid: str, token: int) -> Event | None:  # noqa: PLR0911
        if kind == ARRIVE:
            call = self.calls[idx]
            self._push(call.arrival + call.patience_s, ABANDON, idx)
            return CallArrived(call.call_id, call.language, call.service, call.priority)
        if kind in (ANSWER, TIMEOUT, CALLBACK, END, ABANDON):
            return self._call_event(kind, idx, cid, token)
        if kind == TICK:
            return Tick() if token == self.wakeup_token else None
        log = self.agents[cid]
        if kind == LOGIN:
            return ConsultantLoggedIn(cid)
        if kind == LOGOUT:
            return ConsultantLoggedOut(cid)
        if kind == MEAL_START:
            return ConsultantNotReady(cid, MEAL)
        if kind == MEAL_END:
            return self._back_from(cid, MEAL) if log.reason == MEAL else None
        if kind == BACK:
            return self._back_from(cid, NO_ANSWER) if log.reason == NO_ANSWER else None
        raise AssertionError(kind)

    def _back_from(self, cid: str, _reason: str) -> Event:
        """READY again, unless they still hold text threads (then NOT_READY for text)."""
        if self.texts is not None and self.texts.holds(cid):
            return ConsultantNotReady(cid, TEXT_REASON)
        return ConsultantReady(cid)

    def _call_event(self, kind: int, idx: int, cid: str, token: int) -> Event | None:
        if kind == ABANDON:
            return self._abandon(idx)
        if kind == END:
            self.open_calls -= 1
            return CallEnded(self.calls[idx].call_id)
        if self.offers.get(idx) != (cid, token):
            return None  # the offer was settled meanwhile (abandoned, cancelled)
        if kind == CALLBACK:
            return self._callback_result(idx, cid, token)
        del self.offers[idx]
        if kind == TIMEOUT:
            return OfferTimedOut(self.calls[idx].call_id, cid)
        call, outcome = self.calls[idx], self.outcomes[idx]
        outcome.answered_at = self.now
        outcome.consultant_id = cid
        self.agents[cid].handled += 1
        self._push(self.now + call.handle_s, END, idx)
        return OfferAccepted(call.call_id, cid)

    def _abandon(self, idx: int) -> Event | None:
        outcome = self.outcomes[idx]
        if outcome.answered_at is not None or outcome.callback or outcome.abandoned_at is not None:
            return None  # answered, on virtual hold, or already gone
        outcome.abandoned_at = self.now
        self.offers.pop(idx, None)
        self.open_calls -= 1
        return CallAbandoned(self.calls[idx].call_id)

    def _callback_result(self, idx: int, cid: str, token: int) -> Event:
        call = self.calls[idx]
        if call.answers_callback:
            self._ring(idx, cid, token)
            return CallbackAnswered(call.call_id)
        del self.offers[idx]
        self.outcomes[idx].abandoned_at = self.now
        self.open_calls -= 1
        return CallbackFailed(call.call_id)

    def _ring(self, idx: int, cid: str, token: int) -> None:
        call = self.calls[idx]
        first = self.offer_count[idx] == 1
        no_answer = call.no_answer if first else self.rng.random() < self.profile.no_answer_prob
        delay = call.ring_delay_s if first else self.rng.uniform(*self.profile.ring_delay_s)
        if no_answer:
            self._push(self.now + self.ring_timeout_s, TIMEOUT, idx, cid, token)
        else:
            self._push(self.now + delay, ANSWER, idx, cid, token)

    def _apply(self, commands: Sequence[Command]) -> None:
        for command in commands:
            if isinstance(command, ConsultantStateChanged):
                self._state_changed(command)
            elif isinstance(command, OfferCall):
                self._offer(command)
            elif isinstance(command, ScheduleWakeup):
                self.wakeup_token += 1
                self._push(max(command.at, self.now), TICK, token=self.wakeup_token)
            elif isinstance(command, CancelOffer):
                idx = self.index[command.call_id]
                if self.offers.get(idx, ("",))[0] == command.consultant_id:
                    del self.offers[idx]
            elif isinstance(command, AnnounceWait):
                outcome = self.outcomes[self.index[command.call_id]]
                if outcome.first_estimate_s is None:
                    outcome.first_estimate_s = command.estimated_wait_s
            elif isinstance(command, OfferCallback):
                self._callback_offered(command)
            elif isinstance(command, DecisionRecord):
                self.decisions += 1
            else:
                self.ignored += 1

    def _offer(self, command: OfferCall) -> None:
        idx = self.index[command.call_id]
        self.offer_count[idx] += 1
        token = self.offer_count[idx]
        self.offers[idx] = (command.consultant_id, token)
        if command.callback_number is not None:
            self._push(self.now + CALLBACK_DIAL_S, CALLBACK, idx, command.consultant_id, token)
        else:
            self._ring(idx, command.consultant_id, token)

    def _callback_offered(self, command: OfferCallback) -> None:
        idx = self.index[command.call_id]
        call, outcome = self.calls[idx], self.outcomes[idx]
        if not call.accepts_callback or outcome.abandoned_at is not None:
            return
        outcome.callback = True
        self._apply(self.router.handle(CallbackAccepted(call.call_id, f"+8210{idx:08d}"), self.now))

    def _state_changed(self, command: ConsultantStateChanged) -> None:
        log = self.agents[command.consultant_id]
        self._account(log, self.now)
        log.state = command.state
        log.reason = command.reason
        if command.state is ConsultantState.READY and self.texts is not None:
            self._texts_dirty = True
        if command.state is ConsultantState.NOT_READY and command.reason == NO_ANSWER:
            self._push(self.now + NO_ANSWER_BACK_S, BACK, cid=command.consultant_id)
        elif command.state is ConsultantState.NOT_READY and command.reason == MEAL:
            self._push(
                self.now + self.meal_s[command.consultant_id], MEAL_END, cid=command.consultant_id
            )

    @staticmethod
    def _account(log: AgentLog, now: float) -> None:
        # Staffing statistics cover the simulated day only (calls after midnight still count).
        until = min(now, DAY_S)
        if until > log.since:
            log.seconds[log.state] = log.seconds.get(log.state, 0.0) + (until - log.since)
        log.since = max(log.since, until)
