"""The recording guard's driver, built from a GuardSetup (no engine): proven on the primary
path, refused after the spare path fails too (apology, alarm, call-back), the caller hanging
up while the file is watched, a recording folder that is missing, and a step of the wall
clock while the file is watched (forward or back: the guard's deadlines keep their length). A real AgiServer and a
fake Asterisk on loopback; the recording file is a real file that grows (or does not)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import types
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from callpath import recguard
from callpath.recguard import GuardSetup, confirm_recording
from ivr.agi import AgiHangup, AgiSession
from recordings.guard import GuardPolicy

from .support import HANGUP, Alarms, agi_call, replies

UID = "1764355829.7"
PRIMARY = "/var/spool/dasan/recordings"
SPARE = "/var/spool/dasan/recordings-spare"
QUICK = GuardPolicy(confirm_within=dt.timedelta(seconds=0.4))


class Desk:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []

    async def request(self, session: AgiSession, language: str) -> None:
        self.requests.append((session.uniqueid, language))


def guard_for(tmp_path: Path, alarms: Alarms, desk: Desk, policy: GuardPolicy) -> GuardSetup:
    mounts = {PRIMARY: tmp_path / "spool", SPARE: tmp_path / "spare"}

    def host_path(pbx_path: str) -> Path | None:
        folder, _, name = pbx_path.rpartition("/")
        return mounts[folder] / name if folder in mounts else None

    return GuardSetup(
        host_path=host_path,
        pbx_spool_dir=PRIMARY,
        pbx_spare_dir=SPARE,
        prompts_dir="/var/lib/dasan/prompts",
        alarm=alarms,
        request_callback=desk.request,
        policy=policy,
    )


@contextlib.asynccontextmanager
async def growing(path: Path) -> AsyncIterator[None]:
    """MixMonitor writing: the file grows every 50 ms."""

    async def write() -> None:
        while True:
            with path.open("ab") as handle:
                handle.write(b"\0" * 320)
            await asyncio.sleep(0.05)

    task = asyncio.create_task(write())
    try:
        yield
    finally:
        task.cancel()


RECORDING = {
    "GET VARIABLE DASAN_REC": f"200 result=1 ({PRIMARY}/{UID}.wav)",
    "GET VARIABLE DASAN_MIXMON_ID": "200 result=1 (0x7f00a1)",
}
NOT_RECORDING = {**RECORDING, "GET VARIABLE DASAN_MIXMON_ID": "200 result=0"}


@dataclass
class Watched:
    """What one call's guard decided, said to the PBX, alarmed and asked of the desk."""

    outcome: bool
    commands: list[str]
    alarms: Alarms
    desk: Desk


async def watch(
    tmp_path: Path,
    policy: GuardPolicy,
    answers: dict[str, str],
    *,
    language: str = "ko",
    writing: str | None = None,
    reply_after_s: float = 0.0,
) -> Watched:
    """One call through the guard; ``writing``: the folder whose recording file grows."""
    alarms, desk, outcome = Alarms(), Desk(), []
    guard = guard_for(tmp_path, alarms, desk, policy)

    async def handler(session: AgiSession) -> None:
        outcome.append(await confirm_recording(guard, session, language))

    async with contextlib.AsyncExitStack() as stack:
        if writing is not None:
            await stack.enter_async_context(growing(tmp_path / writing / f"{UID}.wav"))
        peer = await stack.enter_async_context(
            agi_call(handler, replies(answers), reply_after_s=reply_after_s)
        )
    assert len(outcome) == 1, "the guard never decided"
    return Watched(outcome[0], peer.commands, alarms, desk)


async def test_a_growing_recording_on_the_primary_path_is_proven(tmp_path: Path) -> None:
    (tmp_path / "spool").mkdir()
    seen = await watch(tmp_path, GuardPolicy(), RECORDING, writing="spool")
    assert seen.outcome is True
    assert seen.commands[:2] == ["GET VARIABLE DASAN_REC", "SET MUSIC on"]
    assert not any(c.startswith(("EXEC", "GET DATA")) for c in seen.commands)
    assert seen.alarms.raised == [] and seen.desk.requests == []


async def test_a_pbx_slow_to_reply_does_not_use_up_the_deadline(tmp_path: Path) -> None:
    """Each AGI reply takes longer than half the deadline (a saturated PBX): the commands that
    set the watch up are not counted against it, so a growing recording is still proven on
    the primary path, without a move to the spare path."""
    (tmp_path / "spool").mkdir()
    policy = GuardPolicy(confirm_within=dt.timedelta(seconds=1))
    seen = await watch(tmp_path, policy, RECORDING, writing="spool", reply_after_s=0.6)
    assert seen.outcome is True
    assert not any(c.startswith("EXEC") for c in seen.commands)
    assert seen.alarms.raised == []


async def test_on_a_slow_pbx_the_spare_path_gets_its_whole_deadline(tmp_path: Path) -> None:
    """The primary file does not grow; the recorder already went on in the spare file. With
    each reply late, the spare attempt's deadline starts after the move, so it is proven."""
    (tmp_path / "spool").mkdir()
    (tmp_path / "spare").mkdir()
    (tmp_path / "spool" / f"{UID}.wav").write_bytes(b"\0" * 44)
    policy = GuardPolicy(confirm_within=dt.timedelta(seconds=1))
    seen = await watch(tmp_path, policy, RECORDING, writing="spare", reply_after_s=0.6)
    assert seen.outcome is True
    assert f"SET VARIABLE DASAN_REC {SPARE}/{UID}.wav" in seen.commands
    assert not any(c.startswith(("EXEC", "GET DATA")) for c in seen.commands)
    assert seen.desk.requests == []


