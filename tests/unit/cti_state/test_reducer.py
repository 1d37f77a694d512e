"""The pure live-state reducer fed recorded and generated AMI event sequences."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cti.ami.messages import AmiEvent, AmiResponse
from cti.ami.protocol import AmiProtocol
from cti.live.model import (
    BridgeChanged,
    BridgeDestroyed,
    ChannelChanged,
    ChannelHungUp,
    ChannelState,
    ContactState,
    DeviceState,
    DialChanged,
    DialStatus,
    EndpointChanged,
    LiveSnapshot,
    StateChange,
)
from cti.live.reducer import Reducer

from .events import bridge, call_events, ev, snap

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ami"
NOW = 1795046500.0


def recorded(name: str, *pending: str) -> list[AmiEvent | AmiResponse]:
    protocol = AmiProtocol()
    protocol.receive_data(b"Asterisk Call Manager/11.0.0\r\n")
    protocol.send_action("login-1", "Login")
    for action_id in pending:
        protocol.send_action(action_id, "X")
    data = (FIXTURES / name).read_bytes()
    if data.startswith(b"Asterisk Call Manager/"):
        data = data.split(b"\r\n", 1)[1]
    out = protocol.receive_data(data)
    return [m for m in out if isinstance(m, AmiEvent | AmiResponse)]


def run(
    events: list[AmiEvent], start: LiveSnapshot | None = None
) -> tuple[LiveSnapshot, list[StateChange]]:
    reducer = Reducer()
    snapshot = start or LiveSnapshot()
    changes: list[StateChange] = []
    for event in events:
        snapshot, step = reducer.apply(snapshot, event, NOW)
        changes.extend(step)
    return snapshot, changes


def test_recorded_call_lifecycle() -> None:
    events = [m for m in recorded("call_lifecycle.ami") if isinstance(m, AmiEvent)]
    reducer = Reducer()
    snapshot = LiveSnapshot()
    seen: dict[str, LiveSnapshot] = {}
    for event in events:
        snapshot, _ = reducer.apply(snapshot, event, NOW)
        seen.setdefault(event.name, snapshot)
        seen[event.name + "#last"] = snapshot
    citizen, consultant = "1795046401.0", "1795046401.1"
    first = seen["Newchannel"].channels[citizen]
    assert first.state is ChannelState.DOWN
    assert first.created_at == 1795046401.1  # Asterisk's Timestamp, not our clock
    assert first.caller_num == "01012345678" and first.caller_name == ""
    assert seen["VarSet"].channels[citizen].language == "ko"
    assert seen["MixMonitorStart"].channels[citizen].recording
    agi = seen["Newexten"].channels[citizen]
    assert (agi.app, agi.app_data) == ("AGI", "agi://127.0.0.1:4573/ivr")
    dial = seen["DialBegin"].dials[consultant]
    assert (dial.caller_uniqueid, dial.dial_string, dial.status) == (citizen, "c0001", None)
    answered = seen["DialEnd"].dials[consultant]
    assert answered.answered and answered.ended_at == 1795046412.0
    both = seen["BridgeEnter#last"]
    (bridged,) = both.bridges.values()
    assert bridged.members == (consultant, citizen)
    assert bridged.type == "basic" and bridged.technology == "simple_bridge"
    assert {both.channels[u].bridge_id for u in (citizen, consultant)} == {bridged.id}
    assert [c.uniqueid for c in both.call(citizen)] == [citizen, consultant]
    left = seen["BridgeLeave#last"]
    assert next(iter(left.bridges.values())).members == ()
    assert all(c.bridge_id is None for c in left.channels.values())
    assert seen["Hangup"].dials == {}
    assert snapshot.channels == {} and snapshot.bridges == {} and snapshot.dials == {}


def test_change_kinds_for_one_call() -> None:
    _, changes = run(call_events(0))
    kinds = {type(c) for c in changes}
    assert kinds == {ChannelChanged, DialChanged, BridgeChanged, BridgeDestroyed, ChannelHungUp}
    hungup = [c for c in changes if isinstance(c, ChannelHungUp)]
    assert [h.cause_txt for h in hungup] == ["Normal Clearing"] * 2
    dial_statuses = [c.dial.status for c in changes if isinstance(c, DialChanged)]
    assert dial_statuses == [None, DialStatus.RINGING, DialStatus.ANSWER]


def test_apply_is_pure_and_shares_untouched_maps() -> None:
    reducer = Reducer()
    base, _ = run(call_events(0)[:4])
    event = ev("Newstate", *snap("1795046400.1", "PJSIP/c0001-00000000", state="Ringing",
                                 linkedid="1795046400.0"))  # fmt: skip
    one, changes_one = reducer.apply(base, event, NOW)
    two, changes_two = reducer.apply(base, event, NOW)
    assert one == two and changes_one == changes_two  # no hidden clock or state
    assert changes_one[0].at == NOW  # no Timestamp header: the injected clock
    assert base.channels["1795046400.1"].state is ChannelState.DOWN  # base untouched
    assert one.bridges is base.bridges and one.dials is base.dials
    unmodelled, none = reducer.apply(base, ev("Cdr", ("Uniqueid", "x")), NOW)
    assert unmodelled is base and none == ()
    same, nothing = reducer.apply(one, event, NOW)
    assert same.channels == one.channels and nothing == ()


def test_unknown_channel_is_created_and_unknown_hangup_ignored() -> None:
    snapshot, _ = run([ev("Newstate", *snap("9.9", "PJSIP/x-1", state="Ringing"))])
    assert snapshot.channels["9.9"].created_at == NOW
    assert snapshot.channels["9.9"].state is ChannelState.RINGING
    again, none = run([ev("Hangup", *snap("8.8", "PJSIP/y-1"))], snapshot)
    assert again is snapshot and none == []


def test_originate_dial_without_caller_and_merge() -> None:
    snapshot, _ = run([
        ev("DialBegin", *snap("5.1", "PJSIP/i0001-1", state="Down", prefix="Dest"),
           ("DialString", "i0001")),
        ev("BridgeCreate", *bridge("A")), ev("BridgeCreate", *bridge("B")),
        ev("BridgeEnter", *bridge("A", 1), *snap("5.2", "PJSIP/a-1")),
        ev("BridgeEnter", *bridge("B", 1), *snap("5.3", "PJSIP/b-1")),
        ev("BridgeMerge", *bridge("A", 2, prefix="To"), *bridge("B", 0, prefix="From")),
    ])  # fmt: skip
    assert snapshot.dials["5.1"].caller_uniqueid is None
    assert snapshot.bridges["A"].members == ("5.2", "5.3")
    assert snapshot.bridges["B"].members == ()
    assert snapshot.channels["5.3"].bridge_id == "A"


def test_entering_another_bridge_leaves_the_first() -> None:
    snapshot, _ = run([
        ev("BridgeEnter", *bridge("A", 1), *snap("1.1", "PJSIP/a-1")),
        ev("BridgeEnter", *bridge("C", 1), *snap("1.1", "PJSIP/a-1")),
        ev("BridgeDestroy", *bridge("C")),
    ])  # fmt: skip
    assert snapshot.bridges["A"].members == ()
    assert "C" not in snapshot.bridges
    assert snapshot.channels["1.1"].bridge_id is None


def test_resync_from_recorded_lists() -> None:
    messages = recorded("actions.ami", "csc-1", "bl-1")
    lists = {m.action_id: list(m.events) for m in messages if isinstance(m, AmiResponse)}
    previous, _ = run(call_events(7)[:5])  # stale state, including a dial
    snapshot = Reducer().resync(previous, [lists["bl-1"], lists["csc-1"]], NOW,
                                keep_endpoints=False)  # fmt: skip
    assert snapshot.synced
    assert set(snapshot.channels) == {"1795046500.4", "1795046500.5"}
    citizen = snapshot.channels["1795046500.4"]
    assert citizen.caller_name == "김민수" and citizen.created_at == NOW - 65
    assert (citizen.app, citizen.app_data) == ("AppDial2", "(Outgoing Line)")
    (only,) = snapshot.bridges.values()
    assert only.type == "basic"
    assert set(only.members) == {"1795046500.4", "1795046500.5"}
    assert snapshot.dials == {}  # the stale dial's channel is gone


def test_endpoints_from_recorded_events() -> None:
    events = [m for m in recorded("endpoints.ami") if isinstance(m, AmiEvent)]
    snapshot, changes = run(events)
    assert set(snapshot.endpoints) == {"c0001", "c0002"}  # Queue: device ignored
    c1, c2 = snapshot.endpoints["c0001"], snapshot.endpoints["c0002"]
    assert c1.reachable is True and c1.in_use and c1.device_state is DeviceState.INUSE
    assert c2.reachable is False and c2.peer_status == "Unreachable"
    assert c2.contacts == (("sip:c0002@127.0.0.1:5090", ContactState.UNREACHABLE),)
    assert all(isinstance(c, EndpointChanged) for c in changes)
    removed, _ = run(
        [
            ev(
                "ContactStatus",
                ("URI", "sip:c0002@127.0.0.1:5090"),
                ("ContactStatus", "Removed"),
                ("EndpointName", "c0002"),
            )
        ],
        snapshot,
    )
    assert removed.endpoints["c0002"].contacts == ()
    static, _ = run([ev("ContactList", ("Endpoint", "c0003"), ("Uri", "sip:c0003@h"),
                        ("Status", "NonQualified"))])  # fmt: skip
    assert static.endpoints["c0003"].reachable is None


def _interleavings() -> st.SearchStrategy[list[int]]:
    calls = 4
    per_call = len(call_events(0))
    return st.permutations([c for c in range(calls) for _ in range(per_call)])


@settings(max_examples=150, deadline=None)
@given(_interleavings(), st.integers(min_value=0, max_value=60))
def test_interleaved_calls_keep_invariants_and_end_empty(order: list[int], cut: int) -> None:
    streams = {c: iter(call_events(c)) for c in set(order)}
    events = [next(streams[c]) for c in order]
    reducer = Reducer()
    snapshot = LiveSnapshot()
    for step, event in enumerate(events):
        snapshot, _ = reducer.apply(snapshot, event, NOW)
        for bid, br in snapshot.bridges.items():
            assert all(snapshot.channels[m].bridge_id == bid for m in br.members)
        for ch in snapshot.channels.values():
            assert ch.bridge_id is None or ch.uniqueid in snapshot.bridges[ch.bridge_id].members
        assert all(d.dest_uniqueid in snapshot.channels for d in snapshot.dials.values())
        if step == cut:
            # replaying an already-applied suffix (what a resync does) converges too
            replayed = snapshot
            for again in events[max(0, cut - 5) : cut + 1]:
                replayed, _ = reducer.apply(replayed, again, NOW)
            assert replayed.channels.keys() == snapshot.channels.keys()
    assert snapshot.channels == {} and snapshot.bridges == {} and snapshot.dials == {}


def test_real_asterisk22_call_through_the_reducer() -> None:
    events = [m for m in recorded("asterisk22_fallback_call.ami") if isinstance(m, AmiEvent)]
    reducer = Reducer()
    snapshot = LiveSnapshot()
    peak_members = 0
    answered = False
    recording_seen = False
    for event in events:
        snapshot, changes = reducer.apply(snapshot, event, NOW)
        peak_members = max([peak_members, *(len(b.members) for b in snapshot.bridges.values())])
        answered |= any(isinstance(c, DialChanged) and c.dial.answered for c in changes)
        recording_seen |= any(c.recording for c in snapshot.channels.values())
    assert answered and recording_seen and peak_members == 2
    assert snapshot.channels == {} and snapshot.bridges == {} and snapshot.dials == {}
    assert snapshot.endpoints  # DeviceStateChange for PJSIP/cNNNN
