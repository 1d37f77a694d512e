"""``LiveCenter`` over the real ACD driver, a fake AMI that plays a tiny PBX, a fake call log."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from acd.driver import AcdDriver
from acd.events import CallArrived, CallEnded, OfferAccepted
from acd.model import Language
from acd.settings import AcdSettings
from common.principal import Principal, Role
from cti.center import CenterConfig, LiveCenter
from cti.control import (
    CallState,
    ConsultantChanged,
    ConsultantState,
    InvalidState,
    NoInterpreterAvailable,
    NotReadyReason,
    PartyKind,
    PartyState,
    SpyChanged,
    SpyMode,
    TargetKind,
    TransferMode,
    TransferTarget,
)
from recordings.calllog import CallRecord
from tests.unit.cti_center.fakes import BRIDGE, FakeAmi, FakeCallLog, event

T0 = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
CITIZEN = "PJSIP/citizens-00000001"
AGENT = "PJSIP/c0001-00000002"
BOSS = Principal("supervisor", Role.SUPERVISOR)
ME = Principal("c0001", Role.CONSULTANT)


@dataclass
class Rig:
    center: LiveCenter
    driver: AcdDriver
    ami: FakeAmi
    calls: FakeCallLog


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    driver = AcdDriver(AcdSettings(logged_in=("c0001", "c0462")), None)
    driver.log_in_roster()
    ami, calls = FakeAmi(), FakeCallLog()
    config = CenterConfig(
        zone=ZoneInfo("Asia/Seoul"),
        default_language="ko",
        outside_dial="PJSIP/outside/sip:{number}@127.0.0.1:5092",
        ring_s=15.0,
        endpoints=frozenset({"c0001", "c0462", "c0470"}),
        sample_every_s=3600.0,
    )
    center = LiveCenter(driver=driver, ami=ami, calls=calls, config=config, clock=lambda: T0)  # type: ignore[arg-type]
    center.attach()
    task = asyncio.create_task(center.run())
    yield Rig(center, driver, ami, calls)
    task.cancel()
    await asyncio.wait([task])
    driver.close()


async def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 2.0
    while not check():
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.01)


async def _talking_call(rig: Rig, call_id: str = "u-1") -> None:
    """A citizen's call in the IVR, queued, rung at c0001 and answered (as the engine does)."""
    rig.calls.numbers[call_id] = "01020001"
    rig.calls.records[call_id] = CallRecord(
        id=call_id,
        uniqueid=call_id,
        linkedid=None,
        language="ko",
        service="general",
        journey={
            "started_at": T0.isoformat(),
            "entries": [{"t_ms": 0, "node": "welcome", "event": "enter"}],
        },
        started_at=T0,
        routed_at=T0,
        ended_at=None,
        duration_ms=None,
        participants=(),
    )
    rig.ami.names.update({CITIZEN: call_id, AGENT: f"{call_id}-leg"})
    rig.ami.emit(
        event(
            "Newchannel",
            Uniqueid=call_id,
            Channel=CITIZEN,
            Context="from-citizens",
            Exten="120",
            CallerIDNum="01020001",
        )
    )
    await eventually(
        lambda: any(c.call_id == call_id for c in rig.center.core.book.live_calls()), "the IVR call"
    )
    ticket = rig.driver.open_ticket(call_id)
    ticket.arrival = CallArrived(call_id, Language.KO, "general")
    rig.driver.feed(ticket.arrival)
    rig.ami.emit(
        event(
            "DialBegin",
            Uniqueid=call_id,
            Channel=CITIZEN,
            DestUniqueid=f"{call_id}-leg",
            DestChannel=AGENT,
        )
    )
    await eventually(lambda: rig.center.core.book.get(call_id).agent is not None, "the agent's leg")
    ticket.connected = True
    rig.driver.feed(OfferAccepted(call_id, "c0001"))
    rig.ami.emit(event("BridgeEnter", Uniqueid=call_id, Channel=CITIZEN, BridgeUniqueid=BRIDGE))
    await eventually(lambda: rig.center.core.book.get(call_id).bridge_id == BRIDGE, "the bridge")