async def test_no_recording_on_either_path_is_refused_with_apology_alarm_and_call_back(
    tmp_path: Path,
) -> None:
    (tmp_path / "spool").mkdir()
    (tmp_path / "spare").mkdir()
    answers = {
        **NOT_RECORDING,
        "GET DATA": "200 result=1",  # the caller accepts the call-back
        "STREAM FILE": "200 result=0 endpos=800",
    }
    seen = await watch(tmp_path, QUICK, answers, language="vi")
    assert seen.outcome is False
    moved = [c for c in seen.commands if c.startswith(("EXEC", "SET VARIABLE DASAN_REC"))]
    # One command: the spare recorder starts, then stops the primary one (no gap).
    assert moved[0].startswith("EXEC DasanRecord") and f"{SPARE}/{UID}.wav" in moved[0]
    assert moved[0].endswith("i(DASAN_MIXMON_ID)m")
    assert moved[1] == f"SET VARIABLE DASAN_REC {SPARE}/{UID}.wav"
    assert "SET MUSIC off" in seen.commands
    assert any(
        c.startswith("GET DATA /var/lib/dasan/prompts/vi/recording_unavailable")
        for c in seen.commands
    )
    assert seen.commands[-1].startswith("STREAM FILE /var/lib/dasan/prompts/vi/callback_accepted")
    assert ("recording", f"unrecorded:{UID}") in seen.alarms.raised
    assert seen.desk.requests == [(UID, "vi")]


async def test_a_caller_hanging_up_while_the_file_is_watched_ends_the_call_at_once(
    tmp_path: Path,
) -> None:
    (tmp_path / "spool").mkdir()
    alarms, desk = Alarms(), Desk()
    guard = guard_for(tmp_path, alarms, desk, GuardPolicy())  # 8 s: the hang-up comes first
    ended: list[str] = []

    async def handler(session: AgiSession) -> None:
        with pytest.raises(AgiHangup):
            await confirm_recording(guard, session, "ko")
        ended.append("hangup")

    polls = 0

    def script(line: str) -> str:
        nonlocal polls
        if line == "GET VARIABLE DASAN_REC":
            return f"200 result=1 ({PRIMARY}/{UID}.wav)"
        if line == "GET VARIABLE DASAN_MIXMON_ID":
            polls += 1
            return HANGUP if polls == 3 else "200 result=0"
        return "200 result=0"

    async with agi_call(handler, script):
        pass
    assert ended == ["hangup"]
    assert alarms.raised == [] and desk.requests == []


async def test_a_missing_recording_folder_moves_to_the_spare_path(tmp_path: Path) -> None:
    (tmp_path / "spare").mkdir()  # the primary folder is gone (unmounted disk)
    seen = await watch(tmp_path, QUICK, RECORDING, writing="spare")
    assert seen.outcome is True
    assert f"SET VARIABLE DASAN_REC {SPARE}/{UID}.wav" in seen.commands
    # The recorder already writes the spare file (it went on there when its write failed):
    # the guard watches it and never restarts the recorder, which would truncate it.
    assert not any(c.startswith("EXEC") for c in seen.commands)
    assert any(source == "recording" for source, _ in seen.alarms.raised)
    assert seen.desk.requests == []


class SteppedWallClock(dt.datetime):
    """A wall clock that an NTP step moves by ``step`` right after its first reading."""

    step = dt.timedelta(0)
    reads = 0

    @classmethod
    def now(cls, tz: dt.tzinfo | None = None) -> SteppedWallClock:
        cls.reads += 1
        true = dt.datetime.now(tz)
        shown = true + cls.step if cls.reads > 1 else true
        return cls.fromtimestamp(shown.timestamp(), tz)


def step_wall_clock(monkeypatch: pytest.MonkeyPatch, step: dt.timedelta) -> None:
    monkeypatch.setattr(SteppedWallClock, "step", step)
    monkeypatch.setattr(SteppedWallClock, "reads", 0)
    wall = types.SimpleNamespace(datetime=SteppedWallClock, UTC=dt.UTC, timedelta=dt.timedelta)
    monkeypatch.setattr(recguard, "dt", wall)


async def test_a_wall_clock_step_forward_does_not_fail_a_good_recording_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "spool").mkdir()
    step_wall_clock(monkeypatch, dt.timedelta(hours=1))
    # 8 s, far less than the step
    seen = await watch(tmp_path, GuardPolicy(), RECORDING, writing="spool")
    assert seen.outcome is True
    assert not any(c.startswith("EXEC") for c in seen.commands)  # never moved to the spare
    assert seen.alarms.raised == []


async def test_a_wall_clock_step_back_does_not_stretch_the_wait_for_a_bad_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "spool").mkdir()
    (tmp_path / "spare").mkdir()
    step_wall_clock(monkeypatch, -dt.timedelta(hours=1))
    # Measured on the wall clock, the guard's deadlines would now be an hour away.
    async with asyncio.timeout(60):
        seen = await watch(tmp_path, QUICK, {**NOT_RECORDING, "GET DATA": "200 result=0"})
    assert seen.outcome is False
    assert f"SET VARIABLE DASAN_REC {SPARE}/{UID}.wav" in seen.commands
    assert ("recording", f"unrecorded:{UID}") in seen.alarms.raised
