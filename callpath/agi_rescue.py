"""Rescue of a call stuck in ``AGI()`` on a half-open FastAGI link.

When the engine's link to a call freezes (a half-open socket), the engine's command times out
and it closes its side, but Asterisk never hears of it and the caller sits in silence in
``AGI()``. The dialplans set ``AGIEXITONHANGUP=yes`` before every ``AGI()``, so Asterisk
leaves ``AGI()`` as soon as the channel is told to go elsewhere; this module tells it, over
AMI, once a command of the call went unanswered.

Invariants:
- One rescue per timed-out session: after ``grace_s`` (time for a healthy link to let the
  dialplan fall back by itself) the channel is looked up with AMI ``Status``; only a channel
  that still runs ``AGI`` (same uniqueid) is redirected, to the same static fallback the
  dialplan uses when the engine is down (``dasan-fallback,s,1``). A channel gone, or one that
  moved on (fallback queue, a consultant's Dial), is left alone.
- A call that was already served (the after-call survey, or a conversation whose end the link
  never reported: ``DIALSTATUS`` is ``ANSWER``) is hung up instead, as the dialplan would
  end it: the fallback would queue it again.
- The caller's language, when the engine knew it, is set on the channel first (``DASAN_LANG``),
  so the fallback does not ask for it again.
- Every outcome is returned and logged; AMI failures are logged, never raised.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from callpath.ports import AmiLink
from cti.ami.messages import AmiActionError, AmiError

log = logging.getLogger(__name__)

FALLBACK_CONTEXT = "dasan-fallback"


class Rescue(StrEnum):
    REDIRECTED = "redirected"
    HUNG_UP = "hung-up"  # an already served call (survey) stuck in AGI
    GONE = "gone"  # the channel no longer exists
    MOVED_ON = "moved-on"  # no longer in AGI (the dialplan went on by itself)
    FAILED = "failed"  # AMI could not look or redirect


@dataclass(frozen=True, slots=True)
class StuckCall:
    uniqueid: str
    channel: str
    command: str  # the command that got no reply
    language: str | None = None
    served: bool = False  # the conversation is over: hang up rather than queue again


class AgiRescuer:
    """``await rescuer.rescue(StuckCall(...))`` after a FastAGI command timed out."""

    def __init__(
        self,
        ami: AmiLink,
        *,
        grace_s: float = 3.0,
        context: str = FALLBACK_CONTEXT,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._ami = ami
        self._grace_s = grace_s
        self._context = context
        self._sleep = sleep
        self.outcomes: dict[str, Rescue] = {}

    async def rescue(self, call: StuckCall) -> Rescue:
        await self._sleep(self._grace_s)
        outcome = await self._rescue(call)
        self.outcomes[call.uniqueid] = outcome
        log.warning(
            "agi %s (%s): %s unanswered; rescue after %.1f s: %s",
            call.uniqueid,
            call.channel,
            call.command,
            self._grace_s,
            outcome,
        )
        return outcome

    async def _rescue(self, call: StuckCall) -> Rescue:
        try:
            where = await self._application(call)
        except AmiError as exc:
            log.warning("agi %s: cannot look up %s: %s", call.uniqueid, call.channel, exc)
            return Rescue.FAILED
        if where is None:
            return Rescue.GONE
        if where.upper() != "AGI":
            return Rescue.MOVED_ON
        return await self._move(call)

    async def _move(self, call: StuckCall) -> Rescue:
        try:
            if call.served or await self._talked(call):
                await self._ami.action("Hangup", Channel=call.channel, Cause="16")
                return Rescue.HUNG_UP
            if call.language:
                await self._ami.action(
                    "Setvar", Channel=call.channel, Variable="DASAN_LANG", Value=call.language
                )
            await self._ami.action(
                "Redirect", Channel=call.channel, Context=self._context, Exten="s", Priority="1"
            )
        except AmiActionError as exc:
            # Hung up between the look-up and the redirect.
            log.info("agi %s: redirect refused: %s", call.uniqueid, exc)
            return Rescue.GONE
        except AmiError as exc:
            log.warning("agi %s: redirect of %s failed: %s", call.uniqueid, call.channel, exc)
            return Rescue.FAILED
        return Rescue.REDIRECTED

    async def _talked(self, call: StuckCall) -> bool:
        """Whether the caller already had their conversation (the Dial was answered)."""
        response = await self._ami.action("Getvar", Channel=call.channel, Variable="DIALSTATUS")
        return response.headers.get("Value") == "ANSWER"

    async def _application(self, call: StuckCall) -> str | None:
        """The application the channel runs now (None: no such channel, or another call
        under that name)."""
        try:
            response = await self._ami.action("Status", Channel=call.channel)
        except AmiActionError:
            return None  # "No such channel"
        for event in response.events:
            if event.get("Uniqueid") == call.uniqueid:
                return event.get("Application") or ""
        return None
