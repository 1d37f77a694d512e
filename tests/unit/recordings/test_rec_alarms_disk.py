"""Alarms (raise/clear, persistence, listeners) and the recordings disk monitor."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from rec_support import ManualClock

from common.alarms import AlarmBus, AlarmCleared, AlarmEvent, AlarmRaised, AlarmStore, Severity
from common.storage import Storage
from recordings.disk import DiskMonitor, observe_recording_file, read_disk
from recordings.guard import FileObserved, RecordingFailed, Target


async def test_raise_and_clear_are_persisted_and_heard(
    storage: Storage, clock: ManualClock
) -> None:
    heard: list[AlarmEvent] = []
    bus = AlarmBus(AlarmStore(storage), clock)
    unsubscribe = bus.subscribe(heard.append)
    first = await bus.raise_alarm("recordings", "disk", Severity.MAJOR, "low")
    again = await bus.raise_alarm("recordings", "disk", Severity.MAJOR, "low")
    assert first == again  # no duplicate
    assert len(heard) == 1
    await bus.raise_alarm("recordings", "disk", Severity.CRITICAL, "full")
    assert [a.severity for a in bus.active()] == [Severity.CRITICAL]
    restarted = AlarmBus(AlarmStore(storage), clock)
    await restarted.restore()
    assert [a.message for a in restarted.active()] == ["full"]
    clock.advance(seconds=5)
    cleared = await bus.clear("recordings", "disk")
    assert cleared is not None and cleared.cleared_at == clock.now
    assert await bus.clear("recordings", "disk") is None
    assert [type(e) for e in heard] == [AlarmRaised, AlarmRaised, AlarmCleared]
    assert await AlarmStore(storage).active() == []
    assert len(await AlarmStore(storage).history()) == 1
    unsubscribe()
    await bus.raise_alarm("x", "y", Severity.INFO, "z")
    assert len(heard) == 3


async def test_a_failing_listener_does_not_stop_the_others(clock: ManualClock) -> None:
    heard: list[AlarmEvent] = []

    def broken(event: AlarmEvent) -> None:
        raise RuntimeError("listener bug")

    bus = AlarmBus(None, clock)
    bus.subscribe(broken)
    bus.subscribe(heard.append)
    await bus.raise_alarm("s", "k", Severity.WARNING, "m")
    assert len(heard) == 1


async def test_alarm_survives_a_broken_store(tmp_path: Path, clock: ManualClock) -> None:
    store = await Storage.open(f"sqlite+aiosqlite:///{tmp_path / 'a.sqlite3'}")
    bus = AlarmBus(AlarmStore(store), clock)
    heard: list[AlarmEvent] = []
    bus.subscribe(heard.append)
    await store.close()
    (tmp_path / "a.sqlite3").unlink()
    (tmp_path / "a.sqlite3").mkdir()  # the database can no longer be opened
    alarm = await bus.raise_alarm("recordings.disk", "write", Severity.CRITICAL, "disk full")
    assert alarm.id is None
    assert len(heard) == 1
    assert bus.is_active("recordings.disk", "write")


class FakeDisk:
    def __init__(self, free: int, total: int = 100 << 30) -> None:
        self.free, self.total = free, total

    def __call__(self, path: str) -> SimpleNamespace:
        return SimpleNamespace(
            f_bavail=self.free // 4096, f_blocks=self.total // 4096, f_frsize=4096
        )


async def test_low_disk_raises_within_one_check_and_clears(
    tmp_path: Path, clock: ManualClock
) -> None:
    disk = FakeDisk(free=50 << 30)
    bus = AlarmBus(None, clock)
    folder = tmp_path / "recordings"
    monitor = DiskMonitor(
        [folder], bus, min_free_bytes=1 << 30, min_free_ratio=0.05, interval_s=0.05, statvfs=disk
    )
    await monitor.check_once()
    assert bus.active() == []
    disk.free = 200 << 20
    runner = asyncio.create_task(monitor.run())
    try:
        deadline = time.monotonic() + 5
        while not bus.active():
            assert time.monotonic() < deadline, "no alarm within 5 s"
            await asyncio.sleep(0.01)
        [alarm] = bus.active()
        assert alarm.severity is Severity.MAJOR
        assert "200 MiB" in alarm.message
        disk.free = 80 << 30
        while bus.active():
            assert time.monotonic() < deadline + 5, "alarm not cleared"
            await asyncio.sleep(0.01)
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner


async def test_ratio_threshold(tmp_path: Path, clock: ManualClock) -> None:
    bus = AlarmBus(None, clock)
    monitor = DiskMonitor(
        [tmp_path],
        bus,
        min_free_bytes=0,
        min_free_ratio=0.10,
        interval_s=1,
        statvfs=FakeDisk(5 << 30, 100 << 30),
    )
    await monitor.check_once()
    assert len(bus.active()) == 1


async def test_write_failure_raises_a_critical_alarm(tmp_path: Path, clock: ManualClock) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the recordings folder should be")
    bus = AlarmBus(None, clock)
    monitor = DiskMonitor(
        [blocker / "recordings"],
        bus,
        min_free_bytes=0,
        min_free_ratio=0,
        interval_s=1,
        statvfs=FakeDisk(50 << 30),
    )
    [reading] = await monitor.check_once()
    assert reading.write_error is not None
    [alarm] = bus.active()
    assert alarm.severity is Severity.CRITICAL
    assert "cannot write recordings" in alarm.message


def test_real_disk_reading(tmp_path: Path) -> None:
    reading = read_disk(tmp_path / "recordings")
    assert reading.write_error is None
    assert 0 < reading.free_bytes <= reading.total_bytes
    assert (tmp_path / "recordings").is_dir()
    assert list((tmp_path / "recordings").iterdir()) == []  # the probe file is removed


def test_guard_file_observation(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "r.wav"
    assert observe_recording_file(path, Target.PRIMARY, clock.now) == FileObserved(
        Target.PRIMARY, 0, clock.now
    )
    path.write_bytes(b"x" * 100)
    assert observe_recording_file(path, Target.PRIMARY, clock.now) == FileObserved(
        Target.PRIMARY, 100, clock.now
    )
    missing = observe_recording_file(tmp_path / "gone" / "r.wav", Target.SPARE, clock.now)
    assert isinstance(missing, RecordingFailed)
