"""The composition root: builds every component from the settings and runs them together.

Invariants:
- Nothing is created at import time; ``Engine`` owns every long-lived object and task.
- Components get only their settings slice. Tasks run under one TaskGroup; stopping closes
  listeners first (no new calls), then lets calls in progress finish or fall back.
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
from typing import Any

from acd.driver import AcdDriver
from cti.ami.client import AmiClient
from cti.ami.messages import AmiError
from cti.live.service import LiveState
from dasan.acd_ami import AcdAmiBridge
from dasan.callbacks import Callbacks
from dasan.callflow import CallFlow
from dasan.config import Settings
from dasan.storage import Storage
from ivr.agi import AgiServer, AgiSession
from ivr.listen import STOP_DIGIT
from ivr.wiring import menu_store, pid_file, reload_menu, speech_pool
from recordings.cdr import citizen_calls, read_cdr
from recordings.layout import cdr_files
from recordings.system import Recordings

log = logging.getLogger("dasan.engine")


class Engine:
    """Dasan's running service: FastAGI, AMI, ACD, recordings, HTTP."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ami = AmiClient(settings.ami)
        self.live = LiveState(self.ami)
        self.acd = AcdDriver(settings.acd, settings.state_dir / "acd")
        self.menus = menu_store(settings)
        # Korean speech runs in worker processes; this process never loads the model.
        self.speech = speech_pool(settings, lambda status: self._write_status(speech=status))
        self.callbacks = Callbacks(self)
        self.flow = CallFlow(self)
        self.agi = AgiServer(
            settings.agi, {"ivr": self.flow.handle, "callback": self.callbacks.handle}
        )
        self._stop = asyncio.Event()
        self._status: dict[str, str] = {"pid": str(os.getpid())}
        # Opened in run(): they need the event loop and the database.
        self._recordings: Recordings | None = None

    @property
    def recordings(self) -> Recordings:
        if self._recordings is None:
            raise RuntimeError("recordings are not open yet")
        return self._recordings

    @property
    def alarms(self) -> Any:
        return self.recordings.alarms

    # Services for call handling ---------------------------------------------------------
    async def hangup_channel(self, channel: str) -> None:
        try:
            await self.ami.action("Hangup", Channel=channel, Cause="16")
        except AmiError as exc:
            log.warning("AMI Hangup %s failed: %s", channel, exc)

    async def consultant_connected(self, call_id: str, consultant_id: str) -> None:
        await self.recordings.calls.consultant_joined(call_id, consultant_id, role="consultant")

    async def register_callback_request(self, session: AgiSession, language: str) -> None:
        await self.callbacks.request_later(session, language)

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
        storage = await Storage.open(self.settings.storage_url)
        self._recordings = await Recordings.open(self.settings, storage=storage)
        await self._close_calls_left_open()
        try:
            async with asyncio.TaskGroup() as tasks:
                background = [
                    tasks.create_task(self.recordings.run()),
                    tasks.create_task(self.live.run()),
                    tasks.create_task(AcdAmiBridge(self).run()),
                    tasks.create_task(self._run_speech()),
                    tasks.create_task(self._keep_ami()),
                ]
                self.acd.log_in_roster()
                # The web edge (and the CTI center listening to the ACD) before the first call.
                web = await self._start_web()
                await self.agi.start()
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
                for task in background:
                    task.cancel()
        finally:
            self.acd.close()
            await storage.close()
            pid_file(self.settings).unlink(missing_ok=True)
            (self.settings.state_dir / "engine-status.json").unlink(missing_ok=True)

    async def _close_calls_left_open(self) -> None:
        """Calls the call log shows as running from before this start (the engine died or was
        stopped mid-call) get their end from the PBX's CDR, so the log tells the truth."""
        cfg = self.settings.recordings
        parsed = await asyncio.to_thread(read_cdr, *cdr_files(self.settings))
        ended = citizen_calls(parsed.rows, cfg.cdr_numbers, cfg.cdr_contexts, cfg.cdr_userfields)
        closed = 0
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
