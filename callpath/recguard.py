"""Before any consultant is bridged: prove the call is being recorded (recordings.guard).

Invariants:
- The pure guard decides; this module only observes (the recorder's id on the channel, the
  file growing on the host) and carries out its commands: start the recorder (DasanRecord,
  the PBX's time-driven recorder) on the spare path,
  raise alarms, refuse (apologize in the caller's language and offer a call-back).
- It fails closed: a call whose recording cannot be proven never reaches a consultant.
- Its deadlines are measured on the monotonic clock (``steady_now``): a step of the engine's
  wall clock (NTP, a wrong setting) while a recording is watched neither fails a good
  recording over to the spare path at once (forward) nor stretches the wait for a bad one
  (back).
- It needs only ``GuardSetup`` (where the PBX's recording folders are on this host, the
  prompts, the alarm queue, the call-back desk), never the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from callpath.ports import RaiseAlarmSoon
from common.alarms import Severity
from ivr.agi import AgiHangup, AgiSession
from recordings.disk import observe_recording_file
from recordings.guard import (
    AllowBridge,
    GuardCommand,
    GuardPolicy,
    GuardState,
    GuardStatus,
    MixMonitorStarted,
    RaiseAlarm,
    RefuseBridge,
    StartOnSpare,
    Tick,
    decide,
    spare_started,
    start,
)

log = logging.getLogger("dasan.recguard")
POLL_S = 0.25
# The recorder has been writing since the call was answered (the whole IVR): give a loaded
# machine time to show the file growing before failing over to the spare path.
POLICY = GuardPolicy(confirm_within=dt.timedelta(seconds=8))


# The file is observed with a blocking stat (the recording folder may be a network mount) on
# threads of its own: at the seed peak the default pool is busy with the recordings pipeline
# and speech, and a stat queued behind them made good recordings look stalled.
_OBSERVER = ThreadPoolExecutor(max_workers=2, thread_name_prefix="recguard-stat")


# The wall clock when the monotonic clock read 0, taken once: ``steady_now`` reads like a
# wall-clock time but advances only with the monotonic clock.
_STEADY_EPOCH = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=time.monotonic())


def steady_now() -> dt.datetime:
    """The guard's clock: only differences of its readings matter (deadlines), so it follows
    the monotonic clock, never a stepped wall clock."""
    return _STEADY_EPOCH + dt.timedelta(seconds=time.monotonic())


@dataclass(frozen=True)
class GuardSetup:
    """What the guard's driver needs."""

    # A PBX-side recording path as a host path (None: not in a folder mounted here).
    host_path: Callable[[str], Path | None]
    # The PBX-side primary and spare recording folders (``RecordingsSettings``).
    pbx_spool_dir: str
    pbx_spare_dir: str
    # The PBX-side prompts folder (``<dir>/<lang>/<id>``).
    prompts_dir: str
    alarm: RaiseAlarmSoon
    # Keep a call-back request for the caller who accepts it after the apology.
    request_callback: Callable[[AgiSession, str], Awaitable[None]]
    policy: GuardPolicy = POLICY


async def confirm_recording(guard: GuardSetup, session: AgiSession, language: str) -> bool:
    """True once the recording is proven; False after apologizing to the caller.

    An attempt's deadline starts once its recorder is known to be asked for (after the AGI
    commands that set it up): on a saturated PBX each command's reply can take seconds, and
    that wait is the PBX's slowness, not a recording that does not grow.
    """
    pbx_path = await session.get_variable("DASAN_REC") or ""
    # Music while we watch the file grow: the caller hears something while waiting.
    await session.set_music(True)
    status = start(session.uniqueid, steady_now(), language)
    while status.state in (GuardState.WAITING_PRIMARY, GuardState.WAITING_SPARE):
        status, commands = await _observe(guard, session, status, pbx_path)
        for command in commands:
            if isinstance(command, RefuseBridge):
                await session.set_music(False)
            pbx_path = await _carry_out(guard, session, status, command, pbx_path)
            if isinstance(command, StartOnSpare):
                status = spare_started(status, steady_now())
        if status.state in (GuardState.WAITING_PRIMARY, GuardState.WAITING_SPARE):
            # The caller may hang up while we watch: the call ends now, not at the guard's
            # deadline (its end time in the call log is when the caller left).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(session.hungup.wait(), POLL_S)
            if session.hungup.is_set():
                raise AgiHangup("the caller hung up while the recording was being proven")
    return status.may_bridge