async def test_consultant_state_actions_feed_the_acd_and_publish(rig: Rig) -> None:
    center = rig.center
    async with center.subscribe() as events:  # type: ignore[attr-defined]
        view = await center.log_in(BOSS, "c0470")
        assert view.state is ConsultantState.NOT_READY and view.reason is NotReadyReason.LOGGED_IN
        assert (await center.set_ready(ME, "c0470")).state is ConsultantState.READY
        view = await center.set_not_ready(ME, "c0470", NotReadyReason.MEAL)
        assert view.reason is NotReadyReason.MEAL
        assert (await center.log_out(ME, "c0470")).state is ConsultantState.LOGGED_OUT
        seen = [await anext(events) for _ in range(4)]
    assert all(isinstance(e, ConsultantChanged) for e in seen)
    assert [e.consultant.state for e in seen] == [  # type: ignore[union-attr]
        ConsultantState.NOT_READY,
        ConsultantState.READY,
        ConsultantState.NOT_READY,
        ConsultantState.LOGGED_OUT,
    ]
    with pytest.raises(InvalidState):
        await center.finish_wrap_up(ME, "c0001")
    with pytest.raises(InvalidState):
        await center.log_in(ME, "c0001")


async def test_a_routed_call_pops_up_with_its_journey_and_counts(rig: Rig) -> None:
    await _talking_call(rig)
    center = rig.center
    (call,) = await center.live_calls()
    assert call.state is CallState.TALKING and call.consultant_id == "c0001"
    assert [p.kind for p in call.parties] == [PartyKind.CITIZEN, PartyKind.CONSULTANT]
    details = await center.call("u-1")
    assert details.call.number == "01020001"
    assert [s.node for s in details.ivr_journey] == ["welcome"]
    assert (await center.consultant("c0001")).call_id == "u-1"
    general = next(q for q in await center.queues() if q.queue_id == "general")
    assert (general.answered, general.service_level) == (1, 1.0)
    stats = await center.consultant_stats("c0001")
    assert stats[0].answered == 1


async def test_interpreter_joins_through_the_acd_and_leaves(rig: Rig) -> None:
    await _talking_call(rig)
    center = rig.center
    party = await center.add_interpreter(ME, "u-1", "en")
    assert (party.kind, party.address, party.state) == (
        PartyKind.INTERPRETER,
        "c0462",
        PartyState.DIALING,
    )
    await eventually(lambda: bool(rig.ami.named("Originate")), "the interpreter dialed")
    (originate,) = rig.ami.named("Originate")
    assert (originate["Channel"], originate["Application"], originate["Data"]) == (
        "PJSIP/c0462",
        "BridgeAdd",
        CITIZEN,
    )

    async def connected() -> None:
        await eventually(
            lambda: any(
                p.kind is PartyKind.INTERPRETER and p.state is PartyState.CONNECTED
                for p in rig.center.core.book.get("u-1").parties.values()
            ),
            "the interpreter connected",
        )

    await connected()
    view = await center.consultant("c0462")
    assert view.state is ConsultantState.TALKING and view.call_id == "u-1"
    with pytest.raises(InvalidState):
        await center.add_interpreter(ME, "u-1", "en")  # one at a time
    summary = await center.drop_party(ME, "u-1", party.party_id)
    assert [p.kind for p in summary.parties] == [PartyKind.CITIZEN, PartyKind.CONSULTANT]
    assert (await center.consultant("c0462")).state is ConsultantState.WRAP_UP
    assert rig.driver.ticket(originate["ChannelId"]) is None


async def test_no_free_interpreter_is_reported_and_leaves_no_trace(rig: Rig) -> None:
    await _talking_call(rig)
    with pytest.raises(NoInterpreterAvailable):
        await rig.center.add_interpreter(ME, "u-1", "zh")
    assert list(rig.driver.state.calls) == ["u-1"]
    assert not rig.ami.named("Originate")
    interp = next(q for q in await rig.center.queues() if q.queue_id == "interp_zh")
    assert interp.abandoned == 1
    with pytest.raises(InvalidState):
        await rig.center.add_interpreter(ME, "u-1", "ko")  # there is no Korean pool


async def test_an_interpreter_who_does_not_answer_is_set_not_ready(rig: Rig) -> None:
    rig.ami.answer_originates = False
    await _talking_call(rig)
    party = await rig.center.add_interpreter(ME, "u-1", "en")
    await eventually(lambda: bool(rig.ami.named("Originate")), "the interpreter dialed")
    uid = rig.ami.named("Originate")[0]["ChannelId"]
    rig.ami.emit(event("OriginateResponse", Uniqueid=uid, Response="Failure", Reason="3"))
    await eventually(lambda: party.party_id not in rig.center.core.book.get("u-1").parties, "gone")
    view = await rig.center.consultant("c0462")
    assert view.state is ConsultantState.NOT_READY and view.reason is NotReadyReason.NO_ANSWER
    assert uid not in rig.driver.state.calls and rig.center.core.book.requests == {}


