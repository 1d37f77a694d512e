"""Kamailio, the cluster's SIP front: start it in its namespace, ask it how the nodes are.

Invariants:
- Kamailio runs in the foreground of its own process (``-D``), so the recorded pid is the
  main Kamailio process and stopping it stops its children.
- Node health is what Kamailio itself believes (RPC ``dispatcher.list`` over its binrpc
  socket), never a guess of ours.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from dasan.cluster import procs
from dasan.cluster.kamailio_cfg import FrontTimers, RegistrarCfg, dispatcher_list, render_cfg
from dasan.cluster.topology import Topology

MODULES_DIR = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"
_DEST = re.compile(r"URI:\s*(?P<uri>sip:\S+).*?FLAGS:\s*(?P<flags>[A-Z]+)", re.DOTALL)


class KamailioError(RuntimeError):
    """Kamailio could not be started or queried; the message says why."""


@dataclass(frozen=True)
class Destination:
    uri: str
    flags: str

    @property
    def state(self) -> str:
        """active, trying, inactive or disabled (the first flag letter)."""
        return {"A": "active", "T": "trying", "I": "inactive", "D": "disabled"}.get(
            self.flags[:1], "unknown"
        )

    @property
    def probing(self) -> bool:
        return "P" in self.flags[1:]


def parse_dispatcher_list(text: str) -> list[Destination]:
    """Destinations from ``kamcmd dispatcher.list`` output (URI and FLAGS of each DEST)."""
    out = []
    for block in text.split("DEST:")[1:]:
        match = _DEST.search(block)
        if match:
            out.append(Destination(match["uri"], match["flags"]))
    return out


class KamailioFront:
    """Kamailio for one cluster, its files kept in ``folder``."""

    def __init__(
        self,
        folder: Path,
        topology: Topology,
        timers: FrontTimers | None = None,
        registrar: RegistrarCfg | None = None,
        env: dict[str, str] | None = None,
    ):
        self.dir = folder
        self._topology = topology
        self._timers = timers or FrontTimers()
        self._registrar = registrar
        # Extra environment of the Kamailio process (PGHOST for a PostgreSQL socket folder).
        self._env = env or {}

    @property
    def pid_file(self) -> Path:
        return self.dir / "kamailio.pid"

    @property
    def ctl_socket(self) -> Path:
        return self.dir / "kamailio_ctl"

    @property
    def log_file(self) -> Path:
        return self.dir / "kamailio.log"

    def pid(self) -> int | None:
        return procs.live_pid(self.pid_file)

    def write_config(self) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        list_file = self.dir / "dispatcher.list"
        list_file.write_text(dispatcher_list(self._topology), encoding="utf-8")
        cfg = self.dir / "kamailio.cfg"
        # It may hold the database password (registered consultants): the owner's only.
        cfg.touch(mode=0o600)
        cfg.chmod(0o600)
        cfg.write_text(
            render_cfg(
                self._topology,
                MODULES_DIR,
                str(list_file),
                str(self.ctl_socket),
                self._timers,
                registrar=self._registrar,
            ),
            encoding="utf-8",
        )
        return cfg

    def up(self, timeout_s: float = 15.0) -> bool:
        """Start Kamailio in its namespace; returns once its RPC answers (False if already up)."""
        if self.pid() is not None:
            return False
        if shutil.which("kamailio") is None:
            raise KamailioError("kamailio is not installed (make system-deps)")
        cfg = self.write_config()
        check = subprocess.run(
            ["kamailio", "-c", "-f", str(cfg)], capture_output=True, text=True, check=False
        )
        if check.returncode != 0:
            raise KamailioError(f"kamailio rejects {cfg}: {check.stderr.strip()[-1500:]}")
        run_dir = self.dir / "run"
        run_dir.mkdir(exist_ok=True)
        self.ctl_socket.unlink(missing_ok=True)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    self._topology.kamailio_netns,
                    "kamailio",
                    "-f",
                    str(cfg),
                    "-D",
                    "-E",
                    "-Y",
                    str(run_dir),
                    "-m",
                    "64",
                    "-M",
                    "8",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env={**os.environ, **self._env},
                start_new_session=True,
            )
        procs.write_pid(self.pid_file, proc.pid)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise KamailioError(f"kamailio exited with {proc.returncode}:\n{self.tail()}")
            if self.ctl_socket.exists():
                try:
                    self.destinations()
                    return True
                except KamailioError:
                    pass
            time.sleep(0.1)
        raise KamailioError(f"kamailio did not answer RPC within {timeout_s:.0f} s:\n{self.tail()}")

    def down(self) -> bool:
        stopped = procs.stop(self.pid_file)
        self.ctl_socket.unlink(missing_ok=True)
        return stopped

    def rpc(self, *command: str) -> str:
        proc = subprocess.run(
            ["kamcmd", "-s", f"unix:{self.ctl_socket}", *command],
            capture_output=True,
            text=True,
            timeout=5.0,
            check=False,
        )
        if proc.returncode != 0:
            raise KamailioError(
                f"kamcmd {' '.join(command)}: {(proc.stderr or proc.stdout).strip()}"
            )
        return proc.stdout

    def destinations(self) -> list[Destination]:
        return parse_dispatcher_list(self.rpc("dispatcher.list"))

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""
