"""AMI event ingestion: fake busy PBX -> AmiClient -> LiveState reducer (issue 7, item 3).

A fake Asterisk in its own process (so its CPU is not ours) accepts Login and the resync
list actions, then floods events in the mix a busy Asterisk 22 sends for queue calls
(modelled on a recorded call: ~35 events per call, ~300 calls interleaved, each with a
``Timestamp`` header written at send time). Phases, each on a fresh connection:
  1. flood: as fast as the client takes it (TCP backpressure) for a fixed time; reported
     events/s applied by the reducer and the client process's CPU per event;
  2. paced: a steady rate (default 4,000 events/s: ~120 new calls/s, the most our PBX takes
     through the IVR on these machines, 100x the seed peak); reported lag from the server's
     Timestamp to the moment the change reaches a LiveState subscriber (p50/p99/max);
  3. client only, no reducer: our AmiClient with one counting subscriber, then panoramisk
     1.4's Manager with one counting callback, on the same flood (CPU per event).
Memory: the client process's RSS is sampled every 50 ms; growth = peak - baseline after
login and first resync (bounded: state holds only live calls, queues are bounded).
Output: benchmarks/results/ami_ingest.json. ``python -m benchmarks.ami_ingest``; ~35 s.

Invariants: the server process is always stopped; nothing is written outside results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psutil
from pydantic import SecretStr

from common.stats import percentiles, rounded
from cti.ami import AmiClient
from cti.live.model import StateChangesDropped, StateResynced, StateStale
from cti.live.service import LiveState
from cti.settings import AmiSettings

RESULTS = Path(__file__).resolve().parent / "results" / "ami_ingest.json"
SECRET = "bench"
CONCURRENT_CALLS = 300
_TS = b"\x00"  # placeholder replaced by the send time
_DONE = "BenchDone"  # the fake PBX's last event


# --- the fake busy PBX (server process) --------------------------------------------------
def _snap(uid: str, chan: str, state: str, *, ctx: str, num: str, linked: str, p: str = "") -> str:
    return (
        f"{p}Channel: {chan}\r\n{p}ChannelState: 6\r\n{p}ChannelStateDesc: {state}\r\n"
        f"{p}CallerIDNum: {num}\r\n{p}CallerIDName: Citizen\r\n{p}ConnectedLineNum: <unknown>\r\n"
        f"{p}ConnectedLineName: <unknown>\r\n{p}Language: ko\r\n{p}AccountCode: \r\n"
        f"{p}Context: {ctx}\r\n{p}Exten: 120\r\n{p}Priority: 5\r\n{p}Uniqueid: {uid}\r\n"
        f"{p}Linkedid: {linked}\r\n"
    )


def _call(n: int) -> list[bytes]:
    """One queue call's events in the order Asterisk 22 sent them for a recorded call."""
    c, d, br = f"dasan-1795898711.{2 * n}", f"dasan-1795898711.{2 * n + 1}", f"bench-bridge-{n}"
    agent = f"c{n % 471 + 1:04d}"
    cc, dc = f"PJSIP/citizens-{n:08x}", f"PJSIP/{agent}-{n:08x}"

    def cit(state: str = "Up") -> str:
        return _snap(c, cc, state, ctx="from-citizens", num="0102000", linked=c)

    def con(state: str = "Up", p: str = "") -> str:
        return _snap(d, dc, state, ctx="from-consultants", num=agent, linked=c, p=p)

    bridge = (f"BridgeUniqueid: {br}\r\nBridgeType: basic\r\nBridgeTechnology: simple_bridge\r\n"
              "BridgeCreator: <unknown>\r\nBridgeName: <unknown>\r\nBridgeNumChannels: 1\r\n"
              "BridgeVideoSourceMode: none\r\n")  # fmt: skip
    queue = "Queue: fallback-ko\r\nPosition: 1\r\nCount: 1\r\n"
    member = (
        f"Queue: fallback-ko\r\nMemberName: {agent}\r\nInterface: PJSIP/{agent}\r\nStatus: 1\r\n"
    )
    dev = f"Device: PJSIP/{agent}\r\nState: "
    body = [
        ("Newchannel", cit("Ring")), ("Newstate", cit()), ("MixMonitorStart", cit()),
        ("QueueCallerJoin", cit() + queue), ("MusicOnHoldStart", cit() + "Class: default\r\n"),
        ("DeviceStateChange", "Device: Queue:fallback-ko_avail\r\nState: INUSE\r\n"),
        ("Newchannel", con("Down")),
        ("DialBegin", cit() + con("Down", "Dest") + f"DialString: PJSIP/{agent}\r\n"),
        ("AgentCalled", cit() + con("Down", "Dest") + member),
        ("NewConnectedLine", con("Down")),
        ("DialState", cit() + con("Ringing", "Dest") + "DialStatus: RINGING\r\n"),
        ("DeviceStateChange", dev + "RINGING\r\n"), ("Newstate", con("Ringing")),
        ("Newstate", con()), ("DialEnd", cit() + con("Up", "Dest") + "DialStatus: ANSWER\r\n"),
        ("MusicOnHoldStop", cit()), ("QueueCallerLeave", cit() + queue),
        ("NewConnectedLine", cit()), ("BridgeCreate", bridge), ("BridgeEnter", bridge + con()),
        ("BridgeEnter", bridge + cit()), ("AgentConnect", cit() + con("Up", "Dest") + member),
        ("DeviceStateChange", dev + "INUSE\r\n"), ("QueueMemberStatus", member),
        ("BridgeLeave", bridge + cit()), ("BridgeLeave", bridge + con()),
        ("HangupRequest", cit()), ("SoftHangupRequest", con() + "Cause: 16\r\n"),
        ("BridgeDestroy", bridge), ("Hangup", con() + "Cause: 16\r\nCause-txt: Normal Clearing\r\n"),
        ("AgentComplete", cit() + con("Up", "Dest") + member + "TalkTime: 3\r\n"),
        ("Hangup", cit() + "Cause: 16\r\nCause-txt: Normal Clearing\r\n"),
        ("DeviceStateChange", dev + "NOT_INUSE\r\n"), ("QueueMemberStatus", member),
    ]  # fmt: skip
    return [
        f"Event: {name}\r\nPrivilege: call,all\r\nTimestamp: ".encode()
        + _TS
        + f"\r\nSystemName: dasan\r\n{rest}\r\n".encode()
        for name, rest in body
    ]


