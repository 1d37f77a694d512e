"""Builders of realistic AMI events (Asterisk 22 header sets) for live-state tests."""

from __future__ import annotations

from cti.ami.messages import AmiEvent, Headers


def ev(name: str, *headers: tuple[str, str]) -> AmiEvent:
    return AmiEvent(name=name, headers=Headers([("Event", name), *headers]))


def snap(
    uid: str,
    chan: str,
    *,
    state: str = "Up",
    linkedid: str | None = None,
    prefix: str = "",
    num: str = "",
    lang: str = "ko",
) -> list[tuple[str, str]]:
    """Channel snapshot headers as Asterisk sends them (``prefix`` = "Dest" for dials)."""
    return [
        (prefix + "Channel", chan), (prefix + "ChannelState", "6"),
        (prefix + "ChannelStateDesc", state), (prefix + "CallerIDNum", num or "<unknown>"),
        (prefix + "CallerIDName", "<unknown>"), (prefix + "ConnectedLineNum", "<unknown>"),
        (prefix + "ConnectedLineName", "<unknown>"), (prefix + "Language", lang),
        (prefix + "AccountCode", ""), (prefix + "Context", "citizen"),
        (prefix + "Exten", "120"), (prefix + "Priority", "1"),
        (prefix + "Uniqueid", uid), (prefix + "Linkedid", linkedid or uid),
    ]  # fmt: skip


def bridge(bid: str, count: int = 0, prefix: str = "") -> list[tuple[str, str]]:
    return [
        (prefix + "BridgeUniqueid", bid), (prefix + "BridgeType", "basic"),
        (prefix + "BridgeTechnology", "simple_bridge"), (prefix + "BridgeCreator", "<unknown>"),
        (prefix + "BridgeName", "<unknown>"), (prefix + "BridgeNumChannels", str(count)),
        (prefix + "BridgeVideoSourceMode", "none"),
    ]  # fmt: skip


def call_events(n: int) -> list[AmiEvent]:
    """One whole citizen -> consultant call: dial, answer, bridge, hang up."""
    a, b, bid = f"1795046400.{2 * n}", f"1795046400.{2 * n + 1}", f"bridge-{n}"
    ca, cb = f"PJSIP/citizen-{n:08x}", f"PJSIP/c{n % 471 + 1:04d}-{n:08x}"
    return [
        ev("Newchannel", *snap(a, ca, state="Ring", num="0101234")),
        ev("Newstate", *snap(a, ca, num="0101234")),
        ev("MixMonitorStart", *snap(a, ca)),
        ev("Newchannel", *snap(b, cb, state="Down", linkedid=a)),
        ev("DialBegin", *snap(a, ca), *snap(b, cb, state="Down", linkedid=a, prefix="Dest"),
           ("DialString", cb[6:11])),
        ev("DialState", *snap(a, ca), *snap(b, cb, state="Ringing", linkedid=a, prefix="Dest"),
           ("DialStatus", "RINGING")),
        ev("DialEnd", *snap(a, ca), *snap(b, cb, linkedid=a, prefix="Dest"),
           ("DialStatus", "ANSWER")),
        ev("BridgeCreate", *bridge(bid)),
        ev("BridgeEnter", *bridge(bid, 1), *snap(b, cb, linkedid=a)),
        ev("BridgeEnter", *bridge(bid, 2), *snap(a, ca)),
        ev("BridgeLeave", *bridge(bid, 1), *snap(a, ca)),
        ev("BridgeLeave", *bridge(bid, 0), *snap(b, cb, linkedid=a)),
        ev("BridgeDestroy", *bridge(bid)),
        ev("Hangup", *snap(b, cb, linkedid=a), ("Cause", "16"), ("Cause-txt", "Normal Clearing")),
        ev("Hangup", *snap(a, ca), ("Cause", "16"), ("Cause-txt", "Normal Clearing")),
    ]  # fmt: skip
