"""One citizen call, end to end, inside its FastAGI session (AGI path ``ivr``).

Invariants:
- The call is recorded before this runs (MixMonitor in the dialplan); the recording is
  confirmed (recordings.guard) before any consultant is bridged. If it cannot be confirmed,
  even on the spare path, the caller hears an apology in their language and is offered a
  call-back, and an alarm is raised: no conversation is ever unrecorded.
- ``DASAN_DONE=1`` is set only once the engine has served the call; if this session dies for
  any reason the dialplan falls through to the static fallback queues, still recorded.
- Every call is in the call log from its start; the IVR's progress (language once chosen,
  journey entries), routing, consultants and end are added as they happen, and the recording
  is handed to the pipeline when the call ends. The end is the PBX's hang-up time (AMI
  ``Hangup``'s ``Timestamp``) whenever AMI reports it, even after the session ended (then it
  replaces the session's own estimate) or for a call the session left to the fallback; only
  without it is the end the answer plus the monotonic time the session saw. Progress writes never hold up the caller:
  the newest state wins, one write at a time, all done before the routing is written.
- Built from ``FlowSetup`` (the ACD, AMI, the call log, the pipeline, the menu, the
  call-back desk and the recording guard), never from the engine.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError

from acd.claims import ConsultantClaims
from acd.driver import AcdDriver
from acd.errors import InvalidEvent
from acd.events import CallAbandoned, CallArrived
from acd.model import Language, Priority
from acd.tenants import Tenants
from acd.waiting import WaitingRoom, wait_and_connect
from callpath.ports import (
    AmiLink,
    CallRecords,
    ConsultantConnected,
    HangupChannel,
    RecordingSink,
)
from callpath.recguard import GuardSetup, confirm_recording
from callpath.textoffer import (
    OFFER_TARGET,
    TextSender,
    journey_outcome,
    offer_tags,
    send_text,
    tell_caller,
)
from common.dialstring import dialable_number
from cti.ami.client import AmiEventSource
from cti.ami.messages import AmiEvent
from ivr.agi import AgiError, AgiHangup, AgiSession
from ivr.keys import KeyQueue, KeyWitnesses
from ivr.listen import STOP_DIGIT
from ivr.menu.loader import Menu
from ivr.menu.state import Mark, MenuState, journey_to_json
from ivr.runner import IvrOutcome, PromptPaths, SpeechInput, run_menu
from ivr.targets import OFFERS, TAG_SERVICE
from ivr.video import menu_entry, negotiated_video
from recordings.calllog import CallLogError

log = logging.getLogger("dasan.call")

DONE_VARIABLE = "DASAN_DONE"


def acd_priority(ivr_priority: int) -> Priority:
    """IVR priorities run 1 (most urgent) .. 9; the core has strict tiers."""
    if ivr_priority <= 2:
        return Priority.SAFETY_RETURN
    if ivr_priority <= 4:
        return Priority.CALLBACK
    return Priority.NORMAL


def acd_service(acd: AcdDriver, target: str, language: str) -> str:
    """The ACD queue for an IVR target: a Korean-only desk (the general line, a fallback)
    chosen by a foreign-language caller becomes that language's desk, whose overflow brings in
    a Korean consultant with an interpreter."""
    catalog = acd.state.catalog
    service = catalog.get(target)
    if service is not None and language not in service.languages:
        foreign = f"foreign_{language}"
        if catalog.get(foreign) is not None:
            return foreign
    return target


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# Seconds the engine may plausibly see a call after its answer (AGI connects at once).
_MAX_ANSWER_LAG_S = 60.0


class _Elapsed:
    """A call's end as its answer time (the PBX's clock) plus the time elapsed on the
    monotonic clock: a step of the engine's wall clock (NTP, a wrong setting) during the call
    never gives it a wrong or negative length."""

    def __init__(self, answered_at: dt.datetime) -> None:
        self._answered_at = answered_at
        lag = (utc_now() - answered_at).total_seconds()
        self._lag_s = min(max(lag, 0.0), _MAX_ANSWER_LAG_S)
        self._t0 = time.monotonic()

    def end(self) -> dt.datetime:
        seconds = self._lag_s + time.monotonic() - self._t0
        return self._answered_at + dt.timedelta(seconds=seconds)


class LiveJourney:
    """The IVR's progress into the call log while the caller is in the menu (see invariants)."""

    def __init__(self, calls: CallRecords, call_id: str) -> None:
        self._calls = calls
        self._call_id = call_id
        self._latest: MenuState | None = None
        self._task: asyncio.Task[None] | None = None

    def __call__(self, state: MenuState) -> None:
        self._latest = state
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name=f"journey-{self._call_id}")

    async def flush(self) -> None:
        if self._task is not None:
            await self._task

    async def _drain(self) -> None:
        while self._latest is not None:
            state, self._latest = self._latest, None
            chosen = any(e.mark is Mark.LANGUAGE for e in state.journey)
            try:
                await self._calls.call_progress(
                    self._call_id,
                    state.language if chosen else None,
                    state.tag_map().get(TAG_SERVICE),
                    journey_to_json(state),
                )
            except (SQLAlchemyError, CallLogError) as exc:
                log.warning("call %s: IVR progress not written: %s", self._call_id, exc)