def _traffic(seed: int) -> Iterator[bytes]:
    """An endless interleaving of CONCURRENT_CALLS calls, a new call replacing each ended one."""
    rng = random.Random(seed)
    started = 0
    active: list[Iterator[bytes]] = []
    while True:
        while len(active) < CONCURRENT_CALLS:
            active.append(iter(_call(started)))
            started += 1
        index = rng.randrange(len(active))
        event = next(active[index], None)
        if event is None:
            active[index] = active[-1]
            active.pop()
            continue
        yield event


async def _serve_flood(conn: Connection, seconds: float, rate: float | None) -> None:
    done = asyncio.get_running_loop().create_future()

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        flood: asyncio.Task[int] | None = None
        while block := await _read_block(reader):
            lines = dict(
                line.split(": ", 1) for line in block.decode().split("\r\n") if ": " in line
            )
            aid = lines.get("ActionID", "")
            action = lines.get("Action", "")
            if action == "Login":
                writer.write(
                    f"Response: Success\r\nActionID: {aid}\r\nMessage: Authentication accepted\r\n\r\n".encode()
                )
            elif action in (
                "CoreShowChannels",
                "BridgeList",
                "DeviceStateList",
                "PJSIPShowContacts",
            ):
                writer.write(f"Response: Success\r\nActionID: {aid}\r\nEventList: start\r\n\r\n"
                             f"Event: {action}Complete\r\nActionID: {aid}\r\nEventList: Complete\r\n"
                             "ListItems: 0\r\n\r\n".encode())  # fmt: skip
                if action == "DeviceStateList" and flood is None:  # resync done: start
                    flood = asyncio.create_task(_flood(writer, seconds, rate))
                    flood.add_done_callback(lambda t: _settle(done, t))
            elif action == "Logoff":
                writer.write(f"Response: Goodbye\r\nActionID: {aid}\r\n\r\n".encode())
            else:
                writer.write(f"Response: Success\r\nActionID: {aid}\r\nPing: Pong\r\n\r\n".encode())
            await writer.drain()

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    conn.send(server.sockets[0].getsockname()[1])
    conn.send(await done)
    await asyncio.sleep(3600)  # keep the connection open; the parent terminates this process


