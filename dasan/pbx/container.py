"""Asterisk as a lightweight container: unshare (mount, pid, ipc, uts) + chroot, loopback shared.

Invariants:
- Every bind mount is made inside the container's own mount namespace, so the mounts vanish
  with the container and never leak into the host (a mount left behind by one checkout would
  make the next one silently use the wrong configuration).
- The shared root filesystem is never written: /etc/asterisk, the dialplans and the prompts are
  mounted read-only; Asterisk's run, lib, log, spool and cache folders come from this instance's
  state folder, so several instances (each in its own network namespace) share one image.
- ``up`` returns only once Asterisk is fully booted; ``up`` twice is harmless.
- Asterisk runs as root inside the container (running as the image's own ``asterisk`` user
  made recordings fail silently on bind-mounted folders).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from dasan.pbx.image import PbxImage


class PbxError(RuntimeError):
    """The PBX could not be started, stopped or queried; the message says what to do."""


@dataclass(frozen=True)
class Mount:
    source: Path
    target: str  # inside the root filesystem, absolute
    read_only: bool = False


@dataclass(frozen=True)
class PbxStatus:
    running: bool
    pid: int | None
    version: str | None = None
    uptime_s: int | None = None
    active_channels: int | None = None
    active_calls: int | None = None


class PbxContainer:
    """One Asterisk instance: its state folder, its mounts and its process."""

    def __init__(
        self,
        image: PbxImage,
        instance_dir: Path,
        mounts: list[Mount],
        sip_bind: tuple[str, int],
        boot_timeout_s: float,
        *,
        netns: str | None = None,
    ) -> None:
        self._image = image
        # A named network namespace (a cluster node) to start Asterisk in; None: this one.
        self._netns = netns
        self.dir = instance_dir
        self._mounts = mounts
        self._sip_bind = sip_bind
        self._boot_timeout_s = boot_timeout_s
        # The unshare process while this object started it (reaped by down()).
        self._launcher: subprocess.Popen[bytes] | None = None

    # Paths ------------------------------------------------------------------------
    @property
    def pid_file(self) -> Path:
        return self.dir / "asterisk.pid"

    @property
    def console_log(self) -> Path:
        return self.dir / "console.log"

    def _writable_dirs(self) -> list[Mount]:
        return [
            Mount(self.dir / "run", "/run/asterisk"),
            Mount(self.dir / "lib", "/var/lib/asterisk"),
            Mount(self.dir / "log", "/var/log/asterisk"),
            Mount(self.dir / "spool", "/var/spool/asterisk"),
            Mount(self.dir / "cache", "/var/cache/asterisk"),
        ]

    # Lifecycle --------------------------------------------------------------------
    def pid(self) -> int | None:
        """Host PID of this instance's running Asterisk, or None (a stale pid file is removed).

        The pid file holds the pid and its start time: a pid reused by another process (or
        another instance's Asterisk after a reboot) is not taken for ours.
        """
        try:
            pid_text, _, started = self.pid_file.read_text().strip().partition(" ")
            pid = int(pid_text)
        except (FileNotFoundError, ValueError):
            return None
        if _comm(pid) != "asterisk" or (started and _start_ticks(pid) != started):
            self.pid_file.unlink(missing_ok=True)
            return None
        return pid

    def up(self) -> bool:
        """Start Asterisk and wait until fully booted. Returns False if it was already up."""
        if self.pid() is not None:
            self.cli("core waitfullybooted", timeout=self._boot_timeout_s)
            return False
        if self._netns is None:  # a cluster node's namespace is fresh: nothing else binds there
            self._check_sip_port_free()
        rootfs = self._image.rootfs
        mounts = self._writable_dirs() + self._mounts
        for mount in mounts:
            mount.source.mkdir(parents=True, exist_ok=True)
        for log_dir in ("cdr-custom", "cel-custom"):
            (self.dir / "log" / log_dir).mkdir(parents=True, exist_ok=True)
        script = self.dir / "start.sh"
        script.write_text(_start_script(rootfs, mounts), encoding="utf-8")
        if self.console_log.exists():
            self.console_log.replace(self.console_log.with_suffix(".log.1"))
        with self.console_log.open("ab") as console:
            netns = ["ip", "netns", "exec", self._netns] if self._netns else []
            launcher = subprocess.Popen(
                [
                    *netns,
                    "unshare",
                    "--mount",
                    "--pid",
                    "--ipc",
                    "--uts",
                    "--fork",
                    "--propagation",
                    "private",
                    "/bin/sh",
                    str(script),
                ],
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=console,
                start_new_session=True,
            )
        self._launcher = launcher
        asterisk_pid = self._wait_for_child(launcher)
        self.pid_file.write_text(f"{asterisk_pid} {_start_ticks(asterisk_pid)}", encoding="utf-8")
        self._wait_booted(launcher)
        return True

    def down(self, timeout_s: float = 20.0) -> bool:
        """Stop Asterisk cleanly (core stop now), killing it if it does not stop in time."""
        pid = self.pid()
        if pid is None:
            return False
        with contextlib.suppress(PbxError):
            self.cli("core stop now", timeout=5.0)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        if self._launcher is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._launcher.wait(timeout_s)
            self._launcher = None
        return True

    def status(self) -> PbxStatus:
        pid = self.pid()
        if pid is None:
            return PbxStatus(running=False, pid=None)
        version = self.cli("core show version").strip()
        uptime = self.cli("core show uptime seconds")
        channels = self.cli("core show channels count")
        return PbxStatus(
            running=True,
            pid=pid,
            version=version,
            uptime_s=_first_int_after(uptime, "System uptime:"),
            active_channels=_first_int_before(channels, "active channel"),
            active_calls=_first_int_before(channels, "active call"),
        )

    def kill(self) -> bool:
        """SIGKILL Asterisk (what a crashed node looks like); False when it was not running."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
        if self._launcher is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._launcher.wait(10.0)
            self._launcher = None
        return True

    def cli(self, command: str, timeout: float = 10.0) -> str:
        """Run an Asterisk CLI command inside the container (nsenter into its mount ns + root)."""
        pid = self.pid()
        if pid is None:
            raise PbxError("the PBX is not running (start it with: dasan pbx up)")
        try:
            proc = subprocess.run(
                ["nsenter", "-t", str(pid), "-m", "-r", "--", "/usr/sbin/asterisk", "-rx", command],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise PbxError(f"asterisk -rx {command!r} timed out after {timeout:.0f} s") from exc
        if proc.returncode != 0:
            raise PbxError(
                f"asterisk -rx {command!r} failed: {(proc.stderr or proc.stdout).strip()}"
            )
        # The remote console seeds its own entity id and complains in a container; drop that.
        return "".join(
            line
            for line in proc.stdout.splitlines(keepends=True)
            if not line.startswith("No ethernet interface found")
        )

    # Internals --------------------------------------------------------------------
    def _check_sip_port_free(self) -> None:
        host, port = self._sip_bind
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise PbxError(
                    f"SIP port {host}:{port}/udp is already in use ({exc.strerror}); another PBX"
                    " may be running here: check `dasan pbx status` or stop it with `dasan pbx down`"
                ) from exc

    def _wait_for_child(self, launcher: subprocess.Popen[bytes]) -> int:
        deadline = time.monotonic() + 10.0
        children = Path(f"/proc/{launcher.pid}/task/{launcher.pid}/children")
        while time.monotonic() < deadline:
            if launcher.poll() is not None:
                raise PbxError(self._died_message("the container exited while starting"))
            with contextlib.suppress(FileNotFoundError):
                for child in children.read_text().split():
                    comm = Path(f"/proc/{child}/comm").read_text().strip()
                    if comm == "asterisk":
                        return int(child)
            time.sleep(0.02)
        launcher.kill()
        raise PbxError(self._died_message("asterisk did not start within 10 s"))

    def _wait_booted(self, launcher: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self._boot_timeout_s
        last = ""
        while time.monotonic() < deadline:
            if launcher.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise PbxError(self._died_message("asterisk exited during boot"))
            try:
                self.cli("core waitfullybooted", timeout=max(1.0, deadline - time.monotonic()))
                return
            except PbxError as exc:
                last = str(exc)
                time.sleep(0.05)
        raise PbxError(f"asterisk did not finish booting in {self._boot_timeout_s:.0f} s: {last}")

    def _died_message(self, what: str) -> str:
        tail = ""
        with contextlib.suppress(FileNotFoundError):
            tail = "\n".join(self.console_log.read_text(errors="replace").splitlines()[-20:])
        return f"{what}; last console lines ({self.console_log}):\n{tail}"


def _start_script(rootfs: Path, mounts: list[Mount]) -> str:
    root = shlex.quote(str(rootfs))
    lines = [
        "#!/bin/sh",
        "# Runs inside fresh mount/pid/ipc/uts namespaces (written by dasan pbx up).",
        "set -e",
        "hostname dasan-pbx",
        f"mount -t proc proc {root}/proc",
        f"mount --rbind /dev {root}/dev",
        f"mount -t tmpfs -o size=256m tmpfs {root}/tmp",  # noqa: S108 - inside the chroot
    ]
    for mount in mounts:
        target = f"{root}{mount.target}"
        lines.append(f"mount --bind {shlex.quote(str(mount.source))} {shlex.quote(target)}")
        if mount.read_only:
            lines.append(f"mount -o remount,bind,ro {shlex.quote(target)}")
    lines += [
        "ulimit -n $(ulimit -Hn)",
        "ulimit -c 0",
        f"exec chroot {root} /usr/sbin/asterisk -f -C /etc/asterisk/asterisk.conf",
    ]
    return "\n".join(lines) + "\n"


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except FileNotFoundError:
        return ""


def _start_ticks(pid: int) -> str:
    """The process's start time (clock ticks since boot, /proc/<pid>/stat field 22)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (FileNotFoundError, IndexError):
        return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = ""
    with contextlib.suppress(FileNotFoundError, IndexError):
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    return state != "Z"


def _first_int_after(text: str, label: str) -> int | None:
    for line in text.splitlines():
        if label in line:
            tail = line.split(label, 1)[1].split()
            if tail and tail[0].isdigit():
                return int(tail[0])
    return None


def _first_int_before(text: str, label: str) -> int | None:
    for line in text.splitlines():
        if label in line:
            head = line.split(label, 1)[0].split()
            if head and head[-1].isdigit():
                return int(head[-1])
    return None
