"""One citizen call, end to end, inside its FastAGI session (AGI path ``ivr``).

Invariants:
- The call is recorded before this runs (MixMonitor in the dialplan); the recording is
  confirmed (recordings.guard) before any consultant is bridged. If it cannot be confirmed,
  even on the spare path, the caller hears an apology in their language and is offered a
  call-back, and an alarm is raised: no conversation is ever unrecorded.
- ``DASAN_DONE=1`` is set only once the engine has served the call; if this session dies for
  any reason the dialplan falls through to the static fallback queues, still recorded.
- Every call is in the call log from its start; routing, consultants and end are added as
  they happen, and the recording is handed to the pipeline when the call ends.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from acd.errors import InvalidEvent
from acd.events import CallArrived
from acd.model import Language, Priority
from acd.waiting import WaitingRoom, wait_and_connect
from dasan.recguard import confirm_recording
from ivr.agi import AgiError, AgiHangup, AgiSession
from ivr.runner import IvrOutcome, run_menu
from ivr.targets import OFFERS
from ivr.wiring import prompt_paths, speech_input

if TYPE_CHECKING:
    from dasan.app import Engine

log = logging.getLogger("dasan.call")

DONE_VARIABLE = "DASAN_DONE"


def acd_priority(ivr_priority: int) -> Priority:
    """IVR priorities run 1 (most urgent) .. 9; the core has strict tiers."""
    if ivr_priority <= 2:
        return Priority.SAFETY_RETURN
    if ivr_priority <= 4:
        return Priority.CALLBACK
    return Priority.NORMAL


def acd_service(engine: Engine, target: str, language: str) -> str:
    """The ACD queue for an IVR target: a Korean-only desk (the general line, a fallback)
    chosen by a foreign-language caller becomes that language's desk, whose overflow brings in
    a Korean consultant with an interpreter."""
    service = engine.acd.state.catalog.get(target)
    if service is not None and language not in service.languages:
        foreign = f"foreign_{language}"
        if engine.acd.state.catalog.get(foreign) is not None:
            return foreign
    return target


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CallFlow:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def handle(self, session: AgiSession) -> None:
        engine = self._engine
        call_id = session.uniqueid
        started_at = await self._answered_at(session)
        caller = session.variables.get("agi_callerid", "")
        await engine.recordings.calls.call_started(
            call_id, session.uniqueid, None, caller if caller.isdigit() else None, started_at
        )
        rec_path = await session.get_variable("DASAN_REC")
        # False when the call goes on in the dialplan's static fallback after this session.
        ends_here = True
        try:
            ends_here = await self._serve(session, call_id, caller)
        except AgiHangup:
            log.info("call %s: caller hung up", call_id)
        except AgiError as exc:
            ends_here = False
            log.error("call %s: AGI failure, the dialplan falls back: %s", call_id, exc)
        finally:
            engine.acd.close_ticket(call_id)
            if ends_here:
                await engine.recordings.calls.call_ended(call_id, utc_now())
                if rec_path:
                    await engine.recordings.pipeline.recording_closed(session.uniqueid, rec_path)

    async def _answered_at(self, session: AgiSession) -> dt.datetime:
        """When the channel was answered (the recording started right after)."""
        value = await session.get_full_variable("${CDR(answer,u)}")
        try:
            return dt.datetime.fromtimestamp(float(value or ""), dt.UTC)
        except ValueError:
            return utc_now()

    async def _serve(self, session: AgiSession, call_id: str, caller: str) -> bool:
        """Run the IVR and the queue; False if the call was handed to the static fallback."""
        engine = self._engine
        settings = engine.settings
        outcome = await run_menu(
            session,
            engine.menus.current,
            prompt_paths(settings),
            speech_input(settings, engine.speech, engine.stop_recording),
            utc_now,
            language=settings.ivr.default_language,
            entry=session.variables.get("agi_dnid", ""),
        )
        service = outcome.target
        if service is not None and service not in OFFERS:
            service = acd_service(engine, service, outcome.language)
        journey = {
            **outcome.journey,
            "target": outcome.target,
            "tags": dict(outcome.tags),  # the final routing tags (menu and route node)
            "priority": outcome.priority,
        }
        await engine.recordings.calls.call_routed(call_id, outcome.language, service, journey)
        if outcome.target in OFFERS:
            # Outside hours the menu offers a call-back or an SMS answer; it confirmed it.
            await engine.callbacks.request_later(
                session, outcome.language, reason="after-hours", kind=outcome.target or ""
            )
        if outcome.target is None or outcome.target in OFFERS:
            # The caller chose to end, or took an offer the menu already confirmed.
            log.info("call %s: ended in the IVR (%s)", call_id, outcome.target or "goodbye")
            await session.set_variable(DONE_VARIABLE, "1")
            return True
        if not await confirm_recording(engine, session, outcome.language):
            await session.set_variable(DONE_VARIABLE, "1")
            return True
        return await self._queue(session, call_id, caller, outcome, service or "general")

    async def _queue(
        self, session: AgiSession, call_id: str, caller: str, outcome: IvrOutcome, target: str
    ) -> bool:
        engine = self._engine
        ticket = engine.acd.open_ticket(call_id)
        try:
            ticket.arrival = CallArrived(
                call_id,
                Language(outcome.language),
                target,
                acd_priority(outcome.priority),
                frozenset(f"{k}={v}" for k, v in outcome.tags),
            )
            engine.acd.feed(ticket.arrival)
        except (InvalidEvent, ValueError) as exc:
            log.error("call %s: the ACD refused it (%s); static fallback takes it", call_id, exc)
            return False
        room = WaitingRoom(
            prompts_dir=engine.settings.ivr.prompts_pbx_dir,
            hangup_channel=engine.hangup_channel,
            on_connected=engine.consultant_connected,
            on_callback_accepted=lambda cid: engine.callbacks.accepted(cid, outcome.language),
            outside_dial=engine.settings.acd.outside_dial,
        )
        result = await wait_and_connect(
            session, engine.acd, ticket, room, language=outcome.language, caller_number=caller
        )
        log.info("call %s: %s", call_id, result.value)
        await session.set_variable(DONE_VARIABLE, "1")
        return True