async def test_hold_plays_music_to_the_citizen_and_unhold_brings_the_consultant_back(
    rig: Rig,
) -> None:
    await _talking_call(rig)
    held = await rig.center.hold(ME, "u-1")
    assert held.state is CallState.HELD
    moh = rig.ami.named("Originate")[0]
    assert moh["Channel"] == "Local/s@dasan-cti-moh/n" and moh["Data"] == CITIZEN
    assert rig.ami.named("Redirect")[0] == {
        "Channel": AGENT,
        "Context": "dasan-cti-hold",
        "Exten": "s",
        "Priority": "1",
    }
    with pytest.raises(InvalidState):
        await rig.center.hold(ME, "u-1")
    back = await rig.center.unhold(ME, "u-1")
    assert back.state is CallState.TALKING
    assert {"Channel": AGENT, "Variable": "DASAN_JOIN", "Value": CITIZEN} in rig.ami.named("Setvar")
    await eventually(
        lambda: any(h["Channel"] == moh["ChannelId"] for h in rig.ami.named("Hangup")), "music off"
    )


async def test_blind_transfer_to_a_queue_hands_the_call_back_to_the_acd(rig: Rig) -> None:
    await _talking_call(rig)
    target = TransferTarget(TargetKind.QUEUE, "transport")
    await rig.center.transfer(ME, "u-1", target, TransferMode.BLIND)
    transfer = rig.driver.ticket("u-1").transfer  # type: ignore[union-attr]
    assert transfer is not None and (transfer.kind, transfer.target) == ("service", "transport")
    assert rig.ami.named("Hangup")[0]["Channel"] == "u-1-leg"
    rig.driver.feed(CallEnded("u-1"))  # what the FastAGI session does once Dial returns
    call = rig.center.core.book.get("u-1")
    assert (call.state, call.queue_id, call.consultant_id) == (CallState.WAITING, "transport", None)
    assert (await rig.center.consultant("c0001")).state is ConsultantState.WRAP_UP
    with pytest.raises(InvalidState):
        await rig.center.transfer(
            ME, "u-1", TransferTarget(TargetKind.QUEUE, "foreign_en"), TransferMode.BLIND
        )


async def test_attended_transfer_to_a_department_completes(rig: Rig) -> None:
    await _talking_call(rig)
    with pytest.raises(InvalidState):
        await rig.center.transfer(
            ME, "u-1", TransferTarget(TargetKind.QUEUE, "welfare"), TransferMode.ATTENDED
        )
    target = TransferTarget(TargetKind.EXTERNAL, "0221330000")
    consulting = await rig.center.transfer(ME, "u-1", target, TransferMode.ATTENDED)
    assert consulting.state is CallState.CONSULTING
    assert rig.ami.named("Redirect")[-1]["Context"] == "dasan-cti-consult"
    dial = {
        "Channel": AGENT,
        "Variable": "DASAN_CONSULT_DIAL",
        "Value": "PJSIP/outside/sip:0221330000@127.0.0.1:5092",
    }
    assert dial in rig.ami.named("Setvar")
    with pytest.raises(InvalidState):
        await rig.center.complete_transfer(ME, "u-1")  # not answered yet
    department = "PJSIP/outside-00000009"
    rig.ami.names[department] = "dept-1"
    rig.ami.emit(
        event(
            "DialBegin",
            Uniqueid="u-1-leg",
            Channel=AGENT,
            DestUniqueid="dept-1",
            DestChannel=department,
        )
    )
    rig.ami.emit(
        event(
            "DialEnd",
            Uniqueid="u-1-leg",
            Channel=AGENT,
            DestUniqueid="dept-1",
            DestChannel=department,
            DialStatus="ANSWER",
        )
    )
    await eventually(
        lambda: rig.center.core.book.get("u-1").consult.answered, "the department answered"
    )  # type: ignore[union-attr]
    done = await rig.center.complete_transfer(ME, "u-1")
    assert done.state is CallState.ENDED  # transferred out of the center
    assert rig.center.core.book.get("u-1").outcome.value == "transferred_out"  # type: ignore[union-attr]
    assert (await rig.center.consultant("c0001")).state is ConsultantState.WRAP_UP
    assert {"Channel": AGENT, "Variable": "DASAN_CONSULT_DONE", "Value": "1"} in rig.ami.named(
        "Setvar"
    )


