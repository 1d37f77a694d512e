"""Asterisk CPU per call-second: a sign-language video call (passthrough) beside an audio call.

Real softphones (Debian's baresip, ``dasan.baresip``) registered as the eight sign-language
consultants call each other in pairs through the PBX (``from-consultants``: ``Dial`` of the
other endpoint), all at once, for ``TALK_S`` seconds: first with video (fakevideo, VP8) and
audio (G.711), then audio only with the same phones. Asterisk relays the video untranscoded.

Measured: Asterisk's CPU (utime + stime of its process) over the talking window, minus the
same window idle before the calls, divided by the call-seconds; and the video packets the PBX
relayed (its RTP counters on every leg). No engine, no IVR, no recording: only the relaying
that video adds. The softphones encode and decode on the same 2 cores, so they are the
largest CPU users here; the figure is Asterisk's alone.

Invariants: every call ends (the PBX hangs them up), every phone stops, and the PBX goes
down before the results are written; the run is bounded by ``TIMEOUT_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from benchmarks.pbx_env import REPO, bench_env, in_own_netns
from cti.ami.client import AmiClient
from cti.ami.messages import AmiActionError
from dasan.baresip import BaresipPhone, Phone, registered, rtp_counts
from dasan.config import Settings
from dasan.pbx.render import consultant_password
from dasan.pbx.service import pbx_container, pbx_image, render_generated

TIMEOUT_S = 600
SIGN_TEAM = ("c0429", "c0430", "c0431", "c0432", "c0433", "c0434", "c0435", "c0436")
TALK_S = 20.0
RESULT = REPO / "benchmarks" / "results" / "pbx_video.json"


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _phones(settings: Settings, video: bool, tag: str) -> list[Phone]:
    secret = settings.consultants.password_secret.get_secret_value()
    codecs: tuple[str, ...] = ("vp8",) if video else ()
    return [
        Phone(
            name=f"{tag}-{cid}",
            user=cid,
            password=consultant_password(secret, cid),
            sip_port=5100 + 10 * n,  # baresip takes this port (UDP, TCP) and the next (TLS)
            rtp_ports=(30000 + 200 * n, 30000 + 200 * n + 99),
            video_codecs=codecs,
        )
        for n, cid in enumerate(SIGN_TEAM)
    ]


async def _registered(ami: AmiClient, ids: tuple[str, ...], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if set(ids) <= await registered(ami):
            return
        await asyncio.sleep(0.2)
    raise RuntimeError("the softphones did not register")


async def _up_channels(ami: AmiClient) -> list[str]:
    channels = await ami.action_list("CoreShowChannels")
    return [
        c.channel
        for c in channels
        if c.name == "CoreShowChannel" and c.get("ChannelStateDesc") == "Up"
    ]


@contextlib.asynccontextmanager
async def _calls(
    ami: AmiClient, settings: Settings, video: bool, work: Path
) -> AsyncIterator[None]:
    """All phones up; the first of each pair dials the second (registered, answers itself)."""
    phones = _phones(settings, video, "video" if video else "audio")
    callers, callees = phones[0::2], phones[1::2]
    async with contextlib.AsyncExitStack() as stack:
        for callee in callees:
            await stack.enter_async_context(BaresipPhone(callee, work))
        await _registered(ami, tuple(p.user for p in callees))
        for caller, callee in zip(callers, callees, strict=True):
            dial = f"sip:{callee.user}@127.0.0.1"
            await stack.enter_async_context(BaresipPhone(caller, work, dial=dial))
        yield


async def _series(
    ami: AmiClient, settings: Settings, pid: int, video: bool, work: Path
) -> dict[str, Any]:
    idle_start = _cpu_s(pid)
    await asyncio.sleep(TALK_S / 2)
    idle_cpu_per_s = (_cpu_s(pid) - idle_start) / (TALK_S / 2)
    pairs = len(SIGN_TEAM) // 2
    async with _calls(ami, settings, video, work):
        deadline = time.monotonic() + 40
        while len(await _up_channels(ami)) < 2 * pairs:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(await _up_channels(ami))} legs up")
            await asyncio.sleep(0.2)
        legs = await _up_channels(ami)
        before = {leg: await rtp_counts(ami, leg) for leg in legs}
        cpu_start, wall_start = _cpu_s(pid), time.monotonic()
        await asyncio.sleep(TALK_S)
        cpu, wall = _cpu_s(pid) - cpu_start, time.monotonic() - wall_start
        after = {leg: await rtp_counts(ami, leg) for leg in legs}
        for leg in legs:  # a hung-up leg takes its peer along: "No such channel" is fine
            with contextlib.suppress(AmiActionError):
                await ami.action("Hangup", Channel=leg)
    relayed = sum(
        (a.received - b.received) for leg in legs if (a := after[leg]) and (b := before[leg])
    )
    call_s = pairs * wall
    return {
        "video": video,
        "calls": pairs,
        "talk_s": round(wall, 2),
        "asterisk_cpu_s": round(cpu, 3),
        "asterisk_idle_cpu_per_s": round(idle_cpu_per_s, 5),
        "asterisk_ms_per_call_s": round(1000 * (cpu - idle_cpu_per_s * wall) / call_s, 3),
        "video_packets_in_per_call_s": round(relayed / call_s, 1),
    }


async def measure() -> dict[str, Any]:
    with bench_env(postgres=False) as env:
        settings = env.settings
        directory = settings.consultants.model_copy(update={"static_contact": ""})
        settings = settings.model_copy(update={"consultants": directory})
        pbx_image(settings).ensure()
        render_generated(settings)
        container = pbx_container(settings)
        container.up()
        try:
            pid = container.pid()
            assert pid is not None
            ami = AmiClient(settings.ami)
            await ami.start()
            try:
                work = env.root / "baresip"
                video = await _series(ami, settings, pid, True, work / "video")
                audio = await _series(ami, settings, pid, False, work / "audio")
            finally:
                await ami.stop()
            version = container.cli("core show version").strip()
        finally:
            container.down()
    ratio = video["asterisk_ms_per_call_s"] / audio["asterisk_ms_per_call_s"]
    return {
        "benchmark": "pbx_video",
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "asterisk": version,
        "video_call": video,
        "audio_call": audio,
        "video_vs_audio_cpu": round(ratio, 2) if audio["asterisk_ms_per_call_s"] > 0 else None,
    }


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    code = in_own_netns("benchmarks.pbx_video", args)
    if code is not None:
        raise SystemExit(code)
    result = asyncio.run(measure())
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
