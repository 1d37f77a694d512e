"""Kannel as the project runs it: bearerbox, smsbox and (tests, demo) fakesmsc as the carrier.

Invariants:
- The configuration is generated under ``<state>/sms/`` from the settings; every listener is
  bound to (and only accepts) loopback.
- ``up`` is idempotent (running processes are kept) and returns only when the sendsms port
  answers and the carrier is connected, or raises ``KannelError`` saying which part failed
  and where its log is; ``down`` stops what ``up`` started (by the PIDs it wrote), carrier
  first, and never touches any other process.
- The fake carrier reads its messages from ``<state>/sms/carrier.in`` (a FIFO, one message
  per line in fakesmsc's format) and writes what it receives to ``carrier.log``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from channels.settings import KannelSettings
from common.process import port_open

PARTS = ("bearerbox", "smsbox", "carrier")


class KannelError(RuntimeError):
    """The gateway could not be started or reached."""


@dataclass(frozen=True, slots=True)
class KannelPaths:
    root: Path

    @property
    def conf(self) -> Path:
        return self.root / "kannel.conf"

    @property
    def carrier_in(self) -> Path:
        return self.root / "carrier.in"

    def log(self, part: str) -> Path:
        return self.root / f"{part}.log"

    def pid(self, part: str) -> Path:
        return self.root / f"{part}.pid"


def inbound_key(cfg: KannelSettings) -> str:
    """The shared secret Kannel sends with each inbound message (derived, never configured)."""
    secret = cfg.password.get_secret_value().encode()
    return hmac.new(secret, b"dasan kannel inbound", hashlib.sha256).hexdigest()[:32]


def inbound_url(cfg: KannelSettings) -> str:
    # %p sender, %P receiver, %c coding, %C charset, %b the message as bytes, %I Kannel's id.
    return (
        f"{cfg.engine_url}/api/sms/inbound?key={inbound_key(cfg)}"
        "&from=%p&to=%P&coding=%c&charset=%C&text=%b&id=%I"
    )


def render_conf(cfg: KannelSettings, paths: KannelPaths) -> str:
    admin = cfg.admin_password.get_secret_value()
    lines = [
        "group = core",
        f"admin-port = {cfg.admin_port}",
        f"admin-password = {admin}",
        f"status-password = {admin}",
        f"admin-interface = {cfg.host}",
        f"admin-allow-ip = {cfg.host}",
        "admin-deny-ip = *.*.*.*",
        f"smsbox-port = {cfg.smsbox_port}",
        f"smsbox-interface = {cfg.host}",
        f"box-allow-ip = {cfg.host}",
        "box-deny-ip = *.*.*.*",
        f"log-file = {paths.log('bearerbox')}",
        "log-level = 1",
        "store-type = file",
        f"store-location = {paths.root / 'kannel.store'}",
        "dlr-storage = internal",
        "sms-combine-concatenated-mo = true",
        "",
        "group = smsc",
        "smsc = fake",
        "smsc-id = carrier",
        f"port = {cfg.smsc_port}",
        f"our-host = {cfg.host}",
        f"connect-allow-ip = {cfg.host}",
        "",
        "group = smsbox",
        f"bearerbox-host = {cfg.host}",
        f"bearerbox-port = {cfg.smsbox_port}",
        f"sendsms-port = {cfg.sendsms_port}",
        f"sendsms-interface = {cfg.host}",
        f"log-file = {paths.log('smsbox')}",
        "log-level = 1",
        "mo-recode = false",
        # The engine restarting must not lose an inbound SMS: Kannel retries the get-url.
        "http-request-retry = 60",
        "http-queue-delay = 1",
        "",
        "group = sendsms-user",
        f"username = {cfg.username}",
        f"password = {cfg.password.get_secret_value()}",
        f"user-allow-ip = {cfg.host}",
        "user-deny-ip = *.*.*.*",
        f"max-messages = {cfg.max_parts}",
        "concatenation = true",
        f"default-sender = {cfg.sender}",
        "",
        "group = sms-service",
        "keyword = default",
        f'get-url = "{inbound_url(cfg)}"',
        "max-messages = 0",
        "catch-all = true",
        "accept-x-kannel-headers = false",
        "",
    ]
    return "\n".join(lines)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def _read_pid(paths: KannelPaths, part: str) -> int | None:
    try:
        pid = int(paths.pid(part).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _alive(pid) else None


def _wait(until: float, check: object, what: str, log: Path) -> None:
    assert callable(check)
    while not check():
        if time.monotonic() > until:
            raise KannelError(f"{what} did not come up; see {log}")
        time.sleep(0.05)


class Kannel:
    """Start, stop and inspect the gateway (blocking; the CLI and test fixtures use it)."""

    def __init__(self, cfg: KannelSettings, state_dir: Path) -> None:
        self.cfg = cfg
        self.paths = KannelPaths(state_dir / "sms")
        # The children this object started, reaped when stopped (a long-lived owner such as a
        # test fixture keeps them; the CLI's exit leaves them running, as intended).
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def _spawn(self, part: str, argv: list[str], stdin: int | None = None) -> None:
        if _read_pid(self.paths, part) is not None:
            return
        log = self.paths.log(part + "-console") if part != "carrier" else self.paths.log(part)
        with log.open("ab") as out:
            proc = subprocess.Popen(
                argv,
                stdin=stdin if stdin is not None else subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.paths.root,
            )
        self.paths.pid(part).write_text(str(proc.pid))
        self._children[part] = proc

    def up(self, timeout_s: float = 20.0) -> None:
        for binary in (self.cfg.bearerbox, self.cfg.smsbox):
            if not binary.exists():
                raise KannelError(
                    f"{binary} is missing: install Debian's kannel (make system-deps)"
                )
        self.paths.root.mkdir(parents=True, exist_ok=True)
        self.paths.conf.write_text(render_conf(self.cfg, self.paths), encoding="utf-8")
        until = time.monotonic() + timeout_s
        host = self.cfg.host
        self._spawn("bearerbox", [str(self.cfg.bearerbox), str(self.paths.conf)])
        _wait(
            until,
            lambda: port_open(host, self.cfg.smsbox_port),
            "bearerbox",
            self._log("bearerbox"),
        )
        self._spawn("smsbox", [str(self.cfg.smsbox), str(self.paths.conf)])
        _wait(until, lambda: port_open(host, self.cfg.sendsms_port), "smsbox", self._log("smsbox"))
        if self.cfg.fake_carrier:
            self._start_carrier()
            _wait(until, self.carrier_connected, "the fake carrier", self.paths.log("carrier"))

    def _log(self, part: str) -> Path:
        return self.paths.log(part)

    def _start_carrier(self) -> None:
        if not self.cfg.fakesmsc.exists():
            raise KannelError(f"{self.cfg.fakesmsc} is missing: install kannel-extras")
        fifo = self.paths.carrier_in
        if not fifo.exists():
            os.mkfifo(fifo, 0o600)
        # Read-write: the open never blocks and the carrier never sees end of input.
        fd = os.open(fifo, os.O_RDWR)
        try:
            self._spawn(
                "carrier",
                # -i: fakesmsc paces its messages (1 s apart by default); a carrier does not.
                [
                    str(self.cfg.fakesmsc),
                    *("-H", self.cfg.host, "-r", str(self.cfg.smsc_port), "-i", "0.001"),
                ],
                stdin=fd,
            )
        finally:
            os.close(fd)

    def status_text(self) -> str | None:
        url = (
            f"http://{self.cfg.host}:{self.cfg.admin_port}/status.txt?password="
            f"{self.cfg.admin_password.get_secret_value()}"
        )
        try:
            with urllib.request.urlopen(url, timeout=2.0) as answer:
                body: bytes = answer.read()
                return body.decode("utf-8", "replace")
        except OSError:
            return None

    def carrier_connected(self) -> bool:
        text = self.status_text()
        return text is not None and "carrier" in text and "online" in text

    def status(self) -> dict[str, object]:
        pids = {part: _read_pid(self.paths, part) for part in PARTS}
        text = self.status_text()
        return {
            "running": all(pids[p] is not None for p in ("bearerbox", "smsbox")),
            "pids": pids,
            "sendsms": port_open(self.cfg.host, self.cfg.sendsms_port),
            "carrier_online": text is not None and "online" in text,
            "config": str(self.paths.conf),
            "logs": str(self.paths.root),
        }

    def down(self, grace_s: float = 10.0) -> list[str]:
        stopped = []
        for part in reversed(PARTS):
            pid = _read_pid(self.paths, part)
            if pid is not None:
                os.kill(pid, signal.SIGTERM)
                until = time.monotonic() + grace_s
                while _alive(pid) and time.monotonic() < until:
                    time.sleep(0.05)
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
                stopped.append(part)
            child = self._children.pop(part, None)
            if child is not None:
                child.wait(5.0)
            self.paths.pid(part).unlink(missing_ok=True)
        return stopped

    def inject(self, line: str) -> None:
        """One message from the carrier (fakesmsc's format: "from to type text")."""
        if "\n" in line:
            raise ValueError("one message per line")
        fd = os.open(self.paths.carrier_in, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, line.encode() + b"\n")
        finally:
            os.close(fd)
