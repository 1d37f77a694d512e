"""The fake center keeps the rules the web edge relies on (it stands in for the real one)."""

from __future__ import annotations

import pytest

from cti.control import (
    CallChanged,
    CallState,
    ConsultantChanged,
    ConsultantState,
    ContactCenter,
    EventHub,
    InvalidState,
    NoInterpreterAvailable,
    NotFound,
    NotReadyReason,
    PartyKind,
    QueueChanged,
    Resync,
    TargetKind,
    TransferMode,
    TransferTarget,
)
from cti.fake_center import FakeCenter

from .conftest import ManualClock, new_center
from .scenes import SYSTEM, all_ready, answered_call


@pytest.fixture
async def center(clock: ManualClock) -> FakeCenter:
    fake = new_center(clock)
    await all_ready(fake)
    return fake


def test_satisfies_the_protocol(clock: ManualClock) -> None:
    center: ContactCenter = new_center(clock)
    assert center is not None


async def test_state_rules(center: FakeCenter, clock: ManualClock) -> None:
    with pytest.raises(InvalidState):
        await center.log_in(SYSTEM, "c0001")
    with pytest.raises(NotFound):
        await center.set_ready(SYSTEM, "c9999")
    call_id = answered_call(center, clock, "c0001")
    for action in (center.set_ready, center.log_out, center.finish_wrap_up):
        with pytest.raises(InvalidState):
            await action(SYSTEM, "c0001")
    with pytest.raises(InvalidState):
        await center.set_not_ready(SYSTEM, "c0001", NotReadyReason.BREAK)
    center.citizen_hangs_up(call_id)
    assert (await center.consultant("c0001")).state is ConsultantState.WRAP_UP
    assert (await center.finish_wrap_up(SYSTEM, "c0001")).state is ConsultantState.READY


async def test_blind_transfers(center: FakeCenter, clock: ManualClock) -> None:
    to_person = answered_call(center, clock, "c0001")
    target = TransferTarget(TargetKind.CONSULTANT, "c0003")
    moved = await center.transfer(SYSTEM, to_person, target, TransferMode.BLIND)
    assert (moved.state, moved.consultant_id) == (CallState.RINGING, "c0003")
    assert (await center.consultant("c0001")).state is ConsultantState.WRAP_UP
    to_queue = answered_call(center, clock, "c0002")
    queued = await center.transfer(
        SYSTEM, to_queue, TransferTarget(TargetKind.QUEUE, "foreign-vi"), TransferMode.BLIND
    )
    assert (queued.state, queued.queue_id, queued.consultant_id) == (
        CallState.WAITING,
        "foreign-vi",
        None,
    )
    assert [w.call_id for w in await center.waiting_calls("foreign-vi")] == [to_queue]
    await center.finish_wrap_up(SYSTEM, "c0002")
    out = answered_call(center, clock, "c0002")
    gone = await center.transfer(
        SYSTEM, out, TransferTarget(TargetKind.EXTERNAL, "0221336000"), TransferMode.BLIND
    )
    assert gone.state is CallState.ENDED
    with pytest.raises(InvalidState):
        await center.transfer(SYSTEM, out, target, TransferMode.BLIND)


async def test_attended_transfer_complete_and_cancel(
    center: FakeCenter, clock: ManualClock
) -> None:
    call_id = answered_call(center, clock, "c0001")
    target = TransferTarget(TargetKind.CONSULTANT, "c0003")
    with pytest.raises(InvalidState, match="queue"):
        await center.transfer(
            SYSTEM, call_id, TransferTarget(TargetKind.QUEUE, "general"), TransferMode.ATTENDED
        )
    consulting = await center.transfer(SYSTEM, call_id, target, TransferMode.ATTENDED)
    assert consulting.state is CallState.CONSULTING
    assert [p.kind for p in consulting.parties] == [
        PartyKind.CITIZEN,
        PartyKind.CONSULTANT,
        PartyKind.TRANSFER_TARGET,
    ]
    back = await center.cancel_transfer(SYSTEM, call_id)
    assert back.state is CallState.TALKING
    assert (await center.consultant("c0003")).state is ConsultantState.READY
    await center.transfer(SYSTEM, call_id, target, TransferMode.ATTENDED)
    done = await center.complete_transfer(SYSTEM, call_id)
    assert (done.state, done.consultant_id) == (CallState.TALKING, "c0003")
    assert [p.kind for p in done.parties] == [PartyKind.CITIZEN, PartyKind.CONSULTANT]
    assert (await center.consultant("c0001")).state is ConsultantState.WRAP_UP
    assert (await center.consultant("c0003")).call_id == call_id


