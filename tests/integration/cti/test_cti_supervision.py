"""Supervisor listen and whisper through the real PBX (ChanSpy on the consultant's leg).

The supervisor's phone is a PJSIP endpoint (c0470) for listening and an outside number for
whispering; neither joins the citizen's bridge, and both sessions end without a channel left.
"""

from __future__ import annotations

from tests.integration.cti.helpers import Rig, bridge_members, wait_for
from tests.integration.support import active_channels


async def test_supervisor_listens_then_whispers(rig: Rig) -> None:
    citizen = rig.call("supervised")
    call = await rig.answered(set())
    pair = sorted([call.citizen_channel, call.consultant_channel])
    assert await bridge_members(rig.ami, call.citizen_channel) == pair

    # Listen from a consultant-type endpoint used as the supervisor's desk phone.
    listen = await rig.supervisor.ok(
        "POST", f"/api/consultants/{call.consultant_id}/spy", {"mode": "listen", "device": "c0470"}
    )
    assert listen["mode"] == "listen" and listen["device"] == "c0470"
    started = await rig.recorder.wait_event("ChanSpyStart", SpyeeChannel=call.consultant_channel)
    assert started.get("SpyerChannel").startswith("PJSIP/c0470-")
    # Listening never joins the bridge: citizen and consultant stay alone in it.
    assert await bridge_members(rig.ami, call.citizen_channel) == pair
    await rig.supervisor.ok("DELETE", f"/api/spy/{listen['spy_id']}")
    await rig.recorder.wait_event("ChanSpyStop", SpyerChannel=started.get("SpyerChannel"))
    await rig.recorder.wait_event("Hangup", Uniqueid=listen["spy_id"])

    # Whisper from the supervisor's mobile (an outside number).
    whisper = await rig.supervisor.ok(
        "POST",
        f"/api/consultants/{call.consultant_id}/spy",
        {"mode": "whisper", "device": "0299990000"},
    )
    spoke = await wait_for(
        lambda: _spy_started(rig, call.consultant_channel, exclude=started.get("SpyerChannel")),
        bool,
        "the whisper to start",
    )
    spyer = spoke[0]
    assert spyer.startswith("PJSIP/outside-")
    channels = {c.get("Channel"): c for c in await active_channels(rig.ami)}
    assert channels[spyer].get("Application") == "ChanSpy"
    assert channels[spyer].get("ApplicationData").endswith(",qw")  # w: whisper
    assert await bridge_members(rig.ami, call.citizen_channel) == pair
    await rig.supervisor.ok("DELETE", f"/api/spy/{whisper['spy_id']}")
    await rig.recorder.wait_event("ChanSpyStop", SpyerChannel=spyer)
    assert not rig.recorder.where("BridgeEnter", Channel=spyer)

    consultant = await rig.user(call.consultant_id)
    await consultant.ok("POST", f"/api/calls/{call.call_id}/hangup")
    assert (await citizen).ok
    await rig.assert_recorded_once(call.call_id)


async def _spy_started(rig: Rig, spyee: str, exclude: str) -> list[str]:
    return [
        e.get("SpyerChannel")
        for e in rig.recorder.where("ChanSpyStart", SpyeeChannel=spyee)
        if e.get("SpyerChannel") != exclude
    ]
