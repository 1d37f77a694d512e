"""The dialer works through the list only in open hours, paced by free consultants, and every
attempt ends in an outcome; the engine's dial goes through the real ACD driver's virtual hold."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from pathlib import Path

import pytest

from acd.commands import OfferCall
from acd.driver import AcdDriver
from acd.events import CallbackAnswered, CallbackFailed, ConsultantLoggedIn
from acd.settings import AcdSettings
from care.acd_dial import AcdCallbackDial, free_consultants
from care.callbacks import CallbackList
from care.dialer import CallbackDialer, DialOutcome, DialRequest, is_open, slots
from care.settings import CareSettings
from care.tickets import Tickets
from common.storage import Storage

from .conftest import Clock

SEOUL_0859 = dt.datetime(2026, 12, 1, 23, 59, tzinfo=dt.UTC)  # 08:59 in Seoul


class FakeDial:
    """Answers per number, in order (attempts run side by side: their order is not fixed)."""

    def __init__(self, answers: dict[str, list[bool]]) -> None:
        self.answers = answers
        self.dialed: list[DialRequest] = []

    async def dial(self, request: DialRequest) -> DialOutcome:
        self.dialed.append(request)
        answered = self.answers[request.number].pop(0)
        return DialOutcome(answered, "answered" if answered else "no answer", "c-1")


async def _settle(dialer: CallbackDialer) -> None:
    deadline = asyncio.get_running_loop().time() + 20.0
    while dialer.in_flight:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("attempts did not end")
        await asyncio.sleep(0.01)


def test_hours_and_slots_are_pure() -> None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Asia/Seoul")
    assert not is_open(SEOUL_0859, zone, dt.time(9), dt.time(18))
    assert is_open(SEOUL_0859 + dt.timedelta(minutes=1), zone, dt.time(9), dt.time(18))
    assert slots(free_consultants=5, in_flight=1, concurrency=2) == 1
    assert slots(free_consultants=0, in_flight=0, concurrency=2) == 0


async def test_after_hours_request_dialed_at_opening_retried_then_given_up(
    callbacks: CallbackList, tickets: Tickets, clock: Clock
) -> None:
    clock.now = SEOUL_0859
    await callbacks.add(source_key="a", number="0212345678", language="en", reason="after-hours")
    clock.advance(seconds=1)
    await callbacks.add(source_key="b", number="0298765432", language="ko", reason="after-hours")
    fake = FakeDial({"0212345678": [True], "0298765432": [False, False]})
    settings = CareSettings(callback_concurrency=2)
    free = [2]
    dialer = CallbackDialer(
        settings, callbacks, tickets, fake, free_consultants=lambda: free[0], clock=clock
    )
    assert await dialer.step() == []  # closed: nothing dialed, both still waiting
    clock.advance(seconds=59)
    free[0] = 0
    assert await dialer.step() == []  # open, but no consultant free
    free[0] = 2
    assert len(await dialer.step()) == 2
    await _settle(dialer)
    entries = {e.number_tail: e for e in await callbacks.entries()}
    assert entries["…78"].state == "answered" and entries["…78"].answered_call_id == "c-1"
    assert entries["…32"].state == "waiting" and entries["…32"].attempts == 1
    assert await dialer.step() == []  # the retry is not due yet
    clock.advance(seconds=300)
    assert len(await dialer.step()) == 1
    await _settle(dialer)
    gone = (await callbacks.entries(("given_up",)))[0]
    assert [a.outcome for a in gone.history] == ["no answer", "no answer"]


async def test_the_engine_dial_goes_through_the_acd_virtual_hold(storage: Storage) -> None:
    acd = AcdDriver(AcdSettings(logged_in=()), None)
    acd.feed(ConsultantLoggedIn("c0001", ready=True))
    assert free_consultants(acd)() == 1
    offers: list[OfferCall] = []

    def accepted(call_id: str, language: str) -> None:
        acd.handle_offers_for(call_id, offers.append)

    dial = AcdCallbackDial(acd, accepted, storage, wait_s=5, link_s=0.1)
    attempt = asyncio.create_task(
        dial.dial(DialRequest("cb-1", "0212345678", "ko", "callback", "orig-1"))
    )
    for _ in range(100):
        if offers:
            break
        await asyncio.sleep(0.01)
    (offer,) = offers
    assert (offer.consultant_id, offer.callback_number) == ("c0001", "0212345678")
    acd.feed(CallbackAnswered(offer.call_id))
    outcome = await attempt
    assert outcome.answered and outcome.outcome == "answered"

    offers.clear()
    second = asyncio.create_task(
        dial.dial(DialRequest("cb-2", "0298765432", "ko", "callback", None))
    )
    await asyncio.sleep(0)
    assert offers == []  # c0001 is busy with the first: paced by free consultants
    second.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await second


@pytest.mark.parametrize("wait_s", [0.3])
async def test_not_offered_in_time_leaves_the_core(storage: Storage, wait_s: float) -> None:
    acd = AcdDriver(AcdSettings(logged_in=()), None)
    dial = AcdCallbackDial(acd, lambda c, lang: None, storage, wait_s=wait_s)
    outcome = await dial.dial(DialRequest("cb-3", "0211112222", "ko", "callback", None))
    assert not outcome.answered and "no consultant free" in outcome.outcome
    assert acd.state.calls == {}


async def test_failed_originate_is_not_answered(storage: Storage, tmp_path: Path) -> None:
    acd = AcdDriver(AcdSettings(logged_in=()), None)
    acd.feed(ConsultantLoggedIn("c0001", ready=True))

    def accepted(call_id: str, language: str) -> None:
        acd.handle_offers_for(call_id, lambda offer: acd.feed(CallbackFailed(offer.call_id)))

    dial = AcdCallbackDial(acd, accepted, storage, wait_s=5)
    outcome = await dial.dial(DialRequest("cb-4", "0211112222", "ko", "callback", None))
    assert (outcome.answered, outcome.outcome) == (False, "not answered")
    assert free_consultants(acd)() == 1  # the consultant is released


async def test_call_backs_a_killed_engine_left_are_dialed_at_once_exactly_once(
    callbacks: CallbackList, tickets: Tickets, clock: Clock, tmp_path: Path
) -> None:
    """The restarted engine keeps them in requests.jsonl (reason engine-stopped), takes them
    in and steps the dialer at once while the dialer's own loop steps too: each is dialed
    once; reading the file again, or another step, dials nothing more."""
    clock.now = SEOUL_0859 + dt.timedelta(hours=1)  # open
    requests = tmp_path / "requests.jsonl"
    kept = [
        {"call_id": f"dasan-17.{n}", "kind": "callback", "number": number, "language": "",
         "requested_at": "2026-12-02T01:00:00+00:00", "reason": "engine-stopped"}
        for n, number in enumerate(("0212345678", "0298765432"))
    ]  # fmt: skip
    requests.write_text("".join(json.dumps(k) + "\n" for k in kept), encoding="utf-8")
    assert await callbacks.import_jsonl(requests) == (2, 0)
    fake = FakeDial({"0212345678": [True], "0298765432": [True]})
    off = CallbackDialer(
        CareSettings(callback_dialing=False), callbacks, tickets, fake,
        free_consultants=lambda: 3, clock=clock,
    )  # fmt: skip
    assert await off.step() == []  # dialing off: kept for the supervisors, never dialed
    dialer = CallbackDialer(
        CareSettings(callback_concurrency=2), callbacks, tickets, fake,
        free_consultants=lambda: 3, clock=clock,
    )  # fmt: skip
    started = await asyncio.gather(dialer.step(), dialer.step())
    assert sorted(started[0] + started[1]) == sorted(e.id for e in await callbacks.entries())
    await _settle(dialer)
    assert await callbacks.import_jsonl(requests) == (2, 0)  # the same lines: no new request
    assert await dialer.step() == []
    assert sorted(r.number for r in fake.dialed) == ["0212345678", "0298765432"]
    entries = await callbacks.entries()
    assert {e.call_id for e in entries} == {"dasan-17.0", "dasan-17.1"}
    assert {e.state for e in entries} == {"answered"}
