"""The composition root wires each call-path piece from its own objects once the call log is
open (before that the AGI routes refuse to serve, never a half-built call path)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from callpath.callbacks import Callbacks
from callpath.callflow import CallFlow
from dasan.app import Engine
from dasan.config import Settings
from ivr.settings import IvrSettings


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