async def test_supervisor_whispers_from_a_phone_of_their_choice(rig: Rig) -> None:
    await _talking_call(rig)
    center = rig.center
    async with center.subscribe() as events:  # type: ignore[attr-defined]
        session = await center.start_spy(BOSS, "c0001", SpyMode.WHISPER, "c0470")
        spy = rig.ami.named("Originate")[0]
        assert (spy["Channel"], spy["Application"], spy["Data"]) == (
            "PJSIP/c0470",
            "ChanSpy",
            "PJSIP/c0001-,qw",
        )
        await center.stop_spy(BOSS, session.spy_id)
        changes = [e async for e in _take(events, 2, SpyChanged)]
    assert [c.active for c in changes] == [True, False]
    with pytest.raises(InvalidState):
        await center.start_spy(BOSS, "c0001", SpyMode.LISTEN, None)  # no phone for "supervisor"
    with pytest.raises(InvalidState):
        await center.start_spy(BOSS, "c0470", SpyMode.LISTEN, "0299990000")  # logged out
    listen = await center.start_spy(BOSS, "c0001", SpyMode.BARGE, "0299990000")
    assert (
        rig.ami.named("Originate")[-1]["Channel"] == "PJSIP/outside/sip:0299990000@127.0.0.1:5092"
    )
    assert listen.device == "0299990000"


async def test_citizen_hangup_hangs_up_everyone_else(rig: Rig) -> None:
    await _talking_call(rig)
    await rig.center.add_interpreter(ME, "u-1", "en")
    await eventually(lambda: bool(rig.ami.named("Originate")), "the interpreter dialed")
    interp = rig.ami.named("Originate")[0]["ChannelId"]
    await eventually(
        lambda: any(
            p.kind is PartyKind.INTERPRETER and p.state is PartyState.CONNECTED
            for p in rig.center.core.book.get("u-1").parties.values()
        ),
        "the interpreter joined",
    )
    rig.ami.emit(event("Hangup", Uniqueid="u-1", Channel=CITIZEN))
    await eventually(
        lambda: {interp, "u-1-leg"} <= {h["Channel"] for h in rig.ami.named("Hangup")}, "teardown"
    )


async def _take(events: Any, count: int, kind: type) -> AsyncIterator[Any]:
    got = 0
    async for item in events:
        if isinstance(item, kind):
            yield item
            got += 1
            if got == count:
                return


async def test_timeline_samples_the_states(rig: Rig) -> None:
    await _talking_call(rig)
    point = rig.center.sample()
    assert (point.waiting, point.talking, point.ready) == (0, 1, 1)
    assert point in await rig.center.timeline(60)


async def test_attended_transfer_to_a_consultant_hands_the_call_over(rig: Rig) -> None:
    await _talking_call(rig)
    await rig.center.log_in(BOSS, "c0470")
    await rig.center.set_ready(BOSS, "c0470")
    target = TransferTarget(TargetKind.CONSULTANT, "c0470")
    await rig.center.transfer(ME, "u-1", target, TransferMode.ATTENDED)
    view = await rig.center.consultant("c0470")
    assert (view.state, view.call_id) == (ConsultantState.RINGING, "u-1")  # reserved for it
    assert rig.driver.state.consultant_state("c0470").value == "not_ready"  # not routable
    leg = "PJSIP/c0470-00000007"
    rig.ami.names[leg] = "b-leg"
    rig.ami.emit(
        event("DialBegin", Uniqueid="u-1-leg", Channel=AGENT, DestUniqueid="b-leg", DestChannel=leg)
    )
    rig.ami.emit(
        event(
            "DialEnd",
            Uniqueid="u-1-leg",
            Channel=AGENT,
            DestUniqueid="b-leg",
            DestChannel=leg,
            DialStatus="ANSWER",
        )
    )
    await eventually(lambda: rig.center.core.book.get("u-1").consult.answered, "B answered")  # type: ignore[union-attr]
    assert (await rig.center.consultant("c0470")).state is ConsultantState.TALKING
    summary = await rig.center.complete_transfer(ME, "u-1")
    assert (summary.state, summary.consultant_id) == (CallState.TALKING, "c0470")
    assert [p.kind for p in summary.parties] == [PartyKind.CITIZEN, PartyKind.CONSULTANT]
    assert (await rig.center.consultant("c0001")).state is ConsultantState.WRAP_UP
    await eventually(lambda: ("u-1", "c0470") in rig.calls.joined, "the call log names B")
    # B hangs up: the FastAGI session's Dial returns and it reports the end; B is free again.
    rig.driver.feed(CallEnded("u-1"))
    assert rig.center.core.book.get("u-1").state is CallState.ENDED
    await eventually(lambda: rig.driver.state.consultant_state("c0470").value == "ready", "B ready")
    assert (await rig.center.consultant("c0470")).state is ConsultantState.READY


