"""The composition root: builds every component from the settings and runs them together.

Invariants:
- Nothing is created at import time; ``Engine`` owns every long-lived object and task.
- Components get only their settings slice. Tasks run under one TaskGroup; stopping cancels
  them and closes listeners in reverse order of start.
- The FastAGI server starts even when the PBX or the database are not up yet: AMI reconnects
  in the background, so calls already reaching the engine are still served.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

from cti.ami.client import AmiClient
from cti.ami.messages import AmiError
from dasan.config import Settings
from ivr.agi.server import AgiServer
from ivr.agi.session import AgiSession

log = logging.getLogger("dasan.engine")

Handler = Callable[[AgiSession], Awaitable[None]]


class Engine:
    """Dasan's running service: FastAGI, AMI, ACD, recordings, HTTP."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ami = AmiClient(settings.ami)
        self._stop = asyncio.Event()
        self._reload_hooks: list[Callable[[], None]] = []
        self.agi = AgiServer(settings.agi, self.router())

    def router(self) -> dict[str, Handler]:
        from dasan.callflow import CallFlow

        flow = CallFlow(self)
        return {"ivr": flow.handle}

    @property
    def pid_file(self) -> Path:
        return self.settings.state_dir / "dasan.pid"

    def request_stop(self) -> None:
        self._stop.set()

    def request_reload(self) -> None:
        for hook in self._reload_hooks:
            try:
                hook()
            except (OSError, ValueError) as exc:
                log.error("reload failed, keeping the running configuration: %s", exc)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.request_stop)
        loop.add_signal_handler(signal.SIGINT, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        self.settings.state_dir.mkdir(parents=True, exist_ok=True)
        self.pid_file.write_text(str(os.getpid()), encoding="utf-8")
        try:
            async with asyncio.TaskGroup() as tasks:
                background = [tasks.create_task(self._keep_ami())]
                await self.agi.start()
                log.info(
                    "engine up: FastAGI %s:%d, AMI %s:%d",
                    self.settings.agi.host,
                    self.agi.bound_port,
                    self.settings.ami.host,
                    self.settings.ami.port,
                )
                await self._stop.wait()
                log.info("engine stopping")
                await self.agi.stop(grace_s=2.0)
                await self.ami.stop()
                for task in background:
                    task.cancel()
        finally:
            self.pid_file.unlink(missing_ok=True)

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
