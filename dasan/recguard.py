"""Before any consultant is bridged: prove the call is being recorded (recordings.guard).

Invariants:
- The pure guard decides; this module only observes (MixMonitor's id on the channel, the
  file growing on the host) and carries out its commands: start MixMonitor on the spare path,
  raise alarms, refuse (apologize in the caller's language and offer a call-back).
- It fails closed: a call whose recording cannot be proven never reaches a consultant.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from typing import TYPE_CHECKING

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
    start,
)
from recordings.layout import mounted_host_path

if TYPE_CHECKING:
    from dasan.app import Engine

log = logging.getLogger("dasan.recguard")
POLL_S = 0.25
# MixMonitor has been writing since the call was answered (the whole IVR): give a loaded
# machine time to show the file growing before failing over to the spare path.
POLICY = GuardPolicy(confirm_within=dt.timedelta(seconds=8))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def confirm_recording(engine: Engine, session: AgiSession, language: str) -> bool:
    """True once the recording is proven; False after apologizing to the caller."""
    status = start(session.uniqueid, _now(), language)
    pbx_path = await session.get_variable("DASAN_REC") or ""
    # Music while we watch the file grow: a recorder writes only the frames that pass, so with
    # nothing played and a caller's phone sending no audio (silence suppression, a key) the
    # file would not grow, and the call's recording would be missing that time.
    await session.set_music(True)
    while status.state in (GuardState.WAITING_PRIMARY, GuardState.WAITING_SPARE):
        status, commands = await _observe(engine, session, status, pbx_path)
        for command in commands:
            if isinstance(command, RefuseBridge):
                await session.set_music(False)
            pbx_path = await _carry_out(engine, session, status, command, pbx_path)
        if status.state in (GuardState.WAITING_PRIMARY, GuardState.WAITING_SPARE):
            # The caller may hang up while we watch: the call ends now, not at the guard's
            # deadline (its end time in the call log is when the caller left).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(session.hungup.wait(), POLL_S)
            if session.hungup.is_set():
                raise AgiHangup("the caller hung up while the recording was being proven")
    return status.may_bridge


async def _observe(
    engine: Engine, session: AgiSession, status: GuardStatus, pbx_path: str
) -> tuple[GuardStatus, list[GuardCommand]]:
    commands: list[GuardCommand] = []
    if not status.started_seen and await session.get_variable("DASAN_MIXMON_ID"):
        status, out = decide(status, MixMonitorStarted(status.target, _now()), POLICY)
        commands += out
    path = mounted_host_path(engine.settings, pbx_path)
    if path is not None:
        seen = await asyncio.to_thread(observe_recording_file, path, status.target, _now())
        status, out = decide(status, seen, POLICY)
        commands += out
    status, out = decide(status, Tick(_now()), POLICY)
    return status, commands + out


async def _carry_out(
    engine: Engine, session: AgiSession, status: GuardStatus, command: GuardCommand, path: str
) -> str:
    if isinstance(command, RaiseAlarm):
        engine.alarm_soon("recording", command.key, command.severity, command.message)
    elif isinstance(command, StartOnSpare):
        spare = path.replace(
            engine.settings.recordings.pbx_spool_dir, engine.settings.recordings.pbx_spare_dir, 1
        )
        await session.exec("StopMixMonitor")
        await session.set_variable("DASAN_MIXMON_ID", "")
        await session.exec("MixMonitor", spare, "i(DASAN_MIXMON_ID)")
        await session.set_variable("DASAN_REC", spare)
        log.warning("call %s: recording moved to the spare path %s", status.uniqueid, spare)
        return spare
    elif isinstance(command, RefuseBridge):
        await _apologize(engine, session, command)
    elif isinstance(command, AllowBridge):
        log.debug("call %s: recording confirmed on %s", status.uniqueid, command.target.value)
    return path


async def _apologize(engine: Engine, session: AgiSession, refusal: RefuseBridge) -> None:
    prompts = engine.settings.ivr.prompts_pbx_dir
    log.error("call %s: recording cannot be proven; consultant not bridged", session.uniqueid)
    engine.alarm_soon(
        "recording",
        f"unrecorded:{session.uniqueid}",
        Severity.CRITICAL,
        f"call {session.uniqueid} refused: recording could not be confirmed",
    )
    digit = await session.get_data(f"{prompts}/{refusal.language}/recording_unavailable", 5000, 1)
    if digit == "1" and refusal.offer_callback:
        await engine.register_callback_request(session, refusal.language)
        await session.stream_file(f"{prompts}/{refusal.language}/callback_accepted")
