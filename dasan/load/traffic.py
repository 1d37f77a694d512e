"""The SIPp side of a load run: ONE consultant UAS, and citizen UACs per call type and stage.

Invariants:
- All SIPp processes talk to loopback only (``dasan.sipp`` pins ``-i``/``-mi``).
- The consultant UAS listens on the port every consultant's static contact points at
  (127.0.0.1:5090 by default); a port already taken is an error, never shared silently.
- Citizen UACs of one stage place exactly the planned calls at the planned rate
  (``-m``/``-r``, never throttled by SIPp's own ``-l``) and trace every call's setup time
  (``-trace_rtt -rtt_freq 1``).
- Caller numbers encode stage and call type (``0107<stage:02d><type:02d><n>``), so AMI
  events map back to both without any shared state.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from dasan.load.profile import Profile, TypePlan
from dasan.load.scenarios import CALLER_PREFIX, render_citizen, render_consultants
from dasan.sipp import SippError, SippProcess, SippResult, udp_port_bound

STAGE_TYPES = 100  # caller prefix room: two digits of stage, two of call type


def stage_type_index(stage: int, type_index: int) -> int:
    return stage * STAGE_TYPES + type_index


def classify_caller(profile: Profile, caller: str) -> tuple[str, int]:
    """Caller number -> (call type name, stage); ("", -1) for a caller not ours."""
    digits = caller[len(CALLER_PREFIX) :]
    if not caller.startswith(CALLER_PREFIX) or len(digits) < 4 or not digits[:4].isdigit():
        return "", -1
    stage, index = int(digits[:2]), int(digits[2:4])
    if index >= len(profile.mix):
        return "", -1
    return profile.mix[index].name, stage


def uac_args(pbx: tuple[str, int], calls: int, rate: float) -> list[str]:
    """SIPp options of a citizen UAC. ``-l`` is the call count: SIPp's default limit of
    simultaneous calls (3 x rate x the scenario's pauses) would otherwise throttle long calls
    at low rates (one call at a time below ~0.3 calls/s) and distort the arrival rate."""
    return [
        f"{pbx[0]}:{pbx[1]}",
        "-m",
        str(calls),
        "-l",
        str(max(1, calls)),
        "-r",
        f"{rate:.6g}",
        "-rp",
        "1000",
        "-trace_rtt",
        "-rtt_freq",
        "1",
    ]


async def start_consultants(
    profile: Profile, workdir: Path, audio: Path, port: int, timeout_s: float = 5.0
) -> SippProcess:
    if udp_port_bound(port):
        raise SippError(
            f"127.0.0.1:{port} is already taken (another consultant UAS, e.g. a demo?): "
            "the load run plays every consultant there itself"
        )
    uas = SippProcess(
        workdir / "consultants", "consultants", render_consultants(profile, audio), [], port
    )
    await uas.start()
    deadline = time.monotonic() + timeout_s
    while not udp_port_bound(port):
        if not uas.running:
            result = await uas.stop()
            raise SippError(f"SIPp consultants exited: {result.errors[-800:]}")
        if time.monotonic() > deadline:
            await uas.stop()
            raise SippError(f"SIPp consultants did not bind 127.0.0.1:{port} in {timeout_s} s")
        await asyncio.sleep(0.02)
    return uas


@dataclass
class Stage:
    """One rate step: its UACs, when it started (monotonic) and, once done, their results."""

    index: int
    rate: float
    plans: tuple[TypePlan, ...]
    uacs: list[SippProcess] = field(default_factory=list)
    started: float = 0.0
    window_s: float = 0.0
    results: list[SippResult] = field(default_factory=list)
    placed: int = 0  # calls SIPp placed (OutgoingCall), once the stage is done

    @property
    def calls(self) -> int:
        return sum(p.calls for p in self.plans)


async def start_stage(
    profile: Profile,
    stage: Stage,
    workdir: Path,
    audio: Path,
    pbx: tuple[str, int],
    *,
    local_ip: str = "127.0.0.1",
) -> None:
    """Start one UAC per call type, spread over the first call interval of the stage."""
    stage.started = time.monotonic()
    spread = 1.0 / stage.rate if stage.rate > 0 else 0.0
    for n, plan in enumerate(stage.plans):
        index = profile.mix.index(plan.call_type)
        scenario = render_citizen(
            profile, plan.call_type, stage_type_index(stage.index, index), audio
        )
        uac = SippProcess(
            workdir / f"stage{stage.index:02d}",
            f"citizens-{plan.call_type.name}",
            scenario,
            uac_args(pbx, plan.calls, plan.rate),
            local_ip=local_ip,
        )
        await uac.start()
        stage.uacs.append(uac)
        if n + 1 < len(stage.plans):
            await asyncio.sleep(spread / len(stage.plans))


def placed_calls(uacs: list[SippProcess]) -> int:
    return sum(_int(u.stats().get("OutgoingCall(C)")) for u in uacs)


def live_counter(uacs: list[SippProcess], column: str) -> int:
    return sum(_int(u.stats().get(column)) for u in uacs)


def _int(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0
