"""Chaos on the PBX side: Asterisk restarted mid-load, the recordings disk full, packet loss
and jitter on the SIP/RTP links (``tc netem``)."""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
from pathlib import Path

import pytest

from dasan.load.tracker import Counts
from dasan.pbx.container import PbxContainer
from tests.integration.chaos.cases import check_case
from tests.integration.chaos.harness import Case, ChaosContext, Fault, record_skipped
from tests.integration.support import ItEnv

FAULT_S = 20.0  # how long the disk stays full or the link lossy (the fault's length)


async def _busy(ctx: ChaosContext) -> None:
    await ctx.until(lambda c: c.offered >= 8 and c.talking >= 2 and c.in_ivr >= 1, 120, "calls")


async def asterisk_restart(ctx: ChaosContext) -> None:
    await _busy(ctx)
    ctx.fault()
    await asyncio.to_thread(ctx.pbx.down)
    await asyncio.to_thread(ctx.pbx.up)
    ctx.recovered()


def _fill(folder: Path) -> None:
    """Fill the disk: most of it at once, then the last bytes by writing until ENOSPC (the
    calls being recorded keep writing meanwhile, so an exact size would race them)."""
    bulk, top = folder / "chaos-filler.bin", folder / "chaos-filler-top.bin"
    stat = os.statvfs(folder)
    size = max(stat.f_bavail * stat.f_frsize - 4 * 2**20, 1)
    subprocess.run(["fallocate", "-l", str(size), str(bulk)], check=True)
    with top.open("wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise


async def disk_full(ctx: ChaosContext) -> None:
    await _busy(ctx)
    folder = ctx.settings.recordings_dir
    try:
        await asyncio.to_thread(_fill, folder)
        ctx.fault(free_bytes=await asyncio.to_thread(_free, folder))
        await asyncio.sleep(FAULT_S)
    finally:
        for filler in folder.glob("chaos-filler*.bin"):
            await asyncio.to_thread(filler.unlink, True)
    ctx.recovered()


def _free(folder: Path) -> int:
    stat = os.statvfs(folder)
    return stat.f_bavail * stat.f_frsize


def netem_available() -> bool:
    """Whether this kernel has sch_netem (tried on a throwaway qdisc of the test's own lo)."""
    add = subprocess.run(
        ["tc", "qdisc", "add", "dev", "lo", "root", "handle", "9:", "netem", "delay", "1ms"],
        capture_output=True,
        check=False,
    )
    if add.returncode == 0:
        subprocess.run(["tc", "qdisc", "del", "dev", "lo", "root"], check=False)
    return add.returncode == 0


def _tc(*args: str) -> None:
    subprocess.run(["tc", *args], check=True, capture_output=True)


def lossy_links(loss_pct: int) -> Fault:
    """Loss and jitter on UDP only (SIP and RTP) on the namespace's loopback, where the PBX
    and SIPp talk today: AMI, FastAGI and PostgreSQL (TCP, Unix socket) stay clean."""

    async def inject(ctx: ChaosContext) -> None:
        await _busy(ctx)
        _tc("qdisc", "add", "dev", "lo", "root", "handle", "1:", "prio")
        _tc(
            "qdisc",
            "add",
            "dev",
            "lo",
            "parent",
            "1:3",
            "handle",
            "30:",
            "netem",
            "loss",
            f"{loss_pct}%",
            "delay",
            "30ms",
            "20ms",
            "distribution",
            "normal",
        )
        _tc(
            "filter",
            "add",
            "dev",
            "lo",
            "protocol",
            "ip",
            "parent",
            "1:0",
            "prio",
            "3",
            "u32",
            "match",
            "ip",
            "protocol",
            "17",
            "0xff",
            "flowid",
            "1:3",
        )
        ctx.fault(loss_pct=loss_pct, delay_ms="30±20")
        try:
            await asyncio.sleep(FAULT_S)
        finally:
            _tc("qdisc", "del", "dev", "lo", "root")
        ctx.recovered()

    return inject


def _active(counts: Counts) -> int:
    return counts.active


CASES = {
    "asterisk_restart": Case(
        "asterisk_restart",
        "Asterisk restarted mid-load",
        "calls in progress are cut (the PBX is gone); new calls are answered after",
        asterisk_restart,
        allowed_lost=_active,
        unseen_allowed=2,
        resync_bound_s=45.0,
    ),
    "disk_full": Case(
        "disk_full",
        f"recordings disk full for {FAULT_S:.0f} s",
        "nothing: new calls are recorded on the spare path before any consultant talks",
        disk_full,
        measures_resync=False,
    ),
    "loss5": Case(
        "loss5",
        f"5 % packet loss and 30±20 ms jitter on SIP/RTP for {FAULT_S:.0f} s",
        "choppier audio; SIP retransmits; calls answered",
        lossy_links(5),
        measures_resync=False,
    ),
    "loss15": Case(
        "loss15",
        f"15 % packet loss and 30±20 ms jitter on SIP/RTP for {FAULT_S:.0f} s",
        "poor audio; slower setup; calls answered",
        lossy_links(15),
        measures_resync=False,
    ),
}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", ["asterisk_restart", "disk_full"])
async def test_pbx_fault(name: str, pbx: PbxContainer, it_env: ItEnv) -> None:
    await check_case(CASES[name], it_env, pbx)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", ["loss5", "loss15"])
async def test_lossy_links(name: str, pbx: PbxContainer, it_env: ItEnv) -> None:
    if not await asyncio.to_thread(netem_available):
        reason = "sch_netem is not available in this kernel: packet loss cannot be injected"
        await asyncio.to_thread(record_skipped, CASES[name], reason)
        pytest.skip(reason)
    await check_case(CASES[name], it_env, pbx)
