"""Helpers for integration tests: an isolated environment, the engine process, AMI recording.

Everything here drives the real components: the PBX container, `dasan serve` as a separate
process, SIPp, PostgreSQL. Waiting is always polling with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from common.process import port_open, terminate
from cti.ami.client import AmiClient
from cti.ami.messages import AmiEvent
from dasan.config import Settings, load_settings
from dasan.pbx.container import PbxContainer
from dasan.pbx.service import pbx_container, pbx_image, render_generated

REPO = Path(__file__).resolve().parents[2]
PG_SOCKET = os.environ.get("DASAN_TEST_PG_SOCKET", "/var/run/postgresql")
T = TypeVar("T")


def create_database(prefix: str) -> str:
    """A fresh PostgreSQL database (over the Unix socket, which works in any network namespace)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    subprocess.run(["createdb", "-h", PG_SOCKET, name], check=True, capture_output=True)
    return name


def drop_database(name: str) -> None:
    subprocess.run(
        ["dropdb", "--if-exists", "--force", "-h", PG_SOCKET, name],
        check=False,
        capture_output=True,
    )


@dataclass
class ItEnv:
    """One isolated Dasan installation: its config file, settings and database."""

    root: Path
    config_path: Path
    database: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return load_settings(self.config_path)


@contextlib.contextmanager
def running_pbx(env: ItEnv) -> Iterator[PbxContainer]:
    """The PBX of ``env``: image ensured, generated configuration rendered, up for the block."""
    settings = env.settings
    pbx_image(settings).ensure()
    render_generated(settings)
    container = pbx_container(settings)
    container.up()
    try:
        yield container
    finally:
        container.down()


def write_config(root: Path, database: str, recordings: Path, extra_toml: str = "") -> Path:
    config = root / "dasan.toml"
    config.write_text(
        f'state_dir = "{root / "state"}"\n'
        f"{extra_toml}\n"
        "[storage]\n"
        f'url = "postgresql+asyncpg://root@/{database}?host={PG_SOCKET}"\n'
        # Kept call-backs are dialed only by the tests about it (care's integration tests).
        "[care]\ncallback_dialing = false\n"
        "[ivr]\n"
        f'prompts_dir = "{REPO / "var" / "prompts"}"\n'
        "[recordings]\n"
        f'spool_dir = "{recordings}"\n'
        f'spare_dir = "{root / "recordings-spare"}"\n'
        # The test tmpfs is small: alarm when it is really nearly full.
        "low_disk_free_bytes = 33554432\n"
        "low_disk_free_ratio = 0.02\n"
        # Transcribing every test call would only compete with the calls for the 2 cores.
        "transcription_enabled = false\n",
        encoding="utf-8",
    )
    return config


