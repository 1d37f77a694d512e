"""Hypothesis state machine over ``decide``: random interleavings of calls, consultants and
time, checking the invariants after every step:

- no call lost: every arrived call is waiting, offered, connected, or was abandoned / ended;
- no consultant double-booked: one call at most per consultant, RINGING/TALKING match it;
- language always matched (or an interpreter stage was open and the offer asks for one);
- eligibility: some open overflow stage admitted the consultant;
- first come first served among equals: an offer never skips an older call of its bucket;
- work conserving: no call waits while an eligible consultant is READY.

The catalog carries one district (districts as tenants): its queue ``general__north`` is
served by its own consultant first and by the city's after 7 s, or at once while nobody of the
district is staffed; the oracle below checks that rule independently of the core's code.
"""

from __future__ import annotations

from acd_support import Harness, person, tiny_catalog
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from acd.commands import CancelOffer, Command, OfferCall
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
    OfferRejected,
    OfferTimedOut,
    Tick,
    WrapUpEnded,
)
from acd.model import CallStatus, Consultant, ConsultantState, Language, Priority, WaitingCall
from acd.state import AcdState
from acd.tenants import parse_tenants

S = ConsultantState
KO, EN = Language.KO, Language.EN
CITY_ROSTER = (
    person("c1", general=5, transport=2),
    person("c2", general=2),
    person("c3", "ko,en", general=3, foreign_en=4),
    person("c4", "en", foreign_en=2),
    person("c5", welfare=3),
    person("d1", general=4),
)
NORTH = """
districts:
  - id: north
    name: {ko: 북구, en: North}
    dial: ["12001"]
    consultants: [d1]
    shared: [c2]
    services: [general]
    overflow_after_s: 7
"""
CATALOG, ROSTER = parse_tenants(NORTH, "north", tiny_catalog(), CITY_ROSTER).apply(
    tiny_catalog(), CITY_ROSTER
)
KINDS = (
    (KO, "general"),
    (KO, "transport"),
    (KO, "welfare"),
    (EN, "foreign_en"),
    (KO, "general__north"),
)
IDS = tuple(c.id for c in ROSTER)
STAFFED = {S.READY, S.RINGING, S.TALKING, S.WRAP_UP}


def admits(
    consultant: Consultant,
    call: WaitingCall,
    now: float,
    state: AcdState,
    interpreter: bool | None = None,
) -> bool:
    """Does an open stage admit ``consultant`` for ``call``? (independent of the core's code)"""
    service = CATALOG[call.service]
    unstaffed = not any(
        a.state in STAFFED
        and call.language in a.profile.languages
        and a.profile.proficiency(service.id) >= 1
        for a in state.agents.values()
    )
    for stage in service.stages:
        if stage.after_s > now - call.enqueued_at and not (stage.when_unstaffed and unstaffed):
            continue
        if interpreter is not None and stage.with_interpreter != interpreter:
            continue
        language = KO if stage.with_interpreter else call.language
        skill = stage.via_service or service.id
        if (
            language in consultant.languages
            and consultant.proficiency(skill) >= stage.min_proficiency
        ):
            return True
    return False


class AcdMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.h = Harness(ROSTER, catalog=CATALOG)
        self.now = 0.0
        self.count = 0
        self.live: set[str] = set()  # arrived and not yet over
        self.offered: dict[str, str] = {}  # call -> consultant, per the commands seen
        self.calling_back: set[str] = set()
        self.connected: dict[str, str] = {}

    # Driving ----------------------------------------------------------------------------------
    def step(self, event: Event, dt: float = 0.0) -> list[Command]:
        self.now += dt
        commands = self.h.feed(event, self.now)
        waiting = self.h.state.waiting_calls()
        for command in commands:
            if isinstance(command, OfferCall):
                self.check_offer(command, waiting)
            elif isinstance(command, CancelOffer):
                assert (
                    self.offered.pop(command.call_id, command.consultant_id)
                    == command.consultant_id
                )
                self.calling_back.discard(command.call_id)
                if command.call_id not in self.h.state.calls:
                    self.end(command.call_id)  # a call-back reservation expired
        return commands

    def check_offer(self, offer: OfferCall, waiting: list[WaitingCall]) -> None:
        call = self.h.state.calls[offer.call_id].call
        consultant = self.h.state.agents[offer.consultant_id].profile
        assert offer.consultant_id not in self.offered.values(), "offered two calls at once"
        assert offer.consultant_id not in self.connected.values(), "offered while talking"
        if offer.interpreter_language is None:
            assert call.language in consultant.languages, "language not matched"
            assert admits(consultant, call, self.now, self.h.state, interpreter=False)
        else:
            assert offer.interpreter_language == call.language
            assert admits(consultant, call, self.now, self.h.state, interpreter=True)
        for other in waiting:
            same = (other.language, other.service, other.priority) == (
                call.language,
                call.service,
                call.priority,
            )
            older = (other.enqueued_at, other.seq) < (call.enqueued_at, call.seq)
            assert not (same and older), "skipped an older equal call"
        self.offered[offer.call_id] = offer.consultant_id
        if offer.callback_number is not None:
            self.calling_back.add(offer.call_id)

    def end(self, call_id: str) -> None:
        self.live.discard(call_id)
        self.offered.pop(call_id, None)
        self.connected.pop(call_id, None)
        self.calling_back.discard(call_id)

    # Rules --------------------------------------------------------------------------------------
    @rule(
        kind=st.sampled_from(KINDS),
        priority=st.sampled_from(list(Priority)),
        dt=st.floats(0, 20),
    )
    def arrive(self, kind: tuple[Language, str], priority: Priority, dt: float) -> None:
        self.count += 1
        call_id = f"k{self.count}"
        self.live.add(call_id)
        self.step(CallArrived(call_id, kind[0], kind[1], priority), dt)

    @precondition(lambda self: self.live)
    @rule(data=st.data(), dt=st.floats(0, 20))
    def abandon(self, data: st.DataObject, dt: float) -> None:
        call_id = data.draw(st.sampled_from(sorted(self.live)))
        self.end(call_id)  # a hang-up after connection just ends the call
        self.step(CallAbandoned(call_id), dt)

    @rule(cid=st.sampled_from(IDS), action=st.sampled_from(["in", "out", "ready", "break", "wrap"]))
    def consultant(self, cid: str, action: str) -> None:
        events: dict[str, Event] = {
            "in": ConsultantLoggedIn(cid),
            "out": ConsultantLoggedOut(cid),
            "ready": ConsultantReady(cid),
            "break": ConsultantNotReady(cid, "break"),
            "wrap": WrapUpEnded(cid),
        }
        self.step(events[action])

    @precondition(lambda self: self.offered)
    @rule(
        data=st.data(),
        outcome=st.sampled_from(["accept", "timeout", "reject"]),
        dt=st.floats(0, 15),
    )
    def settle_offer(self, data: st.DataObject, outcome: str, dt: float) -> None:
        call_id = data.draw(st.sampled_from(sorted(self.offered)))
        cid = self.offered[call_id]
        if call_id in self.calling_back:
            self.calling_back.discard(call_id)
            self.step(CallbackAnswered(call_id), dt)
            if call_id not in self.offered:  # its reservation expired before the answer came
                return
        if outcome == "accept":
            self.connected[call_id] = self.offered.pop(call_id)
            self.step(OfferAccepted(call_id, cid))
        else:
            self.offered.pop(call_id)
            self.step(
                OfferTimedOut(call_id, cid) if outcome == "timeout" else OfferRejected(call_id, cid)
            )

    @precondition(lambda self: self.calling_back)
    @rule(data=st.data())
    def callback_fails(self, data: st.DataObject) -> None:
        call_id = data.draw(st.sampled_from(sorted(self.calling_back)))
        self.end(call_id)
        self.step(CallbackFailed(call_id), 8.0)

    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def take_callback(self, data: st.DataObject) -> None:
        self.step(CallbackAccepted(data.draw(st.sampled_from(sorted(self.live))), "+8210"))

    @precondition(lambda self: self.connected)
    @rule(data=st.data(), dt=st.floats(0, 200))
    def hang_up(self, data: st.DataObject, dt: float) -> None:
        call_id = data.draw(st.sampled_from(sorted(self.connected)))
        self.end(call_id)
        self.step(CallEnded(call_id), dt)

    @rule(to_wakeup=st.booleans(), dt=st.floats(0, 90))
    def tick(self, to_wakeup: bool, dt: float) -> None:
        wakeup = self.h.wakeup
        if to_wakeup and wakeup is not None and wakeup > self.now:
            dt = wakeup - self.now
        self.step(Tick(), dt)

    # Invariants ---------------------------------------------------------------------------------
    @invariant()
    def no_call_lost(self) -> None:
        calls = self.h.state.calls
        assert set(calls) == self.live
        for call_id, record in calls.items():
            if call_id in self.connected:
                assert record.status is CallStatus.CONNECTED
            elif call_id in self.offered:
                assert record.status is CallStatus.OFFERED
            else:
                assert record.status is CallStatus.WAITING
        assert len(self.h.state.queues) == sum(
            1 for r in calls.values() if r.status is CallStatus.WAITING
        )

    @invariant()
    def no_consultant_double_booked(self) -> None:
        state = self.h.state
        holders = [
            r.consultant_id for r in state.calls.values() if r.status is not CallStatus.WAITING
        ]
        assert len(holders) == len(set(holders))
        for cid, agent in state.agents.items():
            held = [
                r
                for r in state.calls.values()
                if r.consultant_id == cid and r.status is not CallStatus.WAITING
            ]
            if agent.state is S.RINGING:
                assert [r.status for r in held] == [CallStatus.OFFERED]
            elif agent.state is S.TALKING:
                assert [r.status for r in held] == [CallStatus.CONNECTED]
            else:
                assert held == []
        ready = {cid for cid, a in state.agents.items() if a.state is S.READY}
        assert state.pool.ready_ids() == ready

    @invariant()
    def work_conserving(self) -> None:
        state = self.h.state
        ready = [a.profile for a in state.agents.values() if a.state is S.READY]
        for call in state.waiting_calls():
            assert not any(admits(c, call, self.now, state) for c in ready), (
                f"{call.call_id} waits needlessly"
            )

    @invariant()
    def staffing_counts(self) -> None:
        state = self.h.state
        staffed = {S.READY, S.RINGING, S.TALKING, S.WRAP_UP}
        for language, skill in (
            (KO, "general"),
            (EN, "foreign_en"),
            (KO, "welfare"),
            (KO, "general__north"),
        ):
            expected = sum(
                1
                for a in state.agents.values()
                if a.state in staffed
                and language in a.profile.languages
                and a.profile.proficiency(skill) >= 1
            )
            assert state.staff.staffed(language, skill, 1) == expected


AcdMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestAcdStateMachine = AcdMachine.TestCase
