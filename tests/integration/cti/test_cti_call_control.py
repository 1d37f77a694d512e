"""Hold, an outside third party, and an attended transfer through the real PBX.

Hold puts music on hold into the citizen's bridge and takes the consultant out; the
consultant then brings an outside number in (the reverse interpretation case), consults an
outside department, cancels, consults again and completes: the citizen ends up with the
department, the consultant wraps up, and the recording is one file for the whole call.
"""

from __future__ import annotations

from tests.integration.cti.helpers import (
    HttpUser,
    Rig,
    bridge_members,
    call_until,
    kinds,
    wait_members,
)


async def _hold_and_unhold(
    rig: Rig, user: HttpUser, call_id: str, citizen: str, agent: str
) -> None:
    held = await user.ok("POST", f"/api/calls/{call_id}/hold")
    assert held["state"] == "held"
    members = await bridge_members(rig.ami, citizen)
    assert agent not in members and len(members) == 2, members  # citizen + music
    music = next(m for m in members if m != citizen)
    assert music.startswith("Local/s@dasan-cti-moh-")
    await rig.recorder.wait_event("MusicOnHoldStart", Channel=music.replace(";1", ";2"))
    talking = await user.ok("POST", f"/api/calls/{call_id}/unhold")
    assert talking["state"] == "talking"
    pair = sorted([citizen, agent])
    await wait_members(rig.ami, citizen, lambda m: m == pair, "the consultant back, music gone")


async def _third_party(rig: Rig, user: HttpUser, call_id: str, citizen: str) -> None:
    party = await user.ok("POST", f"/api/calls/{call_id}/third-party", {"number": "0221338000"})
    summary = await call_until(
        user, call_id, lambda c: "third_party" in kinds(c), "the outside party to join"
    )
    assert kinds(summary) == ["citizen", "consultant", "third_party"]
    members = await wait_members(rig.ami, citizen, lambda m: len(m) == 3, "three in the bridge")
    assert any(m.startswith("PJSIP/outside-") for m in members)
    summary = await user.ok("DELETE", f"/api/calls/{call_id}/parties/{party['party_id']}")
    assert kinds(summary) == ["citizen", "consultant"]


async def _consult(user: HttpUser, call_id: str, number: str) -> None:
    body = {"target": {"kind": "external", "value": number}, "mode": "attended"}
    consulting = await user.ok("POST", f"/api/calls/{call_id}/transfer", body)
    assert consulting["state"] == "consulting"
    await call_until(
        user, call_id, lambda c: "transfer_target" in kinds(c), "the consulted party to answer"
    )


async def test_hold_third_party_and_attended_transfer(rig: Rig) -> None:
    citizen = rig.call("controlled")
    call = await rig.answered(set())
    user = await rig.user(call.consultant_id)
    await _hold_and_unhold(rig, user, call.call_id, call.citizen_channel, call.consultant_channel)
    await _third_party(rig, user, call.call_id, call.citizen_channel)

    await _consult(user, call.call_id, "0221339001")
    members = await bridge_members(rig.ami, call.citizen_channel)
    assert call.consultant_channel not in members  # the citizen hears music meanwhile
    back = await user.ok("POST", f"/api/calls/{call.call_id}/transfer/cancel")
    assert back["state"] == "talking"
    pair = sorted([call.citizen_channel, call.consultant_channel])
    await wait_members(rig.ami, call.citizen_channel, lambda m: m == pair, "back together")

    await _consult(user, call.call_id, "0221339002")
    await user.ok("POST", f"/api/calls/{call.call_id}/transfer/complete")
    members = await wait_members(
        rig.ami,
        call.citizen_channel,
        lambda m: len(m) == 2 and any(x.startswith("PJSIP/outside-") for x in m),
        "the citizen with the department",
    )
    await rig.recorder.wait_event("Hangup", Channel=call.consultant_channel)
    view = await rig.supervisor.ok("GET", f"/api/consultants/{call.consultant_id}")
    assert view["state"] == "wrap_up"
    department = next(m for m in members if m != call.citizen_channel)
    await rig.ami.action("Hangup", Channel=department)
    assert (await citizen).ok
    await rig.assert_recorded_once(call.call_id)
