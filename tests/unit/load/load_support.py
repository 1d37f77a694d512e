"""Builders of AMI events and runs for the load harness's unit tests (no network, no PBX)."""

from __future__ import annotations

from cti.ami.messages import AmiEvent, Headers


def event(name: str, ts: float, **headers: str) -> AmiEvent:
    items = [("Event", name), ("Timestamp", f"{ts:.6f}")]
    items += [(key, value) for key, value in headers.items()]
    return AmiEvent(name, Headers(items))


def citizen_events(
    uid: str,
    t0: float,
    *,
    caller: str = "010700000001",
    service: str = "120",
    moh_at: float | None = None,
    dial_at: float | None = None,
    answer_at: float | None = None,
    citizen_bye_at: float | None = None,
    end_at: float,
) -> list[AmiEvent]:
    """One citizen channel's life as Asterisk 22 reports it (the fields the tracker reads)."""
    chan = f"PJSIP/citizens-{uid[-8:]:0>8}"
    base = {"Channel": chan, "Uniqueid": uid, "Exten": service, "Context": "from-citizens"}
    out = [event("Newchannel", t0, CallerIDNum=caller, **base)]
    if moh_at is not None:
        out.append(event("MusicOnHoldStart", moh_at, Class="default", **base))
    if dial_at is not None:
        out.append(event("DialBegin", dial_at, DestChannel="PJSIP/c0042-0000abcd", **base))
    if answer_at is not None:
        out.append(
            event(
                "DialEnd",
                answer_at,
                DialStatus="ANSWER",
                DestChannel="PJSIP/c0042-0000abcd",
                **base,
            )
        )
    if citizen_bye_at is not None:
        out.append(event("HangupRequest", citizen_bye_at, **base))
    else:
        out.append(event("SoftHangupRequest", end_at, Cause="16", **base))
    out.append(event("Hangup", end_at, Cause="16", **base))
    return out
