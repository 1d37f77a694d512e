"""An interpreter joins a citizen-consultant call through the real PBX, then leaves.

The interpreter pool is routed by the ACD (skill ``interp_en``); the interpreter is originated
with BridgeAdd into the citizen's bridge, so all three are in one bridge; dropping them
leaves citizen and consultant talking; the citizen's recording stays one file throughout.
Before that, the Korean Sign Language interpreter is asked for and refused: a voice call.
"""

from __future__ import annotations

from tests.integration.cti.helpers import (
    Rig,
    bridge_members,
    call_until,
    consultant_until,
    kinds,
    wait_members,
)


async def test_interpreter_added_then_dropped(rig: Rig) -> None:
    citizen = rig.call("interpreted")
    call = await rig.answered(set())
    consultant = await rig.user(call.consultant_id)
    # A voice call has no picture: the sign-language interpreter is refused, nothing changes.
    status, refused = await consultant.request(
        "POST", f"/api/calls/{call.call_id}/interpreter", {"language": "sign"}
    )
    assert (status, refused["error"]["code"]) == (409, "video_call_required"), refused
    assert "voice call" in refused["error"]["message"], refused
    unchanged = await consultant.ok("GET", f"/api/calls/{call.call_id}")
    assert kinds(unchanged["call"]) == ["citizen", "consultant"], unchanged
    assert unchanged["video"] is False  # the desktop does not offer it either
    party = await consultant.ok(
        "POST", f"/api/calls/{call.call_id}/interpreter", {"language": "en"}
    )
    assert party["kind"] == "interpreter" and party["language"] == "en"
    interpreter = party["address"]

    summary = await call_until(
        consultant,
        call.call_id,
        lambda c: kinds(c) == ["citizen", "consultant", "interpreter"],
        "three connected parties",
    )
    assert summary["state"] == "talking"
    members = await wait_members(
        rig.ami, call.citizen_channel, lambda m: len(m) == 3, "three channels in one bridge"
    )
    assert call.citizen_channel in members and call.consultant_channel in members
    assert any(m.startswith(f"PJSIP/{interpreter}-") for m in members), members
    view = await consultant_until(
        rig.supervisor, interpreter, lambda v: v["state"] == "talking", "the interpreter talking"
    )
    assert view["call_id"] == call.call_id  # the interpreter's desktop shows the citizen's call

    summary = await consultant.ok(
        "DELETE", f"/api/calls/{call.call_id}/parties/{party['party_id']}"
    )
    assert kinds(summary) == ["citizen", "consultant"]
    pair = sorted([call.citizen_channel, call.consultant_channel])
    assert await bridge_members(rig.ami, call.citizen_channel) == pair
    await consultant_until(
        rig.supervisor, interpreter, lambda v: v["state"] == "wrap_up", "the interpreter's wrap-up"
    )
    view = await rig.supervisor.ok("GET", f"/api/consultants/{call.consultant_id}")
    assert view["state"] == "talking" and view["call_id"] == call.call_id

    await consultant.ok("POST", f"/api/calls/{call.call_id}/hangup")
    assert (await citizen).ok
    await rig.assert_recorded_once(call.call_id)
