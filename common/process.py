"""Child processes and local ports, as the CLI tools and tests start and stop the engine.

Invariants: ``port_open`` only connects (and closes) to ask whether something listens; it never
sends a byte. ``terminate`` asks with SIGTERM first and kills only after ``grace_s``, so a
process that shuts down cleanly always gets the chance to; it returns once the process is gone.
"""

from __future__ import annotations

import signal
import socket
import subprocess
from typing import Any


def port_open(host: str, port: int, timeout_s: float = 0.2) -> bool:
    """True when something accepts TCP connections at ``host:port``."""
    with socket.socket() as sock:
        sock.settimeout(timeout_s)
        return sock.connect_ex((host, port)) == 0


def terminate(proc: subprocess.Popen[Any], grace_s: float = 20.0, kill_wait_s: float = 5.0) -> None:
    """SIGTERM, wait up to ``grace_s``, then SIGKILL; nothing when it has already exited."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(kill_wait_s)