async def test_a_required_note_holds_wrap_up_against_the_timer_and_a_break() -> None:
    """With ``require_note`` (the ACD's wrap_up_needs_release and the center's gate), neither
    the wrap-up time passing nor choosing a break ends wrap-up while the note is missing."""
    driver = AcdDriver(AcdSettings(logged_in=("c0001",), wrap_up_needs_release=True), None)
    driver.log_in_roster()
    missing: list[str] = ["the note of call u-1 is missing"]

    async def gate(consultant_id: str) -> str | None:
        return missing[0] if missing else None

    config = CenterConfig(
        zone=ZoneInfo("Asia/Seoul"),
        default_language="ko",
        outside_dial="PJSIP/outside/sip:{number}@127.0.0.1:5092",
        ring_s=15.0,
        endpoints=frozenset({"c0001"}),
        sample_every_s=3600.0,
    )
    ami, calls = FakeAmi(), FakeCallLog()
    center = LiveCenter(
        driver=driver,
        ami=ami,  # type: ignore[arg-type]
        calls=calls,
        config=config,
        clock=lambda: T0,
        wrap_up_gate=gate,
    )
    center.attach()
    task = asyncio.create_task(center.run())
    try:
        await eventually(lambda: ami._fanout.subscriber_count > 0, "the center reads AMI")
        rig = Rig(center, driver, ami, calls)
        await _talking_call(rig)
        driver.feed(CallEnded("u-1"))
        assert (await center.consultant("c0001")).state is ConsultantState.WRAP_UP
        assert driver.state.next_timer() is None  # no timer could end it
        view = await center.set_not_ready(ME, "c0001", NotReadyReason.MEAL)
        assert view.state is ConsultantState.WRAP_UP
        with pytest.raises(InvalidState, match="note"):
            await center.finish_wrap_up(ME, "c0001")
        missing.clear()  # the consultant wrote the note
        view = await center.finish_wrap_up(ME, "c0001")
        assert (view.state, view.reason) == (ConsultantState.NOT_READY, NotReadyReason.MEAL)
    finally:
        task.cancel()
        await asyncio.wait([task])
        driver.close()


async def test_a_supervisor_may_end_a_wrap_up_held_for_a_missing_note(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The consultant may not end wrap-up without the note; a supervisor may, and the log
    says whose wrap-up ended without its note and who ended it."""
    driver = AcdDriver(AcdSettings(logged_in=("c0001",), wrap_up_needs_release=True), None)
    driver.log_in_roster()

    async def gate(consultant_id: str) -> str | None:
        return "write the disposition and note of call u-1 before ending wrap-up"

    config = CenterConfig(
        zone=ZoneInfo("Asia/Seoul"),
        default_language="ko",
        outside_dial="PJSIP/outside/sip:{number}@127.0.0.1:5092",
        ring_s=15.0,
        endpoints=frozenset({"c0001"}),
        sample_every_s=3600.0,
    )
    ami, calls = FakeAmi(), FakeCallLog()
    center = LiveCenter(
        driver=driver,
        ami=ami,  # type: ignore[arg-type]
        calls=calls,
        config=config,
        clock=lambda: T0,
        wrap_up_gate=gate,
    )
    center.attach()
    task = asyncio.create_task(center.run())
    try:
        await eventually(lambda: ami._fanout.subscriber_count > 0, "the center reads AMI")
        await _talking_call(Rig(center, driver, ami, calls))
        driver.feed(CallEnded("u-1"))
        assert (await center.consultant("c0001")).state is ConsultantState.WRAP_UP
        with pytest.raises(InvalidState, match="note"):
            await center.finish_wrap_up(ME, "c0001")
        with caplog.at_level("WARNING", logger="dasan.cti.center"):
            view = await center.finish_wrap_up(BOSS, "c0001")
        assert view.state is ConsultantState.READY
        assert any(
            "c0001" in r.getMessage()
            and "supervisor" in r.getMessage()
            and "note" in r.getMessage()
            for r in caplog.records
        )
    finally:
        task.cancel()
        await asyncio.wait([task])
        driver.close()