def _has_audio(path: Path) -> bool:
    """A recording file with more than its WAV header."""
    try:
        return path.stat().st_size > 44
    except OSError:
        return False


async def _observe(
    guard: GuardSetup, session: AgiSession, status: GuardStatus, pbx_path: str
) -> tuple[GuardStatus, list[GuardCommand]]:
    commands: list[GuardCommand] = []
    path = guard.host_path(pbx_path)
    if path is not None:
        seen = await asyncio.get_running_loop().run_in_executor(
            _OBSERVER, observe_recording_file, path, status.target, steady_now()
        )
        status, out = decide(status, seen, guard.policy)
        commands += out
    # After the file's size: the reply may take a while, and the file grows meanwhile.
    if not status.started_seen and await session.get_variable("DASAN_MIXMON_ID"):
        status, out = decide(status, MixMonitorStarted(status.target, steady_now()), guard.policy)
        commands += out
    status, out = decide(status, Tick(steady_now()), guard.policy)
    return status, commands + out


async def _carry_out(
    guard: GuardSetup, session: AgiSession, status: GuardStatus, command: GuardCommand, path: str
) -> str:
    if isinstance(command, RaiseAlarm):
        guard.alarm("recording", command.key, command.severity, command.message)
    elif isinstance(command, StartOnSpare):
        spare = path.replace(guard.pbx_spool_dir, guard.pbx_spare_dir, 1)
        host_spare = guard.host_path(spare)
        if host_spare is not None and await asyncio.get_running_loop().run_in_executor(
            _OBSERVER, _has_audio, host_spare
        ):
            # The recorder already went on in the spare file by itself (a write failed):
            # watch that file; restarting the recorder would truncate it.
            await session.set_variable("DASAN_REC", spare)
            log.warning("call %s: the recorder moved to the spare path %s", status.uniqueid, spare)
            return spare
        await session.set_variable("DASAN_MIXMON_ID", "")
        # m: the recorder on the spare file stops the primary one once it runs, so the two
        # files are one timeline without a gap (a stop, then a start, lost the seconds a
        # loaded PBX took between the two commands).
        await session.exec("DasanRecord", spare, "i(DASAN_MIXMON_ID)m")
        await session.set_variable("DASAN_REC", spare)
        log.warning("call %s: recording moved to the spare path %s", status.uniqueid, spare)
        return spare
    elif isinstance(command, RefuseBridge):
        await _apologize(guard, session, command)
    elif isinstance(command, AllowBridge):
        log.debug("call %s: recording confirmed on %s", status.uniqueid, command.target.value)
    return path


async def _apologize(guard: GuardSetup, session: AgiSession, refusal: RefuseBridge) -> None:
    prompts = guard.prompts_dir
    log.error("call %s: recording cannot be proven; consultant not bridged", session.uniqueid)
    guard.alarm(
        "recording",
        f"unrecorded:{session.uniqueid}",
        Severity.CRITICAL,
        f"call {session.uniqueid} refused: recording could not be confirmed",
    )
    digit = await session.get_data(f"{prompts}/{refusal.language}/recording_unavailable", 5000, 1)
    if digit == "1" and refusal.offer_callback:
        await guard.request_callback(session, refusal.language)
        await session.stream_file(f"{prompts}/{refusal.language}/callback_accepted")