def mount_tmpfs(path: Path, size: str) -> None:
    """A small filesystem of its own for the recordings, so a test can fill it."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)


def unmount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


async def eventually(
    probe: Callable[[], Awaitable[T]], check: Callable[[T], bool], timeout: float, what: str
) -> T:
    """Poll ``probe`` until ``check`` holds (deadline, no fixed sleeps in the test itself)."""
    deadline = time.monotonic() + timeout
    value = await probe()
    while not check(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}: {value!r}")
        await asyncio.sleep(0.1)
        value = await probe()
    return value


class EngineProcess:
    """`dasan serve` as a child process (so a test can kill it like a crash would)."""

    def __init__(self, env: ItEnv, extra_env: dict[str, str] | None = None) -> None:
        self.env = env
        self.extra_env = dict(extra_env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = env.root / "engine.log"
        self.need_http = False

    def start(self, timeout: float = 60.0) -> None:
        settings = self.env.settings
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "dasan", "--config", str(self.env.config_path), "serve"],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                cwd=REPO,
                env={**os.environ, **self.extra_env},
            )
        http = (settings.http.host, settings.http.port)
        agi = (settings.agi.host, settings.agi.port)

        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"engine exited with {self.proc.returncode}:\n{self.tail()}")
            return (
                port_open(*agi)
                and (not self.need_http or port_open(*http))
                and self.status().get("speech") is not None
            )

        try:
            wait_for(ready, timeout, "the engine to listen on FastAGI and HTTP")
        except AssertionError:
            self.stop()
            raise

    def status(self) -> dict[str, str]:
        """The engine's own status file (written as components come up)."""
        path = self.env.settings.state_dir / "engine-status.json"
        try:
            return dict(json.loads(path.read_text(encoding="utf-8")))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def kill(self) -> None:
        """SIGKILL: what a crash looks like to Asterisk (sockets closed, nothing cleaned up)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc)

    def tail(self, lines: int = 40) -> str:
        with contextlib.suppress(FileNotFoundError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


class AmiRecorder:
    """Records every AMI event from the moment it starts, for assertions after a call."""

    def __init__(self, client: AmiClient) -> None:
        self.client = client
        self.events: list[AmiEvent] = []
        self._task: asyncio.Task[None] | None = None
        self._subscription: Any = None

    async def __aenter__(self) -> AmiRecorder:
        subscription = self.client.subscribe(maxsize=100_000, name="test-recorder")
        self._subscription = subscription

        async def pump() -> None:
            async for item in subscription:
                if isinstance(item, AmiEvent):
                    self.events.append(item)

        self._task = asyncio.create_task(pump())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._subscription is not None:
            self._subscription.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def named(self, *names: str) -> list[AmiEvent]:
        return [e for e in self.events if e.name in names]

    def where(self, name: str, **headers: str) -> list[AmiEvent]:
        return [
            e
            for e in self.events
            if e.name == name and all(e.get(k) == v for k, v in headers.items())
        ]

    async def wait_event(self, name: str, timeout: float = 20.0, **headers: str) -> AmiEvent:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.where(name, **headers)
            if found:
                return found[0]
            await asyncio.sleep(0.05)
        raise AssertionError(f"no AMI {name} {headers} within {timeout:.0f} s")


async def active_channels(client: AmiClient) -> list[AmiEvent]:
    return [e for e in await client.action_list("CoreShowChannels") if e.name == "CoreShowChannel"]


async def assert_no_leaked_channels(client: AmiClient, timeout: float = 15.0) -> None:
    channels = await eventually(
        lambda: active_channels(client), lambda chans: not chans, timeout, "no channels left"
    )
    assert channels == []


def uniqueids(events: Iterable[AmiEvent]) -> set[str]:
    return {e.uniqueid for e in events if e.uniqueid}


def dasan_json(env: ItEnv, *args: str) -> Any:
    """Run a `dasan --config ... <args> --json` command and parse its one JSON document."""
    proc = subprocess.run(
        [sys.executable, "-m", "dasan", "--config", str(env.config_path), *args, "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        timeout=300,
    )
    if proc.returncode not in (0, 1):
        raise AssertionError(f"dasan {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return json.loads(proc.stdout)


def find_citizen_uniqueid(recorder: AmiRecorder, caller: str) -> str | None:
    """The uniqueid of the citizen channel whose caller number starts with ``caller``
    (SIPp appends its call number to the configured caller), None if not seen yet."""
    for event in recorder.named("Newchannel"):
        if event.get("CallerIDNum").startswith(caller) and event.get("Exten") in ("120", "129"):
            return event.uniqueid
    return None


def citizen_uniqueid(recorder: AmiRecorder, caller: str) -> str:
    found = find_citizen_uniqueid(recorder, caller)
    if found is None:
        raise AssertionError(f"no citizen channel from {caller}")
    return found


def wav_seconds(path: Path) -> float:
    """Length of a WAV recording as sox reads it."""
    out = subprocess.run(["soxi", "-D", str(path)], capture_output=True, text=True, check=True)
    return float(out.stdout)


def call_seconds(recorder: AmiRecorder, uniqueid: str, hangup: AmiEvent) -> float:
    """From the channel's creation to its hangup, by AMI's event timestamps."""
    start = recorder.where("Newchannel", Uniqueid=uniqueid)[0]
    return float(hangup.get("Timestamp")) - float(start.get("Timestamp"))


def roster_languages() -> dict[str, set[str]]:
    """Consultant id -> languages, from the shipped demo roster."""
    import csv

    with (REPO / "acd" / "data" / "roster.csv").open(encoding="utf-8") as handle:
        return {row["id"]: set(row["languages"].split(";")) for row in csv.DictReader(handle)}
