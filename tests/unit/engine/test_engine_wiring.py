"""The composition root wires each call-path piece from its own objects once the call log is
open (before that the AGI routes refuse to serve, never a half-built call path)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest
from engine_support import eventually

from callpath.callbacks import Callbacks
from callpath.callflow import CallFlow
from dasan.app import Engine
from dasan.config import Settings
from dasan.web import build_center
from ivr.settings import IvrSettings
from tests.unit.cti_center.fakes import FakeCallLog


def test_the_call_path_is_wired_from_the_engines_objects(tmp_path: Path) -> None:
    engine = Engine(Settings(state_dir=tmp_path, ivr=IvrSettings(speech_enabled=False)))
    try:
        with pytest.raises(RuntimeError, match="not wired"):
            _ = engine.flow
        recordings = SimpleNamespace(calls=object(), pipeline=object())
        engine._wire_call_path(recordings)  # type: ignore[arg-type]
        assert isinstance(engine.flow, CallFlow) and isinstance(engine.callbacks, Callbacks)
        setup = engine.flow._setup
        assert setup.acd is engine.acd and setup.ami is engine.ami
        assert setup.calls is recordings.calls and setup.recordings is recordings.pipeline
        assert setup.callbacks is engine.callbacks
        assert setup.guard.request_callback == engine.callbacks.request_later
        host = setup.guard.host_path(f"{engine.settings.recordings.pbx_spool_dir}/1.2.wav")
        assert host == tmp_path / "recordings" / "1.2.wav"
    finally:
        engine.acd.close()


async def test_the_live_model_is_the_engines_one_ami_subscriber(tmp_path: Path) -> None:
    """The CTI, the ACD bridge, the IVR's key witness and call-backs read the live model's
    feed."""
    engine = Engine(Settings(state_dir=tmp_path, ivr=IvrSettings(speech_enabled=False)))
    recordings = SimpleNamespace(calls=FakeCallLog(), pipeline=object())
    engine._recordings = recordings  # type: ignore[assignment]
    engine._wire_call_path(recordings)  # type: ignore[arg-type]
    center = build_center(engine)
    assert engine.flow._setup.events is engine.live.events
    assert engine.callbacks._setup.events is engine.live.events  # the call-back's wait
    assert center.core.pbx._events is engine.live.events  # the CTI's action/event waits
    tasks = [
        asyncio.create_task(work())
        for work in (engine.live.run, engine._run_acd_ami, engine.flow.watch_keys, center.run)
    ]
    try:
        await eventually(lambda: engine.live.events.reader_count == 3, "three readers")
        assert engine.ami.subscriber_count == 1  # AMI is not even up: the model's alone
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
        engine.acd.close()


class _Steps:
    """A dialer that records its steps (and its loop's start)."""

    def __init__(self) -> None:
        self.steps = 0
        self.ran = False

    async def step(self) -> list[str]:
        self.steps += 1
        return ["cb-1"]

    async def run(self) -> None:
        self.ran = True


class _Kept:
    async def keep_left_pending(self, _journal: object) -> int:
        return 1


class _Care:
    def __init__(self) -> None:
        self.taken = 0

    async def take_requests(self) -> None:
        self.taken += 1


async def test_call_backs_are_dialed_only_once_fastagi_listens(tmp_path: Path) -> None:
    """A call-back placed before FastAGI listens reaches no engine session (the fallback
    takes the citizen and the consultant's reservation lapses): the left-pending call-backs
    are taken in at once, but dialed, like the dialer's loop, only once FastAGI listens."""
    engine = Engine(Settings(state_dir=tmp_path, ivr=IvrSettings(speech_enabled=False)))
    dialer, care = _Steps(), _Care()
    engine._dialer = dialer  # type: ignore[assignment]
    engine._care = care  # type: ignore[assignment]
    engine._callbacks = _Kept()  # type: ignore[assignment]
    try:
        kept = asyncio.create_task(engine._keep_callbacks_left_pending())
        loop = asyncio.create_task(engine._run_dialer())
        await eventually(lambda: care.taken == 1, "the kept call-backs taken in")
        for _ in range(20):  # let both tasks run as far as they can
            await asyncio.sleep(0)
        assert dialer.steps == 0 and not dialer.ran  # FastAGI is not listening yet
        engine._listening.set()
        await asyncio.wait_for(asyncio.gather(kept, loop), 5)
        assert dialer.steps == 1 and dialer.ran
    finally:
        engine.acd.close()
