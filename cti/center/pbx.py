"""The PBX as the center drives it: a thin layer of AMI actions and event waits.

Invariants:
- Every action has a timeout (the AMI client's, or the one given); an AMI failure becomes
  ``Unavailable`` (the web edge's 503) with Asterisk's own message, except a hangup of a
  channel that is already gone, which is not an error.
- ``expect`` subscribes *before* the caller sends its action, so the awaited event cannot
  slip past; the subscription is always closed. It subscribes to ``events`` (the engine: the
  live model's feed, which passes on everything read from the wire after the subscription).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from cti.ami.client import AmiClient, AmiEventSource, AmiSubscription
from cti.ami.messages import AmiActionError, AmiError, AmiEvent, AmiResponse
from cti.control import Unavailable

# How long one PBX step (a channel entering a bridge) may take.
STEP_S = 5.0

EventTest = Callable[[AmiEvent], bool]


@dataclass(frozen=True, slots=True)
class Originate:
    """Dial ``dial`` and run ``app``(``data``) on it once answered (``channel_id``: its uniqueid)."""

    dial: str
    app: str
    data: str
    channel_id: str
    ring_s: float
    caller_id: str = ""
    other_id: str | None = None  # the ";2" side of a Local channel
    # Formats the new channel is requested with (AMI ``Codecs``), e.g. "ulaw,vp8" so the
    # offer carries video; empty: Asterisk's default (audio only).
    codecs: tuple[str, ...] = ()


class Expectation:
    """Waits for the first AMI event passing ``test`` (subscribed at construction)."""

    def __init__(self, subscription: AmiSubscription, test: EventTest) -> None:
        self._subscription = subscription
        self._test = test

    async def wait(self, within_s: float) -> AmiEvent | None:
        """The matching event, or None after ``within_s``."""
        try:
            async with asyncio.timeout(within_s):
                async for item in self._subscription:
                    if isinstance(item, AmiEvent) and self._test(item):
                        return item
        except TimeoutError:
            return None
        return None

    def close(self) -> None:
        self._subscription.close()


class Pbx:
    def __init__(self, ami: AmiClient, events: AmiEventSource | None = None) -> None:
        self._ami = ami
        self._events: AmiEventSource = ami if events is None else events

    @contextlib.asynccontextmanager
    async def expect(self, test: EventTest) -> AsyncIterator[Expectation]:
        expectation = Expectation(self._events.subscribe(maxsize=10_000, name="cti-expect"), test)
        try:
            yield expectation
        finally:
            expectation.close()

    async def action(self, name: str, **headers: str) -> AmiResponse:
        try:
            return await self._ami.action(name, None, **headers)
        except AmiError as exc:
            raise Unavailable(f"the PBX refused {name}: {exc}") from exc

    async def hangup(self, channel: str) -> None:
        """Hang up a channel by name or uniqueid; one already gone is fine."""
        try:
            await self._ami.action("Hangup", Channel=channel, Cause="16")
        except AmiActionError as exc:
            if "no such channel" not in exc.message.lower():
                raise Unavailable(f"the PBX refused Hangup: {exc}") from exc
        except AmiError as exc:
            raise Unavailable(f"the PBX refused Hangup: {exc}") from exc

    async def setvar(self, channel: str, **variables: str) -> None:
        for name, value in variables.items():
            await self.action("Setvar", Channel=channel, Variable=name, Value=value)

    async def getvar(self, channel: str, variable: str) -> str:
        """A channel variable or function's value ("" when unset)."""
        response = await self.action("Getvar", Channel=channel, Variable=variable)
        return response.headers.get("Value") or ""

    async def redirect(self, channel: str, context: str) -> None:
        await self.action("Redirect", Channel=channel, Context=context, Exten="s", Priority="1")

    async def originate(self, spec: Originate) -> None:
        headers = {
            "Channel": spec.dial,
            "Application": spec.app,
            "Data": spec.data,
            "ChannelId": spec.channel_id,
            "Timeout": str(round(spec.ring_s * 1000)),
            "Async": "true",
        }
        if spec.caller_id:
            headers["CallerID"] = spec.caller_id
        if spec.other_id:
            headers["OtherChannelId"] = spec.other_id
        if spec.codecs:
            headers["Codecs"] = ",".join(spec.codecs)
        await self.action("Originate", **headers)
