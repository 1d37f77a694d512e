"""Placing one safety call over AMI and telling its outcome apart.

Invariants:
- The Originate carries our own ChannelId (the attempt id), so its OriginateResponse and the
  channel's Hangup are matched exactly; the subscription is open before the action is sent.
- Not answered: the OriginateResponse's Reason (the last control frame Asterisk saw:
  5 busy, 3 ringing or 2 ring = no answer, anything else failed); no response within the ring
  time plus 15 s is failed.
- Answered: the FastAGI session's report; if the channel hangs up and no session reports
  within a few seconds (the engine's FastAGI never served it), failed. An answering machine
  is not detected (no AMD): it is an answer.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from cti.ami.client import AmiClient
from cti.ami.messages import AmiEvent
from safety.call import CallResult
from safety.escalation import Outcome

REASONS = {"5": Outcome.BUSY, "3": Outcome.NO_ANSWER, "2": Outcome.NO_ANSWER}
ANSWERED = "4"
_SESSION_LIMIT_S = 4 * 3600.0
_REPORT_GRACE_S = 10.0


@dataclass(frozen=True)
class Dialing:
    ami: AmiClient
    dial: str  # "{number}" replaced
    ring_s: int


async def place_call(
    dialing: Dialing,
    attempt_id: str,
    number: str,
    variables: dict[str, str],
    reported: asyncio.Future[CallResult],
) -> CallResult:
    """Originate into ``dasan-safety`` and wait for the outcome (see the invariants)."""
    subscription = dialing.ami.subscribe(name=f"safety-{attempt_id}")
    try:
        await dialing.ami.action(
            "Originate",
            Channel=dialing.dial.format(number=number),
            Context="dasan-safety",
            Exten="s",
            Priority="1",
            ChannelId=attempt_id,
            CallerID="120 <120>",
            Timeout=str(dialing.ring_s * 1000),
            Variable=",".join(f"{k}={v}" for k, v in variables.items()),
            Async="true",
        )
        reason = await _originate_reason(subscription, attempt_id, dialing.ring_s + 15)
        if reason != ANSWERED:
            if reported.done():  # answered and served though the response said otherwise
                return reported.result()
            outcome = REASONS.get(reason or "", Outcome.FAILED)
            return CallResult(outcome, detail=f"reason {reason}")
        return await _session_result(subscription, attempt_id, reported)
    finally:
        subscription.close()


async def _originate_reason(subscription: Any, attempt_id: str, within_s: float) -> str | None:
    """The OriginateResponse's Reason (``ANSWERED`` on success), None if none came in time."""
    try:
        async with asyncio.timeout(within_s):
            async for item in subscription:
                if (
                    isinstance(item, AmiEvent)
                    and item.name == "OriginateResponse"
                    and item.uniqueid == attempt_id
                ):
                    if item.get("Response") == "Success":
                        return ANSWERED
                    return item.get("Reason") or "0"
    except TimeoutError:
        return None
    return None


async def _session_result(
    subscription: Any, attempt_id: str, reported: asyncio.Future[CallResult]
) -> CallResult:
    async def hung_up() -> None:
        async for item in subscription:
            if isinstance(item, AmiEvent) and item.name == "Hangup" and item.uniqueid == attempt_id:
                return

    watcher = asyncio.ensure_future(hung_up())
    try:
        async with asyncio.timeout(_SESSION_LIMIT_S):
            waiting: set[asyncio.Future[Any]] = {watcher, reported}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if not reported.done():
                await asyncio.wait({reported}, timeout=_REPORT_GRACE_S)
    finally:
        watcher.cancel()
    if reported.done():
        return reported.result()
    return CallResult(Outcome.FAILED, detail="answered, but no session reported")