class MenuSource(Protocol):
    """The menu new calls get (``ivr.menu.loader.MenuStore``: reloadable)."""

    @property
    def current(self) -> Menu: ...


class CallbackDesk(Protocol):
    """The call-back side of a call (``callpath.callbacks.Callbacks``)."""

    def accepted(self, call_id: str, language: str) -> None: ...

    async def request_later(
        self,
        session: AgiSession,
        language: str,
        *,
        reason: str = ...,
        kind: str = ...,
    ) -> None: ...


async def no_texts() -> TextSender | None:
    return None


@dataclass(frozen=True)
class FlowSetup:
    """What a citizen's call needs."""

    acd: AcdDriver
    ami: AmiLink
    calls: CallRecords
    recordings: RecordingSink
    menus: MenuSource
    callbacks: CallbackDesk
    guard: GuardSetup
    prompts: PromptPaths
    # Korean speech for one call (None: keys only); asked once per call.
    speech: Callable[[], SpeechInput | None]
    default_language: str
    # The ACD's dial string for an outside party (``AcdSettings.outside_dial``).
    outside_dial: str
    hangup_channel: HangupChannel
    consultant_connected: ConsultantConnected
    # Runs with the caller's number before the call is served (test-only fault injection
    # may raise).
    before_serve: Callable[[str], None] = lambda _caller: None
    # Where the key witness reads AMI events (the engine: the live model's feed); None: ``ami``.
    events: AmiEventSource | None = None
    # The SMS sender of the after-hours text offer, asked per call (None: no offer is made).
    texts: Callable[[], Awaitable[TextSender | None]] = no_texts
    # Consultant claims shared with the other engines of a cluster (None: this engine alone).
    claims: ConsultantClaims | None = None
    # Districts as tenants (None: the city alone): a district's calls wait in its queues.
    tenants: Tenants | None = None


# Set by the dialplan on a district's number (dialplans/120.conf): the number dialed.
DISTRICT_DIAL_VARIABLE = "DASAN_DISTRICT_DIAL"


# Calls the engine served whose channel may still go on in the dialplan (the survey), kept
# until their after-call session or their hang-up; past this many the oldest are forgotten
# (AMI down: no Hangup events to forget them by).
_MAX_AFTER_CALL = 10_000


