"""Local ports and stopping a child: SIGTERM first, SIGKILL only after the grace time."""

from __future__ import annotations

import socket
import subprocess
import sys

from common.process import port_open, terminate


def test_port_open_sees_a_listener_and_its_absence() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert port_open("127.0.0.1", port)
    assert not port_open("127.0.0.1", port)


def _child(code: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"up\n"  # its signal handlers are in place
    return proc


def test_terminate_lets_a_clean_shutdown_happen() -> None:
    proc = _child(
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(7))\n"
        "print('up', flush=True)\n"
        "time.sleep(60)\n"
    )
    with proc:  # closes its pipe
        terminate(proc, grace_s=10)
    assert proc.returncode == 7  # its own exit, from its SIGTERM handler


def test_terminate_kills_what_ignores_sigterm() -> None:
    proc = _child(
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('up', flush=True)\n"
        "time.sleep(60)\n"
    )
    with proc:
        terminate(proc, grace_s=0.3)
    assert proc.returncode == -9
    terminate(proc)  # already gone: nothing to do
