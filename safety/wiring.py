"""Safety calls inside the engine: what the composition root registers.

``SafetyCalls`` is built with the engine (its FastAGI route must exist from the start) and
opened once the database and the key are (``open``). Disabled (``safety.enabled`` false), it
plans and places nothing; its report route still answers from the database.

Invariant: a safety call is in the call log like any call (the person's number sealed by the
call log), and its recording is handed to the recordings pipeline when the call ends.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from aiohttp import web

from acd.driver import AcdDriver
from common.storage import Storage
from cti.ami.client import AmiClient
from ivr.agi import AgiError, AgiSession
from ivr.closed_days import HolidayCalendar
from ivr.hours import load_closed_days
from ivr.settings import IvrSettings
from recordings.system import Recordings
from safety.call import CallDesk
from safety.clock import CampaignClock
from safety.notify import Notifier, PendingOnly
from safety.protect import PersonalData
from safety.service import SafetyCampaign
from safety.settings import SafetySettings
from safety.store import SafetyStore
from safety.web import PrincipalKey, routes

log = logging.getLogger("dasan.safety")
Component = tuple[str, Callable[[], Awaitable[None]]]


class SafetyCalls:
    def __init__(self, settings: SafetySettings, ivr: IvrSettings, outside_dial: str) -> None:
        self._settings = settings
        self._ivr = ivr
        self._dial = settings.dial or outside_dial
        self.clock = CampaignClock(settings.clock_file)
        self.store: SafetyStore | None = None
        self.campaign: SafetyCampaign | None = None
        self._recordings: Recordings | None = None

    def open(
        self,
        *,
        storage: Storage,
        recordings: Recordings,
        ami: AmiClient,
        acd: AcdDriver,
        hangup_channel: Callable[[str], Awaitable[None]],
        confirm_recording: Callable[[AgiSession, str], Awaitable[bool]],
        on_connected: Callable[[str, str], Awaitable[None]],
        notifier: Notifier | None = None,
    ) -> None:
        self._recordings = recordings
        self.store = SafetyStore(storage, PersonalData(recordings.ring))
        if not self._settings.enabled:
            return
        desk = CallDesk(
            acd,
            self._ivr.prompts_pbx_dir,
            hangup_channel,
            confirm_recording,
            on_connected,
            key_timeout_ms=self._settings.key_timeout_s * 1000,
        )
        calendar = HolidayCalendar(load_closed_days(self._ivr.holidays_file))
        self.campaign = SafetyCampaign(
            self._settings,
            store=self.store,
            ami=ami,
            desk=desk,
            notifier=notifier or PendingOnly(),
            clock=self.clock.now,
            zone=ZoneInfo(self._ivr.timezone),
            is_holiday=calendar.__contains__,
            dial=self._dial,
        )

    def components(self) -> list[Component]:
        return [] if self.campaign is None else [("safety", self.campaign.run)]

    def routes(self, principal_key: PrincipalKey) -> list[web.RouteDef]:
        return (
            []
            if self.store is None
            else routes(self.campaign, self.store, principal_key=principal_key)
        )

    async def handle(self, session: AgiSession) -> None:
        """AGI path ``safety``: the call log and recording around the campaign's session."""
        campaign, recordings = self.campaign, self._recordings
        if campaign is None or recordings is None:
            log.error("safety session %s while safety calls are disabled", session.uniqueid)
            return
        attempt_id = (await session.get_variable("DASAN_SAFETY_ATTEMPT")) or ""
        call = campaign.call_of(attempt_id)
        started = dt.datetime.now(dt.UTC)
        await recordings.calls.call_started(
            session.uniqueid, session.uniqueid, None, call[1] if call else None, started
        )
        if call is not None:
            journey = {"safety_attempt": attempt_id, "person": call[0]}
            await recordings.calls.call_routed(session.uniqueid, call[2], "safety", journey)
        # Read before the call goes on: the dialplan runs AGI() with AGIEXITONHANGUP, so once
        # the person hangs up no command reaches the channel any more.
        try:
            rec = await session.get_variable("DASAN_REC")
        except AgiError:
            rec = None
        try:
            await campaign.handle(session)
        finally:
            await recordings.calls.call_ended(session.uniqueid, dt.datetime.now(dt.UTC))
            if rec:
                await recordings.pipeline.recording_closed(session.uniqueid, rec)
