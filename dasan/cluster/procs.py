"""Processes the cluster started and must find again from another command (pid files).

Invariant: a pid file holds the pid and the process's start time (clock ticks since boot), so
a pid reused by an unrelated process is never taken for ours and never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def start_ticks(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (FileNotFoundError, IndexError):
        return ""


def alive(pid: int) -> bool:
    state = ""
    with contextlib.suppress(FileNotFoundError, IndexError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state not in ("", "Z")


def write_pid(path: Path, pid: int) -> None:
    path.write_text(f"{pid} {start_ticks(pid)}", encoding="utf-8")


def live_pid(path: Path) -> int | None:
    """The pid recorded in ``path`` if that very process still runs; else None (file removed)."""
    try:
        pid_text, _, ticks = path.read_text().strip().partition(" ")
        pid = int(pid_text)
    except (FileNotFoundError, ValueError):
        return None
    if not alive(pid) or start_ticks(pid) != ticks:
        path.unlink(missing_ok=True)
        return None
    return pid


def stop(path: Path, grace_s: float = 15.0) -> bool:
    """SIGTERM the recorded process, SIGKILL after ``grace_s``; False when none was running."""
    pid = live_pid(path)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.05)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
        kill_deadline = time.monotonic() + 5.0
        while time.monotonic() < kill_deadline and alive(pid):
            time.sleep(0.05)
    path.unlink(missing_ok=True)
    return True
