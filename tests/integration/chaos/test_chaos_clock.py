"""Chaos on time: the engine's wall clock jumps an hour forward or back mid-load (an NTP
step). Asterisk keeps the true time, so anything the engine dates by its wall clock and
compares with the PBX (call log against CDR, recordings) is put to the test. No engine
hook is needed.

How the clock is stepped: the engine runs with ``wallclock_step.c`` (next to this file)
preloaded, built with gcc into the case's workdir at run time. It shifts only reads of the
wall clock (``CLOCK_REALTIME``, ``gettimeofday``, ``time``: Python's ``time.time``,
``datetime.now``, log stamps) by the offset in a file the test rewrites ("+1h"/"-1h"),
re-read every second. The monotonic clock, sleeps, deadlines and waits reach the kernel
untouched, exactly as a real step leaves them. This replaces libfaketime, which was not a
faithful step: with ``FAKETIME_DONT_FAKE_MONOTONIC=1`` (libfaketime 0.9.10) it rewrites the
absolute ``CLOCK_MONOTONIC`` deadline of ``clock_nanosleep`` into a negative time, so every
``time.sleep`` (hence ``subprocess.run(..., timeout=...)``, the engine's ffmpeg calls)
failed with EINVAL even at offset +0, and it turned the GIL's timed condition waits into
untimed ones.

Invariants: the shim is built per run from the source here (the cases skip, saying so,
where gcc is missing); the engine's child processes (ffmpeg, through pydub and
``subprocess``) inherit ``LD_PRELOAD`` and so see the same stepped wall clock, as every
process of a host does after a real step. That is harmless: the shim changes nothing but
wall-clock reads, and ffmpeg's archiving does not depend on the wall clock (no date is
written into the archive). Files keep the kernel's true timestamps, as the PBX (the writer
of the recordings spool) keeps the true time.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dasan.pbx.container import PbxContainer
from tests.integration.chaos.cases import check_case
from tests.integration.chaos.harness import Case, ChaosContext, Fault, record_skipped
from tests.integration.support import ItEnv

SHIM_SOURCE = Path(__file__).with_name("wallclock_step.c")


def build_shim(workdir: Path) -> Path:
    """The wall-clock step preload, compiled into ``workdir``."""
    library = workdir / "wallclock_step.so"
    subprocess.run(
        [
            "gcc",
            "-O2",
            "-Wall",
            "-Werror",
            "-shared",
            "-fPIC",
            "-o",
            str(library),
            str(SHIM_SOURCE),
            "-ldl",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return library


@contextlib.asynccontextmanager
async def stepped_clock(ctx: ChaosContext) -> AsyncIterator[None]:
    library = await asyncio.to_thread(build_shim, ctx.workdir)
    control = ctx.workdir / "wallclock-offset"
    await asyncio.to_thread(control.write_text, "+0\n", "utf-8")
    ctx.extra["wallclock_offset"] = control
    ctx.engine_env |= {
        "LD_PRELOAD": str(library),
        "WALLCLOCK_STEP_FILE": str(control),
        "WALLCLOCK_STEP_CACHE_S": "1",
    }
    yield


def jump(offset: str) -> Fault:
    async def inject(ctx: ChaosContext) -> None:
        await ctx.until(lambda c: c.offered >= 8 and c.talking >= 2 and c.in_ivr >= 1, 120, "calls")
        control: Path = ctx.extra["wallclock_offset"]
        await asyncio.to_thread(control.write_text, f"{offset}\n", "utf-8")
        ctx.fault(offset=offset)
        ctx.recovered()

    return inject


CASES = {
    "clock_forward": Case(
        "clock_forward",
        "engine clock jumps 1 h forward",
        "nothing: waits, timeouts and records keep their true lengths",
        jump("+1h"),
        around=stepped_clock,
    ),
    "clock_back": Case(
        "clock_back",
        "engine clock jumps 1 h back",
        "nothing: waits, timeouts and records keep their true lengths",
        jump("-1h"),
        around=stepped_clock,
    ),
}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", ["clock_forward", "clock_back"])
async def test_clock_jump(name: str, pbx: PbxContainer, it_env: ItEnv) -> None:
    if await asyncio.to_thread(shutil.which, "gcc") is None:
        reason = "gcc is missing: the wall-clock step preload cannot be built"
        await asyncio.to_thread(record_skipped, CASES[name], reason)
        pytest.skip(reason)
    await check_case(CASES[name], it_env, pbx)
