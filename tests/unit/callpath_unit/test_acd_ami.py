"""What AMI tells the ACD, built from the AMI link, the ACD driver and a hook (no engine):
an answer accepted once, answers that are not ours ignored, a consultant's own call making
them not ready and ready again, the AMI link dropping and coming back, the call log's write
failing, and the test-only crash hook. A real AmiClient against the fake AMI server; every
rig test runs twice: subscribed to the client, and to the live model's feed as the engine
wires it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from ami.fake_ami import FakeAmi

from acd.driver import AcdDriver
from acd.events import CallArrived, ConsultantLoggedIn
from acd.model import ConsultantState, Language, Priority
from callpath.acd_ami import OUTBOUND, AcdAmiBridge
from cti.ami import AmiClient
from recordings.calllog import CallLogError

from .support import acd_driver, ami_link, event_source, eventually


@dataclass
class Rig:
    fake: FakeAmi
    ami: AmiClient
    acd: AcdDriver
    joined: list[tuple[str, str]]
    fail_writes: list[bool]
    task: asyncio.Task[None]


@pytest.fixture(params=["ami", "live"])
async def rig(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    acd = acd_driver(tmp_path / "acd")
    joined: list[tuple[str, str]] = []
    fail_writes = [False]

    async def connected(call_id: str, consultant: str) -> None:
        if fail_writes[0]:
            raise CallLogError(f"call {call_id}: the database refused it (test)")
        joined.append((call_id, consultant))

    async with ami_link() as (fake, ami), event_source(request.param, ami) as events:
        bridge = AcdAmiBridge(events, acd, connected)
        task = asyncio.create_task(bridge.run())
        await asyncio.sleep(0)  # subscribed before any event is sent
        yield Rig(fake, ami, acd, joined, fail_writes, task)
        task.cancel()
        with pytest.raises((asyncio.CancelledError, CallLogError)):
            await task
    acd.close()


def offer(acd: AcdDriver, call_id: str = "1764355829.7", consultant: str = "c0001") -> None:
    """A waiting caller offered to a ready consultant (the ticket names whom it rings)."""
    acd.feed(ConsultantLoggedIn(consultant, ready=True))
    acd.open_ticket(call_id)
    acd.feed(CallArrived(call_id, Language("ko"), "general", Priority.NORMAL))
    assert acd.state.consultant_state(consultant) is ConsultantState.RINGING


def answer(fake: FakeAmi, call_id: str, dest: str) -> None:
    fake.event(
        "DialEnd",
        ("Channel", "PJSIP/citizens-00000001"),
        ("Uniqueid", call_id),
        ("DestChannel", dest),
        ("DestUniqueid", "1764355829.8"),
        ("DialStatus", "ANSWER"),
    )


async def test_an_answer_is_accepted_once_and_the_call_log_told(rig: Rig) -> None:
    offer(rig.acd)
    answer(rig.fake, "1764355829.7", "PJSIP/c0001-00000002")
    await eventually(lambda: rig.joined == [("1764355829.7", "c0001")], "answer accepted")
    assert rig.acd.state.consultant_state("c0001") is ConsultantState.TALKING
    assert rig.acd.ticket("1764355829.7").connected  # type: ignore[union-attr]
    answer(rig.fake, "1764355829.7", "PJSIP/c0001-00000002")  # repeated: never fed twice
    offer(rig.acd, "1764355829.9", "c0002")  # a later answer: everything before it was read
    answer(rig.fake, "1764355829.9", "PJSIP/c0002-00000005")
    await eventually(lambda: len(rig.joined) == 2, "the later answer")
    assert rig.joined == [("1764355829.7", "c0001"), ("1764355829.9", "c0002")]


async def test_the_consultant_leg_hanging_up_is_told_to_the_ticket(rig: Rig) -> None:
    """The caller's FastAGI side may never hear that the conversation ended (a dead link):
    AMI's Hangup of the consultant's leg is told to the call's ticket."""
    offer(rig.acd)
    ticket = rig.acd.ticket("1764355829.7")
    assert ticket is not None
    answer(rig.fake, "1764355829.7", "PJSIP/c0001-00000002")
    await eventually(lambda: ticket.connected, "answer accepted")
    rig.fake.event("Hangup", ("Channel", "PJSIP/citizens-00000003"), ("Uniqueid", "other.1"))
    rig.fake.event("Hangup", ("Channel", "PJSIP/c0001-00000002"), ("Uniqueid", "1764355829.8"))
    await eventually(ticket.consultant_left.is_set, "the consultant's hangup told")


