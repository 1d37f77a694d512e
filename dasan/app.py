"""The composition root: builds every component from the settings and runs them together.

Invariants:
- Nothing is created at import time; ``Engine`` owns every long-lived object and task.
- Components get only their settings slice. Each long-running component runs supervised
  (``dasan.supervisor``): one that fails restarts with backoff and an alarm while the others go
  on; only a deliberate stop ends the process. Stopping closes listeners first (no new calls),
  lets calls in progress finish or fall back, then gives the writer a moment to flush.
- The call path never waits on the database: call-log writes go through one
  ``DurableWriter`` (journaled, batched, retried); its journal is replayed at start before the
  calls left open by an earlier engine are closed from the CDR.
- The FastAGI server starts even when the PBX is not up yet: AMI logs in in the background
  and reconnects by itself, so calls reaching the engine are still served.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from typing import Any

from acd.commands import ConsultantStateChanged
from acd.driver import AcdDriver
from acd.events import ConsultantReady
from acd.model import NO_ANSWER, ConsultantState
from acd.roster import load_with_tenants
from acd.state import AcdState
from callpath.acd_ami import AcdAmiBridge
from callpath.agi_rescue import AgiRescuer, StuckCall
from callpath.callbacks import Callbacks, CallbackSetup, journal_sizes
from callpath.callflow import CallFlow, FlowSetup
from callpath.recguard import GuardSetup, confirm_recording
from callpath.textoffer import TextSender, gateway_listening
from care.acd_dial import AcdCallbackDial, free_consultants
from care.dialer import CallbackDialer
from care.notify import CallbackNotifier
from care.survey_agi import SurveyCall
from care.system import Care
from channels.service import ChannelsService
from common.alarms import Severity
from common.storage import PoolSettings, Storage
from common.writer import DurableWriter
from cti.ami.client import AmiClient
from cti.ami.messages import AmiError
from cti.live.service import LiveState
from dasan.channels_wiring import build_channels
from dasan.cluster.claims import AdvisoryClaims
from dasan.config import Settings
from dasan.faults import Faults
from dasan.presence import Presence
from dasan.safety_notify import TicketNotifier
from dasan.security.ban import BanList, Banner, NftFirewall
from dasan.sms_notify import EmergencyContactSms, TicketSms
from dasan.supervisor import Supervisor
from ivr.agi import AgiServer, AgiSession
from ivr.listen import STOP_DIGIT
from ivr.wiring import menu_store, pid_file, prompt_paths, reload_menu, speech_input, speech_pool
from recordings.cdr import citizen_calls, read_cdr
from recordings.keys import NumberProtector
from recordings.layout import cdr_files, mounted_host_path
from recordings.system import Recordings
from safety.notify import Notifier as SafetyNotifier
from safety.wiring import SafetyCalls

log = logging.getLogger("dasan.engine")
# States in which a consultant holds no call (their cluster claim is given back).
_FREE = frozenset({ConsultantState.READY, ConsultantState.NOT_READY, ConsultantState.LOGGED_OUT})


class Engine:
    """Dasan's running service: FastAGI, AMI, ACD, recordings, HTTP."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.faults = Faults(settings.faults)
        self.ami = AmiClient(settings.ami)
        # The one reader of AMI events: the live model, passing the stream on to the CTI, the
        # ACD bridge and the IVR's key witness (``self.live.events``).
        self.live = LiveState(self.ami)
        # What earlier engines journaled, before this one adds to it (call-backs left pending).
        self._journal_at_start = journal_sizes(settings.state_dir / "acd")
        # A required after-call note holds wrap-up until the consultant ends it (the CTI's
        # gate refuses that until the note is written): the wrap-up timer never skips it.
        acd_settings = settings.acd.model_copy(
            update={"wrap_up_needs_release": settings.knowledge.require_note}
        )
        # Districts as tenants (acd.tenants_file): their queues and skills are in the one ACD.
        catalog, roster, self.tenants = load_with_tenants(acd_settings)
        self.acd = AcdDriver(
            acd_settings,
            settings.state_dir / "acd",
            state=AcdState.new(catalog, roster, acd_settings),
        )
        self.menus = menu_store(settings)
        # Korean speech runs in worker processes; this process never loads the model.
        self.speech = speech_pool(
            settings,
            lambda status: self._write_status(speech=status),
            settings.knowledge.assist_transcripts_per_worker,
        )
        # The call path is built once the call log is open (``_wire_call_path``).
        self._flow: CallFlow | None = None
        self._callbacks: Callbacks | None = None
        self.presence = Presence(self)
        self.safety = SafetyCalls(settings.safety, settings.ivr, settings.acd.outside_dial)
        self.agi = AgiServer(
            settings.agi,
            {
                "ivr": self._ivr_session,
                "callback": self._callback_session,
                "safety": self.safety.handle,
                "survey": self._survey,
            },
            on_timeout=self._agi_timed_out,
        )
        # A call left in AGI() by a half-open FastAGI link is moved to the fallback over AMI.
        self.agi_rescuer = AgiRescuer(self.ami)
        self._stop = asyncio.Event()
        # Set once FastAGI listens: a call-back placed before that would reach no engine
        # session (the dialplan's fallback would take the citizen, the reservation lapse).
        self._listening = asyncio.Event()
        self._status: dict[str, str] = {"pid": str(os.getpid())}
        # Opened in run(): they need the event loop and the database.
        self._recordings: Recordings | None = None
        self._care: Care | None = None
        self._dialer: CallbackDialer | None = None
        self.writer: DurableWriter | None = None
        self.channels: ChannelsService | None = None
        self._chores: set[asyncio.Task[Any]] = set()
        # Consultant claims shared with the other nodes' engines (acd.shared_claims).
        self.claims: AdvisoryClaims | None = None
        self.supervisor = Supervisor(
            lambda: self._recordings.alarms if self._recordings is not None else None
        )

    @property
    def recordings(self) -> Recordings:
        if self._recordings is None:
            raise RuntimeError("recordings are not open yet")
        return self._recordings

    @property
    def care(self) -> Care:
        if self._care is None:
            raise RuntimeError("care is not open yet")
        return self._care

    @property
    def alarms(self) -> Any:
        return self.recordings.alarms

    @property
    def flow(self) -> CallFlow:
        if self._flow is None:
            raise RuntimeError("the call path is not wired yet")
        return self._flow

    @property
    def callbacks(self) -> Callbacks:
        if self._callbacks is None:
            raise RuntimeError("the call path is not wired yet")
        return self._callbacks

    async def _ivr_session(self, session: AgiSession) -> None:
        await self.flow.handle(session)

    async def _callback_session(self, session: AgiSession) -> None:
        await self.callbacks.handle(session)

    def _wire_call_path(self, recordings: Recordings) -> GuardSetup:
        """Each call-path piece from what it needs (the call log is open; no call came yet)."""
        settings = self.settings
        prompts_dir = settings.ivr.prompts_pbx_dir
        callbacks = Callbacks(
            CallbackSetup(
                acd=self.acd,
                ami=self.ami,
                calls=recordings.calls,
                recordings=recordings.pipeline,
                acd_settings=settings.acd,
                default_language=settings.ivr.default_language,
                prompts_dir=prompts_dir,
                requests_dir=settings.state_dir / "callbacks",
                hangup_channel=self.hangup_channel,
                alarm=self.alarm_soon,
                events=self.live.events,
            )
        )
        guard = GuardSetup(
            host_path=partial(mounted_host_path, settings),
            pbx_spool_dir=settings.recordings.pbx_spool_dir,
            pbx_spare_dir=settings.recordings.pbx_spare_dir,
            prompts_dir=prompts_dir,
            alarm=self.alarm_soon,
            request_callback=callbacks.request_later,
        )
        self._callbacks = callbacks
        self._flow = CallFlow(
            FlowSetup(
                acd=self.acd,
                ami=self.ami,
                calls=recordings.calls,
                recordings=recordings.pipeline,
                menus=self.menus,
                callbacks=callbacks,
                guard=guard,
                prompts=prompt_paths(settings),
                speech=lambda: speech_input(settings, self.speech, self.stop_recording),
                default_language=settings.ivr.default_language,
                outside_dial=settings.acd.outside_dial,
                hangup_channel=self.hangup_channel,
                consultant_connected=self.consultant_connected,
                before_serve=self.faults.maybe_crash_ivr,
                events=self.live.events,
                texts=self.sms_offer,
                claims=self.claims,
                tenants=self.tenants,
            )
        )
        return guard

    async def sms_offer(self) -> TextSender | None:
        """The IVR's after-hours SMS offer: only with an SMS gateway configured and listening."""
        channels = self.channels
        if channels is None or channels.gateway is None:
            return None
        kannel = channels.settings.kannel
        if not await gateway_listening(kannel.host, kannel.sendsms_port):
            return None
        return TextSender(channels.send_sms, channels.settings.chat_url)

    # Services for call handling ---------------------------------------------------------
    async def hangup_channel(self, channel: str) -> None:
        try:
            await self.ami.action("Hangup", Channel=channel, Cause="16")
        except AmiError as exc:
            log.warning("AMI Hangup %s failed: %s", channel, exc)

    async def _agi_timed_out(self, session: AgiSession, command: str) -> None:
        # Read now: the session's handler is ending and the fallback needs the language.
        language = self._flow.language_of(session.uniqueid) if self._flow else None
        stuck = StuckCall(
            session.uniqueid, session.channel, command, language, served=session.path == "survey"
        )
        await self.agi_rescuer.rescue(stuck)

    async def consultant_connected(self, call_id: str, consultant_id: str) -> None:
        await self.recordings.calls.consultant_joined(call_id, consultant_id, role="consultant")

    async def _survey(self, session: AgiSession) -> None:
        """The dialplan's after-call step: the survey when enabled; the call's end either way."""
        await self.flow.after_call(session, self._survey_questions)

    async def _survey_questions(self, session: AgiSession) -> None:
        if self.settings.care.survey_enabled:
            prompts = self.settings.ivr.prompts_pbx_dir
            await SurveyCall(self.care.survey, prompts).handle(session)

    # Lifecycle --------------------------------------------------------------------------
    def request_stop(self) -> None:
        self._stop.set()

    def request_reload(self) -> None:
        reload_menu(self.menus)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.request_stop)
        loop.add_signal_handler(signal.SIGINT, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        self.settings.state_dir.mkdir(parents=True, exist_ok=True)
        pid_file(self.settings).write_text(str(os.getpid()), encoding="utf-8")
        storage = await self._open_storage()
        try:
            async with asyncio.TaskGroup() as tasks:
                background = [
                    tasks.create_task(self.supervisor.supervise(name, component))
                    for name, component in self._components()
                ]
                await self._serve_until_stopped()
                for task in background:
                    task.cancel()
        finally:
            self.acd.close()
            if self.claims is not None:
                await self.claims.close()
            if self.channels is not None and self.channels.gateway is not None:
                await self.channels.gateway.close()
            if self.writer is not None:
                self.writer.close()
            await storage.close()
            pid_file(self.settings).unlink(missing_ok=True)
            (self.settings.state_dir / "engine-status.json").unlink(missing_ok=True)

    async def _open_storage(self) -> Storage:
        cfg = self.settings.storage
        storage = await Storage.open(
            self.settings.storage_url,
            pool=PoolSettings(
                cfg.pool_size, cfg.max_overflow, cfg.pool_timeout_s, cfg.sqlite_busy_timeout_s
            ),
        )
        self.writer = DurableWriter(
            storage,
            self.settings.state_dir / "storage",
            batch_max=cfg.batch_max,
            queue_max=cfg.queue_max,
            retry_min_s=cfg.retry_min_s,
            retry_max_s=cfg.retry_max_s,
        )
        self.writer.open()  # an earlier run's unacknowledged writes are replayed first
        self.presence.use_database(storage.engine)
        if self.settings.acd.shared_claims:
            if storage.dialect != "postgresql":
                raise RuntimeError("acd.shared_claims needs storage.url on PostgreSQL")
            self.claims = AdvisoryClaims(storage.engine)
            self.claims.on_free(self._consultant_free)
            self.acd.on_state_change(self._release_when_free)
        self._recordings = await Recordings.open(self.settings, storage=storage, writer=self.writer)
        self.writer.alarms = self._recordings.alarms
        guard = self._wire_call_path(self._recordings)
        self._recordings.pipeline.watch_calls(self.flow.serving)
        requests = self.settings.state_dir / "callbacks" / "requests.jsonl"
        protector = NumberProtector(self._recordings.ring)
        self._care = Care.open(self.settings.care, storage, protector, requests)
        dial = AcdCallbackDial(
            self.acd, self.callbacks.accepted, storage, wait_s=self.settings.care.callback_wait_s
        )
        self._dialer = self._care.dialer(dial, free_consultants(self.acd))
        self._care.on_given_up = lambda text: self.alarm_soon(
            "callbacks", "given-up", Severity.WARNING, text
        )
        self.channels = build_channels(self.settings, self._recordings, self.acd)
        safety_notifier: SafetyNotifier = TicketNotifier(self._care.tickets)
        if self.channels is not None:  # text messages go through the gateway when it is up
            self._care.outbox.register(
                "sms", TicketSms(self.channels, CallbackNotifier(self._care.callbacks))
            )
            safety_notifier = EmergencyContactSms(self.channels, safety_notifier)
        if self.acd.journal is not None:
            self.acd.journal.on_problem = self._acd_journal_problem
        self.safety.open(
            storage=storage,
            recordings=self._recordings,
            ami=self.ami,
            acd=self.acd,
            hangup_channel=self.hangup_channel,
            confirm_recording=partial(confirm_recording, guard),
            on_connected=self.consultant_connected,
            notifier=safety_notifier,
        )
        return storage

    def _acd_journal_problem(self, message: str | None) -> None:
        """The ACD journal's writer failing (``message``) or writing again (None): an alarm."""
        if message is None:
            self._chore(self.recordings.alarms.clear("acd", "journal"))
        else:
            self.alarm_soon("acd", "journal", Severity.MAJOR, message)

    def alarm_soon(self, source: str, key: str, severity: Severity, message: str) -> None:
        """Raise an alarm without waiting for it to be stored (the call path must not wait on
        the database); listeners hear it once it is stored or its storing failed."""
        self._chore(self.recordings.alarms.raise_alarm(source, key, severity, message))

    def _chore(self, work: Coroutine[Any, Any, object]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    def _components(self) -> list[tuple[str, Callable[[], Awaitable[None]]]]:
        writer = self.writer
        assert writer is not None and self._dialer is not None
        return [
            ("storage-writer", writer.run),
            ("calls-left-open", self._close_calls_left_open),
            ("callbacks-left-pending", self._keep_callbacks_left_pending),
            ("recordings", self.recordings.run),
            ("care", self.care.run),
            ("callback-dialer", self._run_dialer),
            ("live-state", self.live.run),
            ("acd-ami", self._run_acd_ami),
            ("presence", self.presence.run),
            ("bans", self._run_bans),
            ("ivr-keys", self.flow.watch_keys),
            ("speech", self._run_speech),
            ("ami-login", self._keep_ami),
            ("status", self._report_writes),
            *self.safety.components(),
            *([("channels", self.channels.run)] if self.channels is not None else []),
            *([("consultant-claims", self.claims.watch)] if self.claims is not None else []),
        ]

    def _release_when_free(self, change: ConsultantStateChanged) -> None:
        """A consultant who answered here stays claimed until talk and wrap-up are over."""
        if self.claims is not None and change.state in _FREE:
            self.claims.release_soon(change.consultant_id)

    def _consultant_free(self, consultant_id: str) -> None:
        """A consultant busy on another node is free again: ready here too, if they were set
        not ready only because that node had them (the withdrawn offer's "no answer")."""
        agent = self.acd.state.agents.get(consultant_id)
        if (
            agent is not None
            and agent.state is ConsultantState.NOT_READY
            and (agent.reason == NO_ANSWER)
        ):
            self.acd.feed(ConsultantReady(consultant_id))

    async def _run_acd_ami(self) -> None:
        bridge = AcdAmiBridge(
            self.live.events,
            self.acd,
            self.consultant_connected,
            before_event=self.faults.maybe_crash_ami_bridge,
        )
        await bridge.run()

    async def _run_bans(self) -> None:
        bans = BanList.for_carrier(self.settings.bans, self.settings.pbx.carrier_addresses)
        await Banner(self.live.events, bans, NftFirewall()).run()

    async def _report_writes(self) -> None:
        """The writer's figures in the status file, for operators and tests (every 5 s)."""
        writer = self.writer
        assert writer is not None
        while True:
            stats = writer.stats
            self._write_status(
                writes_backlog=str(writer.backlog),
                writes_applied=str(stats.applied),
                writes_failed_attempts=str(stats.failures),
                writes_rejected=str(stats.rejected),
            )
            await asyncio.sleep(5.0)

    async def _serve_until_stopped(self) -> None:
        self.presence.start()  # REGISTER-only: nobody offered before registering
        self.acd.log_in_roster()
        # The web edge (and the CTI center listening to the ACD) before the first call.
        web = await self._start_web()
        await self.agi.start()
        self._listening.set()
        self._write_status(listening="yes")
        log.info(
            "engine up: FastAGI %s:%d, AMI %s:%d, HTTP %s:%d",
            self.settings.agi.host,
            self.agi.bound_port,
            self.settings.ami.host,
            self.settings.ami.port,
            self.settings.http.host,
            self.settings.http.port,
        )
        await self._stop.wait()
        log.info("engine stopping")
        await self.agi.stop(grace_s=2.0)
        await web.cleanup()
        await self.ami.stop()
        if self.writer is not None and not await self.writer.flush(within_s=5.0):
            log.warning(
                "%d write(s) not in the database yet; kept in the journal", self.writer.backlog
            )

    async def _run_dialer(self) -> None:
        """The call-back list's dialer, once FastAGI listens (a called-back citizen is served
        by this engine's session, not the fallback)."""
        assert self._dialer is not None
        await self._listening.wait()
        await self._dialer.run()

    async def _keep_callbacks_left_pending(self) -> None:
        """Call-backs a killed engine left pending: kept once each, then dialed at once
        through the call-back list (not at its next tick)."""
        if await self.callbacks.keep_left_pending(self._journal_at_start):
            assert self._dialer is not None
            await self.care.take_requests()
            await self._listening.wait()
            started = await self._dialer.step()
            log.warning("dialing %d call-back(s) an earlier engine left pending", len(started))

    async def _close_calls_left_open(self) -> None:
        """Calls the call log shows as running from before this start (the engine died or was
        stopped mid-call) get their end from the PBX's CDR, so the log tells the truth."""
        cfg = self.settings.recordings
        parsed = await asyncio.to_thread(read_cdr, *cdr_files(self.settings))
        ended = citizen_calls(parsed.rows, cfg.cdr_numbers, cfg.cdr_contexts, cfg.cdr_userfields)
        closed = 0
        if self.writer is not None:
            await self.writer.flush(within_s=60.0)  # the journal of an earlier run, replayed
        recent = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
        for call in await self.recordings.calls.all(recent):
            cdr = ended.get(call.uniqueid)
            if call.ended_at is None and cdr is not None:
                await self.recordings.calls.call_ended(call.id, cdr.end)
                closed += 1
        if closed:
            log.warning("closed %d call(s) left open by an earlier engine, from the CDR", closed)

    async def _start_web(self) -> Any:
        from dasan.web import start_web

        return await start_web(self)

    async def _run_speech(self) -> None:
        if self.speech is None:
            self._write_status(speech="disabled")
            return
        await self.speech.run()

    async def stop_recording(self, channel: str) -> bool:
        """End a speech recording early (the recognizer heard the end of an utterance): the
        stop digit is queued as if the caller sent it, for Asterisk's shortest DTMF (80 ms,
        during which the caller's audio is not passed on, as for a key)."""
        try:
            await self.ami.action(
                "PlayDTMF", 2.0, Channel=channel, Digit=STOP_DIGIT, Duration="80", Receive="true"
            )
        except AmiError as exc:
            log.warning("AMI PlayDTMF %s failed: %s", channel, exc)
            return False
        return True

    def _write_status(self, **changes: str) -> None:
        """``<state>/engine-status.json``: what is up, for operators and test fixtures."""
        self._status.update(changes)
        path = self.settings.state_dir / "engine-status.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._status), encoding="utf-8")
        tmp.replace(path)

    async def _keep_ami(self) -> None:
        """Log in to AMI, retrying until the PBX answers; the client reconnects after that."""
        delay = self.settings.ami.reconnect_min_s
        while not self._stop.is_set():
            try:
                await self.ami.start()
                return
            except AmiError as exc:
                log.warning("AMI not reachable yet (%s); retrying in %.1f s", exc, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
                delay = min(delay * 2, self.settings.ami.reconnect_max_s)