class CallFlow:
    def __init__(self, setup: FlowSetup) -> None:
        self._setup = setup
        # Keys each channel received, from AMI: AGI drops those pressed between commands.
        self.keys = KeyWitnesses(lambda: setup.ami.connected)
        # call id -> the clock and recording of a call this engine ended, while its channel
        # may go on.
        self._served: dict[str, tuple[_Elapsed, str | None]] = {}
        # Channels whose citizen session is open right now.
        self._active: set[str] = set()
        # Channel -> the language its caller chose, until AMI says the channel hung up (a
        # call rescued from a dead FastAGI link keeps its language in the fallback).
        self._languages: dict[str, str] = {}
        # Calls this engine wrote into the call log (-> their answer time) whose hang-up AMI
        # has not reported yet: that hang-up, on the PBX's clock, becomes their end.
        self._open: dict[str, dt.datetime] = {}
        # Channel -> the PBX's hang-up time, reported while a session of the channel runs.
        self._hung_up_at: dict[str, dt.datetime] = {}

    def language_of(self, uniqueid: str) -> str | None:
        """The language the caller on that channel chose in the IVR (None: not chosen)."""
        return self._languages.get(uniqueid)

    def serving(self, uniqueid: str) -> bool:
        """Whether that channel's call is going on here (in its session or after it)."""
        return uniqueid in self._active or uniqueid in self._served

    async def watch_keys(self) -> None:
        """Feed ``keys`` from AMI (DTMFEnd received by a channel) for the engine's lifetime."""
        setup = self._setup
        source = setup.ami if setup.events is None else setup.events
        async for item in source.subscribe(name="ivr-keys"):
            if not isinstance(item, AmiEvent):
                continue
            # The speech menu's stop digit is ours (AMI PlayDTMF), never a caller's key.
            digit = item.get("Digit")
            if item.name == "DTMFEnd" and item.get("Direction") == "Received":
                if digit == STOP_DIGIT:
                    continue
                self.keys.key(item.uniqueid, digit)
            elif item.name == "Hangup":
                self.keys.channel_gone(item.uniqueid)
                self._served.pop(item.uniqueid, None)
                self._languages.pop(item.uniqueid, None)
                await self._channel_hung_up(item)

    async def _channel_hung_up(self, event: AmiEvent) -> None:
        """AMI's hang-up of a call in the call log: a session still running takes its time as
        the end; otherwise it is written now (over the session's estimate, or for a call the
        engine left to the fallback or lost on a dead FastAGI link)."""
        uid = event.uniqueid
        answered = self._open.get(uid)
        at = event.timestamp
        if answered is None or at is None:
            return
        ended = max(answered, dt.datetime.fromtimestamp(at, dt.UTC))
        if uid in self._active:
            self._hung_up_at[uid] = ended
            return
        del self._open[uid]
        await self._write_end(uid, ended)

    async def _session_over(self, uid: str) -> None:
        """After a session: the hang-up AMI reported while it ran, if the session did not
        take it (it had computed its end already)."""
        ended = self._hung_up_at.pop(uid, None)
        if ended is not None and self._open.pop(uid, None) is not None:
            await self._write_end(uid, ended)

    def _end_of(self, uid: str, elapsed: _Elapsed) -> dt.datetime:
        """The end to write as a session ends: the PBX's hang-up time if AMI reported it
        already, else the session's estimate (kept open for AMI's hang-up to replace)."""
        ended = self._hung_up_at.pop(uid, None)
        if ended is None:
            return elapsed.end()
        self._open.pop(uid, None)
        return ended

    async def _write_end(self, uid: str, ended: dt.datetime) -> None:
        try:
            await self._setup.calls.call_ended(uid, ended)
        except Exception:  # the key witness goes on; the session's estimate stays
            log.exception("call %s: could not write the PBX's hang-up time as its end", uid)

    async def after_call(
        self, session: AgiSession, serve: Callable[[AgiSession], Awaitable[None]]
    ) -> None:
        """The citizen's channel after the engine served the call (the dialplan's survey):
        the call goes on, and so does its recording, so its end is written again when this
        session ends, on the same clock as the first end (answer plus monotonic time), and the
        recording is handed to the pipeline again (it was still growing the first time)."""
        served = self._served.pop(session.uniqueid, None)
        self._active.add(session.uniqueid)
        try:
            await serve(session)
        finally:
            self._active.discard(session.uniqueid)
            if served is not None:
                elapsed, rec_path = served
                ended = self._end_of(session.uniqueid, elapsed)
                await self._setup.calls.call_ended(session.uniqueid, ended)
                if rec_path:
                    await self._setup.recordings.recording_closed(session.uniqueid, rec_path)
            await self._session_over(session.uniqueid)

    async def handle(self, session: AgiSession) -> None:
        call_id = session.uniqueid
        self._active.add(session.uniqueid)
        try:
            await self._handle(session, call_id)
        finally:
            self._active.discard(session.uniqueid)
            await self._session_over(session.uniqueid)

    async def _handle(self, session: AgiSession, call_id: str) -> None:
        setup = self._setup
        started_at = await self._answered_at(session)
        elapsed = _Elapsed(started_at)
        caller = session.variables.get("agi_callerid", "")
        tenant = await self._district(session)
        # Queued for the one database writer: the call never waits on the database.
        await setup.calls.call_started(
            call_id, session.uniqueid, None, dialable_number(caller), started_at, tenant=tenant
        )
        self._opened(session.uniqueid, started_at)
        rec_path = await session.get_variable("DASAN_REC")
        # False when the call goes on in the dialplan's static fallback after this session.
        ends_here = True
        try:
            setup.before_serve(caller)
            ends_here = await self._serve(session, call_id, caller, tenant)
        except AgiHangup:
            log.info("call %s: caller hung up", call_id)
        except AgiError as exc:
            ends_here = False
            log.error("call %s: AGI failure, the dialplan falls back: %s", call_id, exc)
            self._withdraw(call_id)
        except asyncio.CancelledError:
            # The engine is stopping: the call goes on in the PBX (the fallback, or its end),
            # so its end and recording are taken from the CDR and the spool at the next start.
            ends_here = False
            raise
        except Exception:
            # DASAN_DONE stays unset: the dialplan's static fallback takes the caller. The AGI
            # server logs the crash once; the ACD must not keep offering this call.
            ends_here = False
            self._withdraw(call_id)
            raise
        finally:
            self.keys.close(session.uniqueid)
            setup.acd.close_ticket(call_id)
            if ends_here:
                await setup.calls.call_ended(call_id, self._end_of(session.uniqueid, elapsed))
                self._remember_served(call_id, elapsed, rec_path)
                if rec_path:
                    await setup.recordings.recording_closed(session.uniqueid, rec_path)

    def _opened(self, uid: str, answered: dt.datetime) -> None:
        self._open[uid] = answered
        while len(self._open) > _MAX_AFTER_CALL:
            del self._open[next(iter(self._open))]

    def _remember_served(self, call_id: str, elapsed: _Elapsed, rec_path: str | None) -> None:
        self._served[call_id] = (elapsed, rec_path)
        while len(self._served) > _MAX_AFTER_CALL:
            del self._served[next(iter(self._served))]

    def _withdraw(self, call_id: str) -> None:
        """The call left the engine for the fallback: take it out of the ACD (a consultant
        ringing or reserved for it is released)."""
        if call_id in self._setup.acd.state.calls:
            try:
                self._setup.acd.feed(CallAbandoned(call_id))
            except InvalidEvent as exc:
                log.warning("call %s: could not withdraw it from the ACD: %s", call_id, exc)

    async def _district(self, session: AgiSession) -> str | None:
        """The district whose number the citizen dialed (None: the city's 120, or no
        districts configured: then nothing is asked of the PBX)."""
        tenants = self._setup.tenants
        if tenants is None:
            return None
        dialed = await session.get_variable(DISTRICT_DIAL_VARIABLE)
        district = tenants.by_dial(dialed) if dialed else None
        if dialed and district is None:
            log.warning(
                "call %s: %s is no district's number; the city takes it", session.uniqueid, dialed
            )
        return district

    async def _answered_at(self, session: AgiSession) -> dt.datetime:
        """When the channel was answered (the recording started right after)."""
        value = await session.get_full_variable("${CDR(answer,u)}")
        try:
            return dt.datetime.fromtimestamp(float(value or ""), dt.UTC)
        except ValueError:
            return utc_now()

    async def _serve(
        self, session: AgiSession, call_id: str, caller: str, tenant: str | None = None
    ) -> bool:
        """Run the IVR and the queue; False if the call was handed to the static fallback."""
        setup = self._setup
        live = LiveJourney(setup.calls, call_id)
        keys = self.keys.open(session.uniqueid)
        # A video call (sign language) enters the menu at its video entry, past the audio menus.
        video = await negotiated_video(session, session.uniqueid)
        entry = menu_entry(session.variables.get("agi_dnid", ""), video)
        texts = await setup.texts()

        def progress(state: MenuState) -> None:
            live(state)
            if any(e.mark is Mark.LANGUAGE for e in state.journey):
                self._languages[session.uniqueid] = state.language

        try:
            outcome = await run_menu(
                session,
                setup.menus.current,
                setup.prompts,
                setup.speech(),
                utc_now,
                language=setup.default_language,
                entry=entry,
                on_progress=progress,
                keys=keys,
                tags=offer_tags(texts, caller),
            )
        finally:
            await live.flush()
        if keys:  # typed beyond what the menu asked for: not answers to the waiting room
            log.info("call %s: keys %s left unused by the IVR", call_id, keys.clear())
        # The static fallback (dialplans/120.conf) asks no language again once this is set.
        await session.set_variable("DASAN_LANG", outcome.language)
        service = outcome.target
        if service is not None and service not in OFFERS:
            service = acd_service(setup.acd, service, outcome.language)
        journey = {
            **outcome.journey,
            "target": outcome.target,
            "tags": dict(outcome.tags),  # the final routing tags (menu and route node)
            "priority": outcome.priority,
        }
        sms_sent = None
        if outcome.target == OFFER_TARGET:
            # The SMS is sent now and the outcome logged; then the caller hears whether it was.
            sms_sent = await send_text(texts, caller, outcome.language)
            journey["sms"] = journey_outcome(sms_sent)
        await setup.calls.call_routed(call_id, outcome.language, service, journey)
        if sms_sent is not None:
            await tell_caller(session, sms_sent, outcome.language, setup.prompts.pbx_dir)
        elif outcome.target in OFFERS:
            # Outside hours the menu offers a call-back; it confirmed it.
            await setup.callbacks.request_later(
                session, outcome.language, reason="after-hours", kind=outcome.target or ""
            )
        if outcome.target is None or outcome.target in OFFERS:
            # The caller chose to end, or took an offer the menu already confirmed.
            log.info("call %s: ended in the IVR (%s)", call_id, outcome.target or "goodbye")
            await session.set_variable(DONE_VARIABLE, "1")
            return True
        if not await confirm_recording(setup.guard, session, outcome.language):
            await session.set_variable(DONE_VARIABLE, "1")
            return True
        queue = service or "general"
        if setup.tenants is not None:
            open_now = setup.tenants.is_open(tenant, setup.menus.current.hours, utc_now())
            if not open_now:
                log.info(
                    "call %s: district %s is closed; the city's queue takes it", call_id, tenant
                )
            queue = setup.tenants.queue_for(tenant, queue, open_now=open_now)
        return await self._queue(session, call_id, caller, outcome, queue, keys=keys)

    async def _queue(
        self,
        session: AgiSession,
        call_id: str,
        caller: str,
        outcome: IvrOutcome,
        target: str,
        *,
        keys: KeyQueue,
    ) -> bool:
        setup = self._setup
        ticket = setup.acd.open_ticket(call_id)
        try:
            ticket.arrival = CallArrived(
                call_id,
                Language(outcome.language),
                target,
                acd_priority(outcome.priority),
                frozenset(f"{k}={v}" for k, v in outcome.tags),
            )
            setup.acd.feed(ticket.arrival)
        except (InvalidEvent, ValueError) as exc:
            log.error("call %s: the ACD refused it (%s); static fallback takes it", call_id, exc)
            return False
        room = WaitingRoom(
            prompts_dir=setup.prompts.pbx_dir,
            hangup_channel=setup.hangup_channel,
            on_connected=setup.consultant_connected,
            on_callback_accepted=lambda cid: setup.callbacks.accepted(cid, outcome.language),
            outside_dial=setup.outside_dial,
            keys=keys,
            claims=setup.claims,
        )
        result = await wait_and_connect(
            session, setup.acd, ticket, room, language=outcome.language, caller_number=caller
        )
        log.info("call %s: %s", call_id, result.value)
        await session.set_variable(DONE_VARIABLE, "1")
        return True