def _settle(done: asyncio.Future[int], flood: asyncio.Task[int]) -> None:
    if not done.done():
        done.set_result(flood.result())


async def _read_block(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return b""  # the client went away


async def _flood(writer: asyncio.StreamWriter, seconds: float, rate: float | None) -> int:
    traffic = _traffic(seed=7)
    sent = 0
    start = time.monotonic()
    batch = 200 if rate is None else max(1, int(rate / 200))
    while (now := time.monotonic()) - start < seconds:
        if rate is not None and sent >= rate * (now - start):
            await asyncio.sleep(0.005)  # pacing the sender, not a test wait
            continue
        stamp = f"{time.time():.6f}".encode()
        writer.write(b"".join(next(traffic).replace(_TS, stamp) for _ in range(batch)))
        sent += batch
        await writer.drain()
    writer.write(f"Event: {_DONE}\r\nSent: {sent}\r\n\r\n".encode())
    await writer.drain()
    return sent + 1


def _server_main(conn: Connection, seconds: float, rate: float | None) -> None:
    asyncio.run(_serve_flood(conn, seconds, rate))


# --- the client side (this process) ------------------------------------------------------
Measure = Callable[[int, Connection, float], Awaitable[dict[str, Any]]]


async def _phase(seconds: float, rate: float | None, measure: Measure) -> dict[str, Any]:
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_server_main, args=(child, seconds, rate), daemon=True)
    server.start()
    try:
        port = parent.recv()
        return await measure(port, parent, seconds)
    finally:
        server.terminate()
        server.join(5)


async def _measure(port: int, pipe: Connection, seconds: float) -> dict[str, Any]:
    settings = AmiSettings(port=port, secret=SecretStr(SECRET), ping_interval_s=60.0)
    ami = AmiClient(settings)
    await ami.start()
    live = LiveState(ami)
    runner = asyncio.create_task(live.run())
    await live.wait_synced(10)
    try:
        return await _observe(live, pipe, seconds)
    finally:
        await ami.stop()
        await runner


