"""Blind transfers through the real PBX: to a service queue, to a named consultant and to an
outside number.

The three calls run at once. The consultant asks for the transfer over the API; their leg is hung
up, the citizen's FastAGI session carries the transfer out, the recording stays one file.
"""

from __future__ import annotations

import asyncio

from tests.integration.cti.helpers import (
    Answered,
    Rig,
    call_until,
    consultant_until,
    kinds,
    wait_for,
)


async def _to_queue(rig: Rig, first: Answered) -> None:
    recorder, supervisor = rig.recorder, rig.supervisor
    consultant = await rig.user(first.consultant_id)
    target = {"target": {"kind": "queue", "value": "transport"}, "mode": "blind"}
    await consultant.ok("POST", f"/api/calls/{first.call_id}/transfer", target)
    await recorder.wait_event("Hangup", Channel=first.consultant_channel)

    # The call waits in the transport queue and another consultant answers it.
    async def second_answer() -> list[str]:
        return [
            e.get("DestChannel")
            for e in recorder.where("DialEnd", DialStatus="ANSWER", Uniqueid=first.call_id)
            if e.get("DestChannel") != first.consultant_channel
        ]

    legs = await wait_for(second_answer, bool, "the transferred call to be answered", 40)
    second_id = legs[0].split("/")[1].split("-")[0]
    assert second_id != first.consultant_id
    call = await call_until(
        supervisor, first.call_id, lambda c: c["consultant_id"] == second_id, "the new consultant"
    )
    assert call["queue_id"] == "transport"
    assert call["state"] == "talking"
    assert kinds(call) == ["citizen", "consultant"]
    view = await supervisor.ok("GET", f"/api/consultants/{first.consultant_id}")
    assert view["state"] == "wrap_up"  # transport's wrap-up lasts 20 s
    second = await rig.user(second_id)
    await second.ok("POST", f"/api/calls/{first.call_id}/hangup")
    await rig.assert_recorded_once(first.call_id)


async def _to_number(rig: Rig, call: Answered) -> None:
    recorder, supervisor = rig.recorder, rig.supervisor
    consultant = await rig.user(call.consultant_id)
    target = {"target": {"kind": "external", "value": "0221336000"}, "mode": "blind"}
    await consultant.ok("POST", f"/api/calls/{call.call_id}/transfer", target)

    async def outside_answer() -> list[str]:
        return [
            e.get("DestChannel")
            for e in recorder.where("DialEnd", DialStatus="ANSWER", Uniqueid=call.call_id)
            if e.get("DestChannel").startswith("PJSIP/outside-")
        ]

    legs = await wait_for(outside_answer, bool, "the outside number to answer", 30)
    # It left the center: transferred out, and the consultant wraps up.
    await call_until(supervisor, call.call_id, lambda c: c["state"] == "ended", "the call to end")
    view = await supervisor.ok("GET", f"/api/consultants/{call.consultant_id}")
    assert view["state"] == "wrap_up"
    await rig.ami.action("Hangup", Channel=legs[0])  # the department hangs up
    await rig.assert_recorded_once(call.call_id)


async def _to_consultant(rig: Rig, call: Answered) -> None:
    # An English interpreter: never offered Korean calls by the ACD, so surely free here.
    target_id = "c0463"
    consultant = await rig.user(call.consultant_id)
    target = {"target": {"kind": "consultant", "value": target_id}, "mode": "blind"}
    await consultant.ok("POST", f"/api/calls/{call.call_id}/transfer", target)
    summary = await call_until(
        rig.supervisor,
        call.call_id,
        lambda c: c["consultant_id"] == target_id and c["state"] == "talking",
        "the named consultant to answer",
    )
    assert kinds(summary) == ["citizen", "consultant"]
    view = await rig.supervisor.ok("GET", f"/api/consultants/{target_id}")
    assert (view["state"], view["call_id"]) == ("talking", call.call_id)
    taker = await rig.user(target_id)
    await taker.ok("POST", f"/api/calls/{call.call_id}/hangup")
    await consultant_until(
        rig.supervisor, target_id, lambda v: v["state"] == "ready", "the target free again"
    )
    await rig.assert_recorded_once(call.call_id)


async def test_blind_transfers_to_a_queue_a_consultant_and_an_outside_number(rig: Rig) -> None:
    citizens = [rig.call(name) for name in ("to-queue", "to-consultant", "to-number")]
    taken: set[str] = set()
    calls = [await rig.answered(taken) for _ in citizens]
    await asyncio.gather(
        _to_queue(rig, calls[0]), _to_consultant(rig, calls[1]), _to_number(rig, calls[2])
    )
    results = await asyncio.gather(*citizens)
    assert all(r.ok for r in results), [r.errors for r in results]
