"""What the call path uses of the rest of the engine, as narrow interfaces.

Invariant: nothing here names the engine. The composition root passes the objects it owns
(the AMI client, the call log, the recording pipeline, its alarm queue); unit tests pass fakes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from common.alarms import Severity
from cti.ami.client import AmiSubscription
from cti.ami.messages import AmiResponse
from cti.ami.protocol import HeaderValue

# Hang up a channel by name (AMI Hangup; failures are logged, never raised).
HangupChannel = Callable[[str], Awaitable[None]]
# A consultant's phone joined call ``call_id`` (the call log records it).
ConsultantConnected = Callable[[str, str], Awaitable[None]]
# Raise an alarm without waiting for it to be stored: (source, key, severity, message).
RaiseAlarmSoon = Callable[[str, str, Severity, str], None]


class AmiLink(Protocol):
    """The AMI client as the call path uses it: events from now on, and actions."""

    @property
    def connected(self) -> bool: ...

    def subscribe(self, maxsize: int | None = None, name: str | None = None) -> AmiSubscription:
        """A bounded iterator of events from now on."""

    async def action(
        self,
        name: str,
        timeout: float | None = None,  # noqa: ASYNC109 - the AMI client's interface
        **headers: HeaderValue,
    ) -> AmiResponse:
        """Send one action; raise ``AmiError`` when it fails or times out."""


class CallRecords(Protocol):
    """The call log's writes (``recordings.calllog.CallLog``)."""

    async def call_started(
        self,
        call_id: str,
        uniqueid: str,
        linkedid: str | None,
        caller_number: str | None,
        started_at: dt.datetime,
        *,
        tenant: str | None = None,
    ) -> None: ...

    async def call_progress(
        self,
        call_id: str,
        language: str | None = None,
        service: str | None = None,
        journey_json: str | Mapping[str, Any] | Sequence[Any] | None = None,
    ) -> None: ...

    async def call_routed(
        self,
        call_id: str,
        language: str | None,
        service: str | None,
        journey_json: str | Mapping[str, Any] | Sequence[Any] | None = None,
    ) -> None: ...

    async def consultant_joined(
        self,
        call_id: str,
        consultant_id: str,
        role: str = "consultant",
        at: dt.datetime | None = None,
    ) -> None: ...

    async def call_ended(self, call_id: str, ended_at: dt.datetime) -> None: ...


class RecordingSink(Protocol):
    """The recording pipeline: a call's recording file is closed (``RecordingPipeline``)."""

    async def recording_closed(self, uniqueid: str, path: str) -> None: ...