async def test_interpreter_pool_and_three_parties(center: FakeCenter, clock: ManualClock) -> None:
    first = answered_call(center, clock, "c0001", language="vi")
    second = answered_call(center, clock, "c0002", language="vi")
    party = await center.add_interpreter(SYSTEM, first, "vi")
    details = await center.call(first)
    assert [p.kind for p in details.call.parties] == [
        PartyKind.CITIZEN,
        PartyKind.CONSULTANT,
        PartyKind.INTERPRETER,
    ]
    with pytest.raises(NoInterpreterAvailable) as caught:
        await center.add_interpreter(SYSTEM, second, "vi")
    assert caught.value.language == "vi"
    with pytest.raises(InvalidState, match="already"):
        await center.add_interpreter(SYSTEM, first, "en")
    after = await center.drop_party(SYSTEM, first, party.party_id)
    assert after.state is CallState.TALKING
    assert len(after.parties) == 2
    assert (await center.add_interpreter(SYSTEM, second, "vi")).kind is PartyKind.INTERPRETER
    citizen = after.parties[0]
    with pytest.raises(InvalidState, match="hang up"):
        await center.drop_party(SYSTEM, first, citizen.party_id)
    outside = await center.add_third_party(SYSTEM, first, "0221336000")
    assert outside.kind is PartyKind.THIRD_PARTY


async def test_queue_figures_and_history(center: FakeCenter, clock: ManualClock) -> None:
    first = answered_call(center, clock, "c0001", number="0105555")  # waited 5 s: within target
    clock.advance(60)
    center.citizen_hangs_up(first)
    late = center.arrive("0105555", "ko", "general")
    clock.advance(30)
    center.offer(late, "c0002")
    center.answer(late)
    gave_up = center.arrive("0106666", "ko", "general")
    clock.advance(12)
    stats = {q.queue_id: q for q in await center.queues()}["general"]
    assert (stats.waiting, stats.longest_wait_s) == (1, 12.0)
    center.citizen_hangs_up(gave_up)
    stats = {q.queue_id: q for q in await center.queues()}["general"]
    assert (stats.answered, stats.abandoned, stats.waiting) == (2, 1, 0)
    assert stats.service_level == pytest.approx(1 / 3)
    center.citizen_hangs_up(late)
    details = await center.call(late)
    assert [(e.call_id, e.duration_s) for e in details.earlier_calls] == [(first, 60.0)]
    assert details.call.state is CallState.ENDED
    figures = (await center.consultant_stats("c0002"))[0]
    assert figures.answered == 1
    assert figures.talk_s > 0


async def test_events_carry_whole_views(center: FakeCenter, clock: ManualClock) -> None:
    async with center.subscribe() as events:
        answered_call(center, clock, "c0001")
        kinds = []
        for _ in range(7):
            kinds.append(type(await anext(events)))
    assert {ConsultantChanged, CallChanged, QueueChanged} <= set(kinds)
    assert center.hub.subscriber_count == 0


async def test_hub_replaces_a_backlog_with_resync() -> None:
    hub = EventHub(maxsize=3)
    subscription = hub.subscribe()
    for n in range(5):
        hub.publish(Resync(f"r{n}"))
    got = [await anext(subscription) for _ in range(2)]
    assert got == [Resync("subscriber fell behind"), Resync("r4")]
    await subscription.aclose()
    with pytest.raises(StopAsyncIteration):
        await anext(subscription)
