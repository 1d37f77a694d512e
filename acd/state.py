"""Mutable state of the routing core, owned by ``decide``.

Invariants (checked by the Hypothesis state machine in tests/unit/acd):
- Every call the core knows is in exactly one status: WAITING (in ``queues`` exactly once),
  OFFERED (with a RINGING consultant whose ``call_id`` is this call) or CONNECTED (with a
  TALKING consultant). Ended or abandoned calls are forgotten entirely.
- A consultant is in ``pool`` if and only if READY; a RINGING or TALKING consultant holds
  exactly one call; so no consultant is ever offered two calls at once.
- ``staff`` counts exactly the consultants in READY, RINGING, TALKING or WRAP_UP.
- Timers (wrap-up ends, announcements) live in heaps; entries that no longer match the
  consultant or call they name are skipped.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

from acd.commands import Command, ConsultantStateChanged
from acd.errors import InvalidEvent
from acd.indexes import CallQueues, IdlePool, StaffCounts
from acd.model import UNREGISTERED, CallStatus, Consultant, ConsultantState, WaitingCall
from acd.plans import build_plans
from acd.services import ServiceCatalog
from acd.settings import AcdSettings

_STAFFED = frozenset(
    {
        ConsultantState.READY,
        ConsultantState.RINGING,
        ConsultantState.TALKING,
        ConsultantState.WRAP_UP,
    }
)

# Which state changes are legal; anything else is a bug in the core.
TRANSITIONS: dict[ConsultantState, frozenset[ConsultantState]] = {
    ConsultantState.LOGGED_OUT: frozenset({ConsultantState.READY, ConsultantState.NOT_READY}),
    ConsultantState.READY: frozenset(
        {ConsultantState.RINGING, ConsultantState.NOT_READY, ConsultantState.LOGGED_OUT}
    ),
    ConsultantState.RINGING: frozenset(
        {
            ConsultantState.TALKING,
            ConsultantState.READY,
            ConsultantState.NOT_READY,
            ConsultantState.LOGGED_OUT,
        }
    ),
    ConsultantState.TALKING: frozenset({ConsultantState.WRAP_UP}),
    ConsultantState.WRAP_UP: frozenset(
        {ConsultantState.READY, ConsultantState.NOT_READY, ConsultantState.LOGGED_OUT}
    ),
    ConsultantState.NOT_READY: frozenset(
        {ConsultantState.READY, ConsultantState.NOT_READY, ConsultantState.LOGGED_OUT}
    ),
}


@dataclass(slots=True)
class Agent:
    """Runtime record of one consultant."""

    profile: Consultant
    state: ConsultantState = ConsultantState.LOGGED_OUT
    reason: str | None = None
    idle_since: float = 0.0
    token: int = 0
    call_id: str | None = None
    wrap_until: float | None = None
    # Applied when the current call and wrap-up are over: (NOT_READY, reason) or LOGGED_OUT.
    pending: tuple[ConsultantState, str | None] | None = None
    # False while the consultant's phone is not registered (ConsultantReachable): any move to
    # READY becomes NOT_READY "unregistered" instead, so nobody unreachable is ever offered.
    reachable: bool = True


@dataclass(slots=True)
class CallRecord:
    call: WaitingCall
    status: CallStatus = CallStatus.WAITING
    consultant_id: str | None = None
    calling_back: bool = False  # a virtual-hold offer while the citizen is being called
    callback_offered: bool = False
    announce_at: float | None = None  # the one announcement timer entry that is current
    reserved_until: float | None = None  # a call-back reservation's expiry (calling_back)


class AcdState:
    """Everything the core knows. Create with :meth:`new`; only ``decide`` mutates it."""

    def __init__(
        self, catalog: ServiceCatalog, roster: Iterable[Consultant], settings: AcdSettings
    ) -> None:
        self.catalog = catalog
        self.plans = build_plans(catalog)
        self.settings = settings
        self.agents: dict[str, Agent] = {c.id: Agent(c) for c in roster}
        self.calls: dict[str, CallRecord] = {}
        self.by_seq: dict[int, str] = {}  # waiting call seq -> call id (for timers)
        self.queues = CallQueues()
        self.pool = IdlePool()
        self.staff = StaffCounts()
        self.wrapups: list[tuple[float, int, str]] = []  # (until, token, consultant id)
        self.announcements: list[tuple[float, int]] = []  # (at, seq)
        self.reservations: list[tuple[float, str]] = []  # (until, call id): call-backs
        self.next_seq = 0
        self.next_token = 0
        self.last_wakeup: float | None = None
        self.decisions = 0

    @classmethod
    def new(
        cls,
        catalog: ServiceCatalog,
        roster: Iterable[Consultant],
        settings: AcdSettings | None = None,
    ) -> AcdState:
        return cls(catalog, roster, settings or AcdSettings())

    # Read-only helpers for drivers, reports and tests ----------------------------------
    def consultant_state(self, consultant_id: str) -> ConsultantState:
        return self.agent(consultant_id).state

    def waiting_calls(self) -> list[WaitingCall]:
        """Waiting calls in arrival order (not routing order)."""
        waiting = [r.call for r in self.calls.values() if r.status is CallStatus.WAITING]
        return sorted(waiting, key=lambda c: (c.enqueued_at, c.seq))

    def agent(self, consultant_id: str) -> Agent:
        try:
            return self.agents[consultant_id]
        except KeyError:
            raise InvalidEvent(f"unknown consultant {consultant_id!r}") from None

    # Mutations used by the core -------------------------------------------------------
    def set_state(
        self,
        agent: Agent,
        state: ConsultantState,
        now: float,
        out: list[Command],
        *,
        reason: str | None = None,
        idle_since: float | None = None,
    ) -> None:
        old = agent.state
        if state is ConsultantState.READY and not agent.reachable:
            state, reason = ConsultantState.NOT_READY, UNREGISTERED
        if state not in TRANSITIONS[old]:
            raise AssertionError(f"{agent.profile.id}: illegal transition {old} -> {state}")
        if old is ConsultantState.READY:
            self.pool.discard(agent.profile.id)
        if (old in _STAFFED) != (state in _STAFFED):
            self.staff.change(agent.profile, 1 if state in _STAFFED else -1)
        agent.state = state
        agent.reason = reason if state is ConsultantState.NOT_READY else None
        if state is not ConsultantState.WRAP_UP:
            agent.wrap_until = None
        if state in (ConsultantState.READY, ConsultantState.NOT_READY, ConsultantState.LOGGED_OUT):
            agent.call_id = None
        if state is ConsultantState.READY:
            agent.idle_since = now if idle_since is None else idle_since
            self.next_token += 1
            agent.token = self.next_token
            self.pool.add(agent.profile, agent.idle_since, agent.token)
        out.append(ConsultantStateChanged(agent.profile.id, state, agent.reason, agent.call_id))

    def start_wrap_up(self, agent: Agent, until: float, now: float, out: list[Command]) -> None:
        self.set_state(agent, ConsultantState.WRAP_UP, now, out)
        agent.wrap_until = until
        self.next_token += 1
        agent.token = self.next_token
        # Held for the consultant's release (a required note): no timer ends it.
        if not self.settings.wrap_up_needs_release:
            heapq.heappush(self.wrapups, (until, agent.token, agent.profile.id))

    def enqueue(self, record: CallRecord) -> None:
        record.status = CallStatus.WAITING
        record.consultant_id = None
        record.calling_back = False
        record.reserved_until = None
        self.queues.add(record.call)
        self.by_seq[record.call.seq] = record.call.call_id

    def dequeue(self, record: CallRecord) -> None:
        self.queues.remove(record.call)
        del self.by_seq[record.call.seq]

    def reserve(self, record: CallRecord, until: float) -> None:
        """The consultant offered ``record`` stays reserved for its call-back until ``until``."""
        record.reserved_until = until
        heapq.heappush(self.reservations, (until, record.call.call_id))

    def reservation_current(self, until: float, call_id: str) -> bool:
        record = self.calls.get(call_id)
        return record is not None and record.calling_back and record.reserved_until == until

    def schedule_announcement(self, record: CallRecord, at: float) -> None:
        record.announce_at = at
        heapq.heappush(self.announcements, (at, record.call.seq))

    def next_timer(self) -> float | None:
        """Earliest pending wrap-up end or announcement (stale entries dropped)."""
        while self.wrapups:
            _until, token, consultant_id = self.wrapups[0]
            agent = self.agents[consultant_id]
            if agent.token == token and agent.state is ConsultantState.WRAP_UP:
                break
            heapq.heappop(self.wrapups)
        while self.announcements and self.announcements[0][1] not in self.by_seq:
            heapq.heappop(self.announcements)
        while self.reservations and not self.reservation_current(*self.reservations[0]):
            heapq.heappop(self.reservations)
        times = [h[0][0] for h in (self.wrapups, self.announcements, self.reservations) if h]
        return min(times) if times else None
