"""``LiveCenter``: the ``ContactCenter`` the web edge uses, over the ACD, AMI and the call log.

Wiring: build it with the engine's ``AcdDriver``, ``AmiClient`` (for actions), the live
model's event feed (``events``) and call log, ``attach()`` it to the driver before calls flow,
and keep ``run()`` going (it reads AMI events, samples the
wallboard timeline and seeds today's figures from the call log) until cancelled.

Invariants:
- The ACD decides consultants' states; this class only feeds it events and shows the
  result, so the desktop, the wallboard and routing never disagree.
- Consultant actions change state synchronously (the ACD's feed is synchronous), so the
  returned view is already the new one; call actions return the call as it is once the
  PBX accepted the action, and later steps arrive as ``CallChanged`` events.
- Authorization (role, ownership) is the web edge's; the center refuses only for domain
  reasons (``InvalidState``, ``NotFound``, ``Unavailable``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from acd.driver import AcdDriver
from acd.events import (
    ConsultantLoggedIn,
    ConsultantLoggedOut,
    ConsultantNotReady,
    ConsultantReady,
    WrapUpEnded,
)
from common.principal import Principal, Role
from cti.ami.client import AmiClient, AmiEventSource
from cti.center.acdfeed import AcdFeed
from cti.center.board import ConsultantBoard, Profile
from cti.center.control import Control
from cti.center.core import CallLogReader, CenterConfig, CenterCore, Clock
from cti.center.parties import Parties
from cti.center.pbx import Pbx
from cti.center.screenpop import ScreenPop
from cti.center.spy import Supervision
from cti.center.watch import AmiWatch
from cti.control import (
    CallDetails,
    CallState,
    CallSummary,
    CenterSample,
    ConsultantState,
    ConsultantStats,
    ConsultantView,
    EventStream,
    InvalidState,
    NotFound,
    NotReadyReason,
    Party,
    QueueStats,
    SpyMode,
    SpySession,
    SuggestionsChanged,
    TransferMode,
    TransferTarget,
    WaitingCall,
)
from recordings.models import ParticipantRole

log = logging.getLogger("dasan.cti.center")

# Who may end a wrap-up that a required note still holds.
_MAY_OVERRIDE_NOTE = frozenset({Role.SUPERVISOR, Role.ADMIN})
_ON_CALL = (ConsultantState.RINGING, ConsultantState.TALKING)


def roster_profiles(driver: AcdDriver) -> list[Profile]:
    """Every consultant the ACD knows, named by id and team (the roster has no names)."""
    profiles = []
    for agent in driver.state.agents.values():
        c = agent.profile
        languages = sorted((lang.value for lang in c.languages), key=lambda v: (v != "ko", v))
        profiles.append(Profile(c.id, f"{c.id} · {c.team}", tuple(languages)))
    return profiles


WrapUpGate = Callable[[str], Awaitable[str | None]]


class LiveCenter:
    def __init__(
        self,
        *,
        driver: AcdDriver,
        ami: AmiClient,
        calls: CallLogReader,
        config: CenterConfig,
        clock: Clock,
        wrap_up_gate: WrapUpGate | None = None,
        events: AmiEventSource | None = None,
    ) -> None:
        """``events``: where the watch reads AMI events (the engine: the live model's feed,
        so the CTI shares the engine's one AMI subscription); None reads ``ami`` itself."""
        # Asked before a consultant ends wrap-up early: why not yet (e.g. the after-call note
        # is missing), or None. The service's wrap-up timer is not affected.
        self._wrap_up_gate = wrap_up_gate
        self._events: AmiEventSource = ami if events is None else events
        board = ConsultantBoard(clock, roster_profiles(driver))
        board.load(
            {
                cid: (agent.state, agent.reason, agent.call_id)
                for cid, agent in driver.state.agents.items()
            }
        )
        self.core = CenterCore(
            clock=clock,
            driver=driver,
            pbx=Pbx(ami, self._events),
            calls=calls,
            config=config,
            board=board,
        )
        self._parties = Parties(self.core)
        self._control = Control(self.core)
        self._spies = Supervision(self.core)
        self._feed = AcdFeed(self.core, self._parties.on_request_event)
        self._pop = ScreenPop(calls)

    def attach(self) -> None:
        """Listen to the ACD (call before calls flow)."""
        self._feed.attach()

    async def run(self) -> None:
        """Read AMI, seed today's figures and sample the timeline until cancelled."""
        watch = AmiWatch(self.core, self._parties, self._control, self._spies)
        subscription = self._events.subscribe(maxsize=100_000, name="cti-center")
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(watch.run(subscription))
                tasks.create_task(self._seed())
                tasks.create_task(self._sample_forever())
        finally:
            subscription.close()
            await self.core.close()

    # --- consultant state -------------------------------------------------------------------
    async def log_in(self, by: Principal, consultant_id: str) -> ConsultantView:
        if self._view(consultant_id).state is not ConsultantState.LOGGED_OUT:
            raise InvalidState(f"{consultant_id} is already logged in")
        self.core.feed(ConsultantLoggedIn(consultant_id, ready=False))
        return self._view(consultant_id)

    async def log_out(self, by: Principal, consultant_id: str) -> ConsultantView:
        view = self._view(consultant_id)
        if view.state is ConsultantState.LOGGED_OUT or view.state in _ON_CALL:
            raise InvalidState(f"{consultant_id} cannot log out while {view.state.value}")
        self.core.feed(ConsultantLoggedOut(consultant_id))
        return self._view(consultant_id)

    async def set_ready(self, by: Principal, consultant_id: str) -> ConsultantView:
        view = self._view(consultant_id)
        if view.state is ConsultantState.READY:
            return view
        if view.state not in (ConsultantState.NOT_READY, ConsultantState.WRAP_UP):
            raise InvalidState(f"{consultant_id} cannot become ready while {view.state.value}")
        self.core.feed(ConsultantReady(consultant_id))
        return self._view(consultant_id)

    async def set_not_ready(
        self, by: Principal, consultant_id: str, reason: NotReadyReason
    ) -> ConsultantView:
        view = self._view(consultant_id)
        if view.state is ConsultantState.LOGGED_OUT or view.state in _ON_CALL:
            raise InvalidState(f"{consultant_id} cannot become not ready while {view.state.value}")
        self.core.feed(ConsultantNotReady(consultant_id, reason.value))
        # The reason was kept for after wrap-up: end wrap-up now, unless the gate holds it
        # (a required note is missing): then the reason applies once wrap-up ends.
        if view.state is ConsultantState.WRAP_UP and await self._may_end_wrap_up(consultant_id):
            self.core.feed(WrapUpEnded(consultant_id))
        return self._view(consultant_id)

    async def _may_end_wrap_up(self, consultant_id: str) -> bool:
        return self._wrap_up_gate is None or await self._wrap_up_gate(consultant_id) is None

    async def finish_wrap_up(self, by: Principal, consultant_id: str) -> ConsultantView:
        if self._view(consultant_id).state is not ConsultantState.WRAP_UP:
            raise InvalidState(f"{consultant_id} is not in wrap-up")
        if self._wrap_up_gate is not None:
            missing = await self._wrap_up_gate(consultant_id)
            if missing is not None and by.role not in _MAY_OVERRIDE_NOTE:
                raise InvalidState(missing)
            if missing is not None:
                # A supervisor may release a consultant held for a note (a queue building up,
                # a consultant who cannot write it now); the note stays missing and says so.
                log.warning(
                    "wrap-up of %s ended by %s %s with the note still missing: %s",
                    consultant_id,
                    by.role.value,
                    by.user_id,
                    missing,
                )
        self.core.feed(WrapUpEnded(consultant_id))
        return self._view(consultant_id)

    # --- call control -----------------------------------------------------------------------
    async def hold(self, by: Principal, call_id: str) -> CallSummary:
        return await self._control.hold(call_id)

    async def unhold(self, by: Principal, call_id: str) -> CallSummary:
        return await self._control.unhold(call_id)

    async def transfer(
        self, by: Principal, call_id: str, target: TransferTarget, mode: TransferMode
    ) -> CallSummary:
        return await self._control.transfer(by, call_id, target, mode)

    async def complete_transfer(self, by: Principal, call_id: str) -> CallSummary:
        return await self._control.complete(call_id)

    async def cancel_transfer(self, by: Principal, call_id: str) -> CallSummary:
        return await self._control.cancel(call_id)

    async def add_interpreter(self, by: Principal, call_id: str, language: str) -> Party:
        return await self._parties.add_interpreter(call_id, language)

    async def add_third_party(self, by: Principal, call_id: str, number: str) -> Party:
        return await self._parties.add_third_party(call_id, number)

    async def drop_party(self, by: Principal, call_id: str, party_id: str) -> CallSummary:
        return await self._parties.drop(call_id, party_id)

    async def hang_up(self, by: Principal, call_id: str) -> CallSummary:
        return await self._control.hang_up(call_id)

    # --- supervision ------------------------------------------------------------------------
    async def start_spy(
        self, by: Principal, consultant_id: str, mode: SpyMode, device: str | None
    ) -> SpySession:
        return await self._spies.start(by, consultant_id, mode, device)

    async def stop_spy(self, by: Principal, spy_id: str) -> None:
        await self._spies.stop(spy_id)

    # --- queries ----------------------------------------------------------------------------
    async def consultants(self) -> Sequence[ConsultantView]:
        return self.core.board.views()

    async def consultant(self, consultant_id: str) -> ConsultantView:
        return self._view(consultant_id)

    async def queues(self) -> Sequence[QueueStats]:
        return self.core.all_queue_stats()

    async def waiting_calls(self, queue_id: str | None = None) -> Sequence[WaitingCall]:
        core = self.core
        if queue_id is not None and queue_id not in core.driver.state.catalog:
            raise NotFound("queue", queue_id)
        now = core.clock()
        acd_calls = core.driver.state.calls
        out = []
        for call in core.book.live_calls():
            if call.state is not CallState.WAITING or call.queue_id is None:
                continue
            if queue_id not in (None, call.queue_id) or call.enqueued_at is None:
                continue
            record = acd_calls.get(call.call_id)
            priority = int(record.call.priority) if record is not None else 0
            wait_s = (now - call.enqueued_at).total_seconds()
            out.append(
                WaitingCall(
                    call.call_id,
                    call.number,
                    call.language,
                    call.queue_id,
                    call.enqueued_at,
                    wait_s,
                    priority,
                )
            )
        return sorted(out, key=lambda w: w.enqueued_at)

    async def consultant_stats(self, consultant_id: str | None = None) -> Sequence[ConsultantStats]:
        board = self.core.board
        views = board.views() if consultant_id is None else [board.view(consultant_id)]
        return [self.core.ledger.consultant(v) for v in views]

    async def live_calls(self) -> Sequence[CallSummary]:
        return [self.core.book.summary(c) for c in self.core.book.live_calls()]

    async def call(self, call_id: str) -> CallDetails:
        summary = self.core.book.summary(self.core.book.get(call_id))
        return await self._pop.details(summary)

    async def timeline(self, minutes: int) -> Sequence[CenterSample]:
        since = self.core.clock() - timedelta(minutes=minutes)
        return self.core.ledger.samples_since(since)

    def subscribe(self) -> EventStream:
        return self.core.hub.subscribe()

    def publish_suggestions(self, event: SuggestionsChanged) -> None:
        """Agent assist: push cases for what was just said to the call's consultant."""
        self.core.hub.publish(event)

    # --- internals --------------------------------------------------------------------------
    def _view(self, consultant_id: str) -> ConsultantView:
        return self.core.board.view(consultant_id)

    def sample(self) -> CenterSample:
        states = [v.state for v in self.core.board.views()]
        waiting = sum(1 for c in self.core.book.live_calls() if c.state is CallState.WAITING)
        point = CenterSample(
            self.core.clock(),
            waiting,
            states.count(ConsultantState.TALKING),
            states.count(ConsultantState.READY),
            states.count(ConsultantState.NOT_READY),
        )
        self.core.ledger.add_sample(point)
        return point

    async def _sample_forever(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.core.config.sample_every_s)  # the sampling period

    async def _seed(self) -> None:
        """Today's earlier calls from the call log, for queue and consultant figures."""
        core = self.core
        local = core.clock().astimezone(core.config.zone)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        records = await core.calls.all(since=midnight)
        seeded = 0
        for record in records:
            if record.service is None or record.ended_at is None:
                continue
            joined = [p for p in record.participants if p.role is ParticipantRole.CONSULTANT]
            routed: datetime = record.routed_at or record.started_at
            if joined:
                waited = max(0.0, (joined[0].joined_at - routed).total_seconds())
                core.ledger.seed(record.service, joined[0].person_id, waited)
            else:
                core.ledger.seed(record.service, None, None)
            seeded += 1
        log.info("CTI: today's figures seeded from %d earlier calls", seeded)