async def test_answers_that_are_not_the_offer_are_ignored(rig: Rig) -> None:
    offer(rig.acd)
    answer(rig.fake, "1764355829.7", "PJSIP/c0002-00000002")  # not the consultant offered
    answer(rig.fake, "1764355829.7", "PJSIP/interpreter-00000003")  # nobody's phone
    answer(rig.fake, "unknown-call", "PJSIP/c0001-00000004")  # no ticket
    assert rig.acd.state.consultant_state("c0001") is ConsultantState.RINGING
    answer(rig.fake, "1764355829.7", "PJSIP/c0001-00000002")  # the offered one, read after
    await eventually(lambda: rig.joined != [], "the offered consultant's answer")
    assert rig.joined == [("1764355829.7", "c0001")]


async def test_a_consultants_own_call_makes_them_not_ready_while_it_lasts(rig: Rig) -> None:
    rig.acd.feed(ConsultantLoggedIn("c0003", ready=True))
    rig.fake.event(
        "Newchannel",
        ("Channel", "PJSIP/c0003-00000009"),
        ("Uniqueid", "own-1"),
        ("Context", "from-consultants"),
    )
    await eventually(
        lambda: rig.acd.state.consultant_state("c0003") is ConsultantState.NOT_READY, "outbound"
    )
    assert rig.acd.state.agents["c0003"].reason == OUTBOUND
    rig.fake.event("Hangup", ("Channel", "PJSIP/c0003-00000009"), ("Uniqueid", "own-1"))
    await eventually(
        lambda: rig.acd.state.consultant_state("c0003") is ConsultantState.READY, "ready again"
    )


async def test_a_consultant_busy_with_an_acd_call_is_left_alone(rig: Rig) -> None:
    offer(rig.acd)  # c0001 is ringing for a citizen
    rig.fake.event(
        "Newchannel",
        ("Channel", "PJSIP/c0001-00000010"),
        ("Uniqueid", "own-2"),
        ("Context", "from-consultants"),
    )
    answer(rig.fake, "1764355829.7", "PJSIP/c0001-00000002")
    await eventually(lambda: rig.joined != [], "the answer after the own call")
    assert rig.acd.state.consultant_state("c0001") is ConsultantState.TALKING


async def test_the_bridge_goes_on_after_the_ami_link_drops(rig: Rig) -> None:
    logins = rig.fake.logins
    rig.fake.drop_all()
    await eventually(lambda: rig.fake.logins > logins and rig.ami.connected, "reconnected")
    offer(rig.acd)
    answer(rig.fake, "1764355829.7", "PJSIP/c0001-00000002")
    await eventually(lambda: rig.joined == [("1764355829.7", "c0001")], "answer after reconnect")
    assert not rig.task.done()


async def test_a_failing_call_log_write_leaves_the_acd_right_and_reaches_the_supervisor(
    rig: Rig,
) -> None:
    rig.fail_writes[0] = True
    offer(rig.acd)
    answer(rig.fake, "1764355829.7", "PJSIP/c0001-00000002")
    await eventually(rig.task.done, "the bridge ends (its supervisor restarts it)")
    assert isinstance(rig.task.exception(), CallLogError)
    # The ACD took the answer before the write: the consultant talks, the offer is closed.
    assert rig.acd.state.consultant_state("c0001") is ConsultantState.TALKING
    assert rig.acd.ticket("1764355829.7").connected  # type: ignore[union-attr]


async def test_the_crash_hook_runs_before_each_event(tmp_path: Path) -> None:
    acd = acd_driver(tmp_path / "acd")

    def crash() -> None:
        raise RuntimeError("injected fault")

    async with ami_link() as (fake, ami):
        bridge = AcdAmiBridge(ami, acd, lambda _c, _p: asyncio.sleep(0), before_event=crash)
        task = asyncio.create_task(bridge.run())
        await asyncio.sleep(0)
        fake.event("Hangup", ("Channel", "PJSIP/x-1"), ("Uniqueid", "1"))
        with pytest.raises(RuntimeError, match="injected fault"):
            async with asyncio.timeout(5):
                await task
    acd.close()
