"""The system under load: the PBX container and the engine, found running or started here.

``dasan load`` expects ``dasan pbx up`` and ``dasan serve`` to be running (the engine is the
thing measured, so it runs as its own process). With ``start=True`` (``dasan load --up``)
whatever is missing is started for the run and stopped afterwards: the PBX through the
container, the engine as a ``python -m dasan serve`` child process logging to the run folder.

Invariants:
- Only what this object started is stopped; a PBX or engine found running is left running.
- ``engine=False`` (benchmarks of the bare PBX) neither needs nor starts the engine.
- The engine counts as running when its pid file names a live process AND its FastAGI port
  accepts connections; every wait polls with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from pathlib import Path

import psutil

from common.process import port_open, terminate
from dasan.config import Settings
from dasan.paths import project_root
from dasan.pbx.container import PbxContainer, PbxError
from dasan.pbx.image import PbxImageError
from dasan.pbx.service import pbx_container, pbx_image, render_generated


class StackError(RuntimeError):
    """The PBX or the engine is not there (and was not to be started) or failed to start."""


class Stack:
    def __init__(
        self,
        settings: Settings,
        *,
        start: bool = False,
        config_path: Path | None = None,
        log_dir: Path | None = None,
        engine: bool = True,
    ) -> None:
        self._settings = settings
        self._start = start
        self._want_engine = engine
        self._config_path = config_path
        self._log_dir = log_dir or settings.state_dir / "load"
        self.container: PbxContainer = pbx_container(settings)
        self._started_pbx = False
        self._engine: subprocess.Popen[bytes] | None = None
        # Exit status of the engine this stack started, once it ended (None while it runs).
        self.engine_exit: int | None = None

    # --- what runs ---------------------------------------------------------------------------
    def asterisk_pid(self) -> int | None:
        return self.container.pid()

    def engine_pid(self) -> int | None:
        if self._engine is not None and self._engine.poll() is None:
            return self._engine.pid
        try:
            pid = int((self._settings.state_dir / "dasan.pid").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if psutil.pid_exists(pid) else None

    def engine_ended(self) -> int | None:
        """Exit status of the engine started here if it has already exited, else None."""
        return self._engine.poll() if self._engine is not None else self.engine_exit

    def engine_listening(self) -> bool:
        agi = self._settings.agi
        return port_open(agi.host, agi.port)

    def asterisk_version(self) -> str | None:
        try:
            return self.container.status().version
        except PbxError:
            return None

    # --- lifecycle ---------------------------------------------------------------------------
    async def __aenter__(self) -> Stack:
        try:
            await asyncio.to_thread(self._ensure_pbx)
            await self._ensure_engine()
        except BaseException:
            await self.__aexit__()
            raise
        return self

    def _ensure_pbx(self) -> None:
        if self.container.pid() is not None:
            return
        if not self._start:
            raise StackError("the PBX is not running: start it with `dasan pbx up` (or use --up)")
        try:
            pbx_image(self._settings).ensure()
            render_generated(self._settings)
            self._started_pbx = self.container.up()
        except (PbxError, PbxImageError) as exc:
            raise StackError(f"could not start the PBX: {exc}") from exc

    async def _ensure_engine(self, timeout_s: float = 60.0) -> None:
        if not self._want_engine or (self.engine_pid() is not None and self.engine_listening()):
            return
        if not self._start:
            raise StackError(
                "the engine is not running (no live pid file or FastAGI port closed): start it "
                "with `dasan serve` (or use --up)"
            )
        engine = await asyncio.to_thread(self._spawn_engine)
        deadline = time.monotonic() + timeout_s
        while not self.engine_listening():
            if engine.poll() is not None:
                raise StackError(f"the engine exited with {engine.returncode}; see engine.log")
            if time.monotonic() > deadline:
                raise StackError(f"the engine did not open FastAGI within {timeout_s:.0f} s")
            await asyncio.sleep(0.1)

    def _spawn_engine(self) -> subprocess.Popen[bytes]:
        self._log_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "dasan"]
        if self._config_path is not None:
            command += ["--config", str(self._config_path)]
        with (self._log_dir / "engine.log").open("ab") as log:
            self._engine = subprocess.Popen(
                [*command, "serve"],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                cwd=project_root(),
            )
        return self._engine

    async def __aexit__(self, *exc: object) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            await asyncio.to_thread(terminate, engine)
            self.engine_exit = engine.returncode
        if self._started_pbx:
            self._started_pbx = False
            with contextlib.suppress(PbxError):
                await asyncio.to_thread(self.container.down)
