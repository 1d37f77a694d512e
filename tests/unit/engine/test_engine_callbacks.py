"""Call-backs always end in a recorded outcome: an Originate that times out (TimeoutError, not
AmiError) or crashes reports CallbackFailed and the reserved consultant is free again."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from engine_support import eventually

from acd.driver import AcdDriver
from acd.events import CallArrived, CallbackAccepted, ConsultantLoggedIn
from acd.model import ConsultantState, Language, Priority
from acd.settings import AcdSettings
from cti.ami.fanout import Fanout
from cti.ami.messages import AmiEventsDropped
from dasan.callbacks import Callbacks, journal_sizes
from dasan.config import Settings


class BrokenAmi:
    """An AMI link whose Originate fails the way ``failure`` says."""

    def __init__(self, failure: BaseException) -> None:
        self.failure = failure
        self.originates = 0
        self._fanout: Fanout[Any] = Fanout(AmiEventsDropped, label="broken")

    def subscribe(self, maxsize: int | None = None, name: str | None = None) -> Any:
        return self._fanout.subscribe(maxsize or 100, name)

    async def action(self, name: str, timeout: float | None = None, **headers: str) -> Any:
        self.originates += name == "Originate"
        raise self.failure


@pytest.mark.parametrize(
    "failure", [TimeoutError(), RuntimeError("bug in the AMI client")], ids=["timeout", "crash"]
)
async def test_a_failed_originate_releases_the_consultant(
    tmp_path: Path, failure: BaseException
) -> None:
    acd = AcdDriver(AcdSettings(logged_in=()), tmp_path / "acd")
    ami = BrokenAmi(failure)
    engine = SimpleNamespace(acd=acd, ami=ami, settings=Settings(state_dir=tmp_path))
    callbacks = Callbacks(engine)  # type: ignore[arg-type]
    try:
        acd.feed(CallArrived("call-1", Language("ko"), "general", Priority.NORMAL))
        callbacks.accepted("call-1", "ko")
        acd.feed(CallbackAccepted("call-1", "01012345678"))
        acd.feed(ConsultantLoggedIn("c0001", ready=True))
        assert acd.state.consultant_state("c0001") is ConsultantState.RINGING  # reserved
        await eventually(lambda: "call-1" not in acd.state.calls, "CallbackFailed reported")
        assert ami.originates == 1
        assert acd.state.consultant_state("c0001") is ConsultantState.READY
    finally:
        acd.close()
    journal = "".join(p.read_text() for p in (tmp_path / "acd").glob("acd-*.jsonl"))
    assert '"type": "CallbackFailed"' in journal  # the outcome is on record


async def test_call_backs_a_dead_engine_left_pending_are_kept_once_with_an_alarm(
    tmp_path: Path,
) -> None:
    # The earlier engine: a caller took the call-back offer, then the engine died.
    acd = AcdDriver(AcdSettings(logged_in=()), tmp_path / "acd")
    acd.feed(CallArrived("call-1", Language("ko"), "general", Priority.NORMAL))
    acd.feed(CallbackAccepted("call-1", "01012345678"))
    acd.close()
    journal = journal_sizes(tmp_path / "acd")
    alarms: list[tuple[str, str]] = []
    engine = SimpleNamespace(
        settings=Settings(state_dir=tmp_path),
        alarm_soon=lambda source, key, severity, message: alarms.append((source, key)),
    )
    callbacks = Callbacks(engine)  # type: ignore[arg-type]
    await callbacks.keep_left_pending(journal)
    await callbacks.keep_left_pending(journal)  # a second start keeps it once
    requests = (tmp_path / "callbacks" / "requests.jsonl").read_text().splitlines()
    assert [json.loads(line)["call_id"] for line in requests] == ["call-1"]
    assert json.loads(requests[0])["number"] == "01012345678"
    assert json.loads(requests[0])["reason"] == "engine-stopped"
    assert alarms == [("callbacks", "left-pending")]
