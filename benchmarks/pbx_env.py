"""An isolated PBX + engine for the PBX benchmarks (no ``main``: a helper, not a benchmark).

Invariants:
- Benchmarks run in their own network namespace (``unshare --net``, own loopback, like
  ``make test``) with their own state folder, so they never collide with a running demo:
  ``in_own_netns`` re-executes the calling module there when it is not already.
- Every series gets a freshly started Asterisk (and engine): Asterisk keeps its RSS after an
  overload burst, so memory is only comparable between fresh starts.
- The trivial FastAGI IVR for extension 9003 is Dasan's own ``ivr.agi.AgiServer`` in its own
  process on 127.0.0.1:4574 (dialplans/bench.conf), so its CPU is measured apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

from dasan.config import Settings, load_settings
from dasan.load.stack import Stack

REPO = Path(__file__).resolve().parents[1]
NETNS_FLAG = "DASAN_BENCH_NETNS"
PG_SOCKET = os.environ.get("DASAN_TEST_PG_SOCKET", "/var/run/postgresql")
BENCH_AGI_PORT = 4574
# The benchmark extensions (9001-9003, the per-phase 9010-9013 and 9020-9023) are reached
# only from this loopback address (the PBX's endpoint "bench", context dasan-bench); citizens
# never reach them.
BENCH_SOURCE = "127.0.0.2"
BENCH_EXTENSIONS = (
    *("9001", "9002", "9003"),
    *("9010", "9011", "9012", "9013"),
    *("9020", "9021", "9022", "9023"),
)


def caller_of(service: str) -> tuple[str, str]:
    """(source address, PJSIP endpoint) a series' calls come from: the benchmark extensions
    from BENCH_SOURCE as "bench", the citizen line from loopback as the citizens' trunk."""
    if service in BENCH_EXTENSIONS:
        return BENCH_SOURCE, "bench"
    return "127.0.0.1", "citizens"


def in_own_netns(module: str, argv: list[str]) -> int | None:
    """Re-run ``python -m module argv`` in a private network namespace; None if already in one."""
    if os.environ.get(NETNS_FLAG) == "1":
        return None
    env = os.environ | {NETNS_FLAG: "1"}
    command = [
        "unshare",
        "--net",
        "--",
        "sh",
        "-c",
        'ip link set lo up && exec "$0" "$@"',
        sys.executable,
        "-m",
        module,
        *argv,
    ]
    return subprocess.run(command, env=env, cwd=REPO, check=False).returncode


@dataclass
class BenchEnv:
    root: Path
    config_path: Path
    database: str | None

    @property
    def settings(self) -> Settings:
        return load_settings(self.config_path)


def _create_database() -> str | None:
    name = f"dasan_bench_{uuid.uuid4().hex[:8]}"
    done = subprocess.run(["createdb", "-h", PG_SOCKET, name], capture_output=True, check=False)
    return name if done.returncode == 0 else None


@contextlib.contextmanager
def bench_env(postgres: bool | None = None) -> Iterator[BenchEnv]:
    """A temporary Dasan installation: PostgreSQL (``postgres=None``: if it answers, else
    SQLite), or the default SQLite with ``postgres=False``. ``DASAN_BENCH_KEEP=1`` keeps its
    folder (state, recordings, the run's logs) for a look afterwards; its path is printed."""
    root = Path(tempfile.mkdtemp(prefix="dasan-bench-"))
    database = _create_database() if postgres is not False else None
    if postgres and database is None:
        raise RuntimeError(f"PostgreSQL does not answer on {PG_SOCKET}")
    storage = (
        f'[storage]\nurl = "postgresql+asyncpg://root@/{database}?host={PG_SOCKET}"\n'
        if database
        else ""
    )
    config = root / "dasan.toml"
    config.write_text(
        f'state_dir = "{root / "state"}"\n[pbx]\nbench_source = "{BENCH_SOURCE}"\n{storage}'
        f'[ivr]\nprompts_dir = "{REPO / "var" / "prompts"}"\n',
        encoding="utf-8",
    )
    try:
        yield BenchEnv(root, config, database)
    finally:
        if database:
            subprocess.run(
                ["dropdb", "--if-exists", "--force", "-h", PG_SOCKET, database],
                capture_output=True,
                check=False,
            )
        if os.environ.get("DASAN_BENCH_KEEP") == "1":
            print(f"bench folder kept: {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


class Processes:
    """Asterisk from the stack; the "engine" is the real engine or the trivial AGI server."""

    def __init__(self, stack: Stack, engine_pid: int | None = None) -> None:
        self._stack = stack
        self._engine_pid = engine_pid

    def asterisk_pid(self) -> int | None:
        return self._stack.asterisk_pid()

    def engine_pid(self) -> int | None:
        if self._engine_pid is not None:
            return self._engine_pid
        return self._stack.engine_pid()

    def asterisk_version(self) -> str | None:
        return self._stack.asterisk_version()


@contextlib.asynccontextmanager
async def trivial_agi_server() -> AsyncIterator[int]:
    """``python -m benchmarks.pbx_env --serve-agi`` in its own process; yields its pid."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.pbx_env",
        "--serve-agi",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30.0)
        if not line.strip().isdigit():
            raise RuntimeError(f"trivial FastAGI server did not start: {line!r}")
        yield proc.pid
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 10.0)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def _serve_agi() -> None:
    from ivr.agi import AgiServer, AgiSession
    from ivr.settings import AgiSettings

    async def trivial_ivr(session: AgiSession) -> None:
        await session.stream_file("hello-world")

    server = AgiServer(AgiSettings(port=BENCH_AGI_PORT), {"bench": trivial_ivr})
    await server.start()
    print(server.bound_port, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(grace_s=1.0)


def wait_port_free(port: int, timeout_s: float = 10.0) -> None:
    from dasan.sipp import udp_port_bound

    deadline = time.monotonic() + timeout_s
    while udp_port_bound(port) and time.monotonic() < deadline:
        time.sleep(0.05)


if __name__ == "__main__" and sys.argv[1:] == ["--serve-agi"]:
    asyncio.run(_serve_agi())


def git_commit() -> str:
    """The checkout's short commit, for a result file ("" outside a git checkout)."""
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    return done.stdout.strip()