async def _observe(live: LiveState, pipe: Connection, seconds: float) -> dict[str, Any]:
    proc = psutil.Process()
    cpu0, t0, applied0 = proc.cpu_times(), time.monotonic(), live.events_applied
    lags: list[float] = []
    anomalies = {"dropped_changes": 0, "stale": 0}
    with live.subscribe(maxsize=1_000_000) as sub:
        sent = await _drain(sub, pipe, live, (lags, anomalies), seconds)
    elapsed = time.monotonic() - t0
    cpu1 = proc.cpu_times()
    applied = live.events_applied - applied0
    return {
        "events_sent": sent,
        "events_applied": applied,
        "seconds": round(elapsed, 2),
        "events_per_s": round(applied / elapsed),
        "client_cpu_us_per_event": round(
            1e6 * (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / max(applied, 1), 2
        ),
        "lag_ms": _percentiles(lags),
        "live_channels_at_end": len(live.snapshot.channels),
        **anomalies,
        "resyncs_after_start": live.resyncs - 1,
    }


async def _drain(
    sub: Any,
    pipe: Connection,
    live: LiveState,
    into: tuple[list[float], dict[str, int]],
    seconds: float,
) -> int:
    """Consume changes until the server reported its total and the reducer caught up."""
    lags, anomalies = into
    sent: int | None = None
    deadline = time.monotonic() + seconds + 60
    while time.monotonic() < deadline:
        try:
            async with asyncio.timeout(0.05):
                while True:
                    change = await anext(sub)
                    if isinstance(change, StateChangesDropped):
                        anomalies["dropped_changes"] += change.count
                    elif isinstance(change, StateStale):
                        anomalies["stale"] += 1
                    elif not isinstance(change, StateResynced):
                        lags.append(time.time() - change.at)
        except TimeoutError:
            pass
        if sent is None and pipe.poll():
            sent = int(pipe.recv())
        if sent is not None and live.events_applied >= sent:
            return sent
    raise RuntimeError("the reducer did not catch up with the server within a minute")


async def _measure_client_only(port: int, pipe: Connection, seconds: float) -> dict[str, Any]:
    """Our AmiClient alone: one subscriber that only counts events (no reducer)."""
    ami = AmiClient(AmiSettings(port=port, secret=SecretStr(SECRET), ping_interval_s=60.0))
    await ami.start()
    try:
        with ami.subscribe(maxsize=1_000_000) as sub:
            counter = _Counter()
            await ami.action_list("DeviceStateList")  # the fake PBX starts flooding
            async with asyncio.timeout(seconds + 60):
                async for item in sub:
                    if counter.tick(getattr(item, "name", "") == _DONE):
                        break
            return counter.result()
    finally:
        await ami.stop()


async def _measure_panoramisk(port: int, pipe: Connection, seconds: float) -> dict[str, Any]:
    """panoramisk 1.4's Manager (built inside the loop) with one '*' callback that counts."""
    from panoramisk import Manager

    loop = asyncio.get_running_loop()
    logged_in, finished = loop.create_future(), loop.create_future()
    counter = _Counter()

    def count(_manager: object, event: Any) -> None:
        if counter.tick(event.event == _DONE):
            _resolve(finished)

    manager = Manager(host="127.0.0.1", port=port, username="dasan", secret=SECRET,
                      ping_delay=3600, loop=loop,
                      on_login=lambda _m: _resolve(logged_in))  # fmt: skip
    manager.register_event("*", count)
    await manager.connect()
    try:
        async with asyncio.timeout(seconds + 60):
            await logged_in
            await manager.send_action({"Action": "DeviceStateList"})
            await finished
        return counter.result()
    finally:
        manager.close()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _Counter:
    """Counts flood events and this process's CPU until the server's closing event."""

    def __init__(self) -> None:
        self._proc = psutil.Process()
        self._cpu0 = self._proc.cpu_times()
        self._t0 = time.monotonic()
        self.events = 0

    def tick(self, done: bool) -> bool:
        if not done:
            self.events += 1
        return done

    def result(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self._t0
        cpu = self._proc.cpu_times()
        used = cpu.user + cpu.system - self._cpu0.user - self._cpu0.system
        return {
            "events": self.events,
            "events_per_s": round(self.events / elapsed),
            "client_cpu_us_per_event": round(1e6 * used / max(self.events, 1), 2),
        }


def _percentiles(lags: list[float]) -> dict[str, float | None]:
    return percentiles(lags, (50, 99), scale=1000, digits=2) | {
        "max": rounded(max(lags) * 1000, 2) if lags else None
    }


async def _sample_rss(samples: list[int]) -> None:
    proc = psutil.Process()
    while True:
        samples.append(proc.memory_info().rss)
        await asyncio.sleep(0.05)  # sampling period


async def _run(flood_s: float, paced_s: float, rate: float, raw_s: float) -> dict[str, Any]:
    samples: list[int] = []
    baseline = psutil.Process().memory_info().rss
    sampler = asyncio.create_task(_sample_rss(samples))
    try:
        flood = await _phase(flood_s, None, _measure)
        paced = await _phase(paced_s, rate, _measure)
        client_only = await _phase(raw_s, None, _measure_client_only)
        panoramisk = await _phase(raw_s, None, _measure_panoramisk)
    finally:
        sampler.cancel()
        await asyncio.gather(sampler, return_exceptions=True)
    mb = 1024 * 1024
    return {
        "benchmark": "ami_ingest",
        "what": "fake busy PBX -> AmiClient -> LiveState reducer -> subscriber",
        "flood": flood,
        "paced": {"rate_events_per_s": rate, **paced},
        "client_only_no_reducer": {"ours": client_only, "panoramisk_1_4": panoramisk},
        "rss_mb": {
            "baseline": round(baseline / mb, 1),
            "peak": round(max(samples) / mb, 1),
            "growth": round((max(samples) - baseline) / mb, 1),
        },
        "concurrent_calls": CONCURRENT_CALLS,
        "events_per_call": len(_call(0)),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "note": "2 cores shared with other work; the fake PBX runs in its own process",
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flood-seconds", type=float, default=10.0)
    parser.add_argument("--paced-seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=4_000.0)
    parser.add_argument("--client-only-seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    result = asyncio.run(
        _run(args.flood_seconds, args.paced_seconds, args.rate, args.client_only_seconds)
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
