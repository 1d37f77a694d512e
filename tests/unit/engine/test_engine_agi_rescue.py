"""A caller whose FastAGI session died on a command with no reply (a half-open link: Asterisk
may never see the engine close it) is moved to the dialplan's fallback through AMI, unless
the channel already left AGI by itself."""

from __future__ import annotations

from typing import Any

import pytest

from cti.ami.messages import AmiDisconnected
from dasan import callflow

pytestmark = pytest.mark.unit


class Status:
    def __init__(self, **headers: str) -> None:
        self.headers = headers

    def get(self, header: str, default: str = "") -> str:
        return self.headers.get(header, default)


class FakeAmi:
    def __init__(self, application: str | None, down: bool = False) -> None:
        self.application, self.down = application, down
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def action_list(self, name: str, timeout: float | None = None, **headers: Any) -> Any:
        if self.down:
            raise AmiDisconnected("AMI is not connected")
        self.sent.append((name, headers))
        if self.application is None:
            return []
        return [Status(Channel=headers["Channel"], Application=self.application)]

    async def action(self, name: str, timeout: float | None = None, **headers: Any) -> Any:
        self.sent.append((name, headers))


async def test_a_caller_still_in_agi_is_moved_to_the_fallback() -> None:
    ami = FakeAmi("AGI")
    assert await callflow.rescue_from_agi(ami, "PJSIP/citizens-00000001", 0.0)  # type: ignore[arg-type]
    assert ami.sent[-1] == (
        "Redirect",
        {
            "Channel": "PJSIP/citizens-00000001",
            "Context": "dasan-fallback",
            "Exten": "s",
            "Priority": "1",
        },
    )


@pytest.mark.parametrize("application", ["Queue", "Playback", None])
async def test_a_caller_who_left_agi_or_hung_up_is_left_alone(application: str | None) -> None:
    ami = FakeAmi(application)
    assert not await callflow.rescue_from_agi(ami, "PJSIP/citizens-00000002", 0.0)  # type: ignore[arg-type]
    assert [name for name, _ in ami.sent] == ["Status"]


async def test_ami_down_is_logged_not_raised() -> None:
    ami = FakeAmi("AGI", down=True)
    assert not await callflow.rescue_from_agi(ami, "PJSIP/citizens-00000003", 0.0)  # type: ignore[arg-type]
