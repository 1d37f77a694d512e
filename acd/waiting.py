"""The caller's side of the ACD, inside their FastAGI session: wait, hear announcements, ring.

Invariants:
- A waiting caller hears music on hold, interrupted only for position / wait announcements
  and the call-back offer, in their own language; the music stops before a consultant rings.
- Every outcome of a ring is reported to the core exactly once: OfferAccepted (from AMI's
  DialEnd, or here if AMI missed it), OfferTimedOut, OfferRejected; a caller who hangs up while
  waiting or ringing is reported as CallAbandoned, one who hangs up after talking as CallEnded.
- A hangup is noticed at once (the session's reader task sets ``hungup``); waiting never
  blocks on anything but the call's own inbox and its hangup.
- A Dial to a consultant has no timeout, but once AMI saw the consultant's leg hang up it
  must end within ``STUCK_DIAL_S``; if it does not, the FastAGI link is dead: the session is
  reported stalled (the engine hangs the channel up over AMI) and the wait ends.
- Keys pressed while waiting (during music or an announcement) are kept, in order, for the
  call-back offer (``WaitingRoom.keys``, fed by the AMI witness); keys pressed during a
  conversation are not (the queue is emptied after every ring).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from acd.claims import ConsultantClaims
from acd.commands import AnnounceWait, CancelOffer, OfferCall, OfferCallback
from acd.driver import AcdDriver, CallCommand, CallTicket
from acd.events import (
    CallAbandoned,
    CallArrived,
    CallbackAccepted,
    CallEnded,
    ConsultantNotReady,
    ConsultantReady,
    OfferAccepted,
    OfferRejected,
    OfferTimedOut,
)
from acd.model import ConsultantState
from common.dialstring import dialable_number
from ivr.agi import AgiHangup, AgiSession, AgiTimeout
from ivr.keys import CONFIRM_WAIT_S, KeyQueue

log = logging.getLogger("dasan.acd.waiting")

# Dial's DIALSTATUS -> what the core is told.
_TIMED_OUT = {"NOANSWER"}
_CALLER_GONE = {"CANCEL"}
# Seconds a Dial may go on answering nothing after AMI saw the consultant hang up.
STUCK_DIAL_S = 5.0
TRANSFER_REASON = "transfer"


class WaitOutcome(enum.Enum):
    SERVED = "served"  # talked to a consultant; the conversation is over
    CALLBACK = "callback"  # took the call-back offer; we call them back when it is their turn


@dataclass(frozen=True)
class WaitingRoom:
    """What a waiting caller needs from outside: prompts, and a way to hang up a ringing leg."""

    prompts_dir: str  # inside the PBX: <dir>/<lang>/<id>
    hangup_channel: Callable[[str], Awaitable[None]]  # AMI Hangup by channel (regex allowed)
    on_connected: Callable[[str, str], Awaitable[None]] | None = None  # (call id, consultant)
    # Called before CallbackAccepted is fed, so the core's call-back offer finds its handler.
    on_callback_accepted: Callable[[str], None] | None = None
    # Transfers to outside numbers: the dial string ("{number}" replaced) and ring time.
    outside_dial: str = "PJSIP/outside/sip:{number}@127.0.0.1:5092"
    transfer_ring_s: int = 20
    # The call's key queue (type-ahead), if any.
    keys: KeyQueue | None = None
    # Claims shared with the other engines of a cluster (None: this engine alone).
    claims: ConsultantClaims | None = None

    def prompt(self, language: str, prompt_id: str) -> str:
        return f"{self.prompts_dir}/{language}/{prompt_id}"


def position_prompt(position: int) -> str:
    return f"queue_position_{position}" if position <= 3 else "queue_position_many"


def wait_prompt(seconds: float) -> str:
    if seconds <= 60:
        return "queue_wait_short"
    for minutes, limit in ((2, 180), (5, 420), (10, 900)):
        if seconds <= limit:
            return f"queue_wait_{minutes}"
    return "queue_wait_long"


async def _next_command(session: AgiSession, ticket: CallTicket) -> CallCommand:
    """The next command for this call, or raise AgiHangup as soon as the caller hangs up."""
    get = asyncio.ensure_future(ticket.inbox.get())
    gone = asyncio.ensure_future(session.hungup.wait())
    try:
        await asyncio.wait({get, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (get, gone):
            if not task.done():
                task.cancel()
    if get.done() and not get.cancelled():
        return get.result()
    raise AgiHangup("caller hung up while waiting")


async def wait_and_connect(
    session: AgiSession,
    driver: AcdDriver,
    ticket: CallTicket,
    room: WaitingRoom,
    *,
    language: str,
    caller_number: str,
) -> WaitOutcome:
    """Keep the caller until a consultant answers and the conversation ends (or a call-back)."""
    call_id = ticket.call_id
    music = False
    try:
        while True:
            if not music:
                await session.set_music(True)
                music = True
            command = await _next_command(session, ticket)
            if isinstance(command, OfferCall):
                await session.set_music(False)
                music = False
                served = await _ring(session, driver, ticket, room, command)
                if room.keys is not None:  # keys of a conversation answer no offer
                    room.keys.clear()
                if served and not (
                    ticket.transfer is not None
                    and not await _transfer(session, driver, ticket, room)
                ):
                    return WaitOutcome.SERVED
            elif isinstance(command, AnnounceWait):
                await session.set_music(False)
                music = False
                await session.stream_file(room.prompt(language, position_prompt(command.position)))
                await session.stream_file(
                    room.prompt(language, wait_prompt(command.estimated_wait_s))
                )
            elif isinstance(command, OfferCallback):
                await session.set_music(False)
                music = False
                if await _offer_callback(
                    session, driver, call_id, room, language=language, caller_number=caller_number
                ):
                    return WaitOutcome.CALLBACK
    except AgiHangup:
        if ticket.connected:
            driver.feed(CallEnded(call_id))
        else:
            driver.feed(CallAbandoned(call_id))
        raise


async def _offer_callback(
    session: AgiSession,
    driver: AcdDriver,
    call_id: str,
    room: WaitingRoom,
    *,
    language: str,
    caller_number: str,
) -> bool:
    number = dialable_number(caller_number)
    if number is None:  # never promise a call-back that cannot be placed
        return False
    keys = room.keys
    digit = keys.take() if keys is not None else None  # pressed during the announcements
    if digit is None:
        digit = await session.get_data(room.prompt(language, "callback_offer"), 5000, 1)
        if digit and keys is not None:
            await keys.read(digit)
            digit = keys.take()
        elif keys is not None:
            # Pressed just as the offer came (while the music stopped, between commands):
            # no AGI command saw it, but the witness did, maybe a moment late.
            digit = await keys.take_within(CONFIRM_WAIT_S)
    if digit != "1" or room.on_callback_accepted is None:
        return False
    room.on_callback_accepted(call_id)
    driver.feed(CallbackAccepted(call_id, number))
    await session.stream_file(room.prompt(language, "callback_confirmed"))
    return True


async def _ring(
    session: AgiSession,
    driver: AcdDriver,
    ticket: CallTicket,
    room: WaitingRoom,
    offer: OfferCall,
) -> bool:
    """Dial the offered consultant; True when the conversation happened and is over.

    With shared claims the consultant is claimed before ringing (a consultant claimed by
    another engine is not rung); the claim ends with an unanswered ring, or after the
    conversation and its wrap-up."""
    consultant = offer.consultant_id
    claims = room.claims
    if claims is not None and not await claims.claim(consultant, ticket.call_id):
        log.info("call %s: %s is busy on another node; offer withdrawn", ticket.call_id, consultant)
        ticket.consultant_id = None
        driver.feed(OfferRejected(ticket.call_id, consultant))
        return False
    watcher = asyncio.create_task(_watch_cancel(ticket, offer, room))
    status = ""
    try:
        await _dial_until_over(
            session, ticket, f"PJSIP/{consultant}", str(round(offer.ring_timeout_s))
        )
        status = (await session.get_variable("DIALSTATUS")) or ""
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        # A consultant who answered stays claimed through wrap-up (the engine releases them
        # when they are free again); one who did not is given back at once. A caller who
        # hung up ends the AGI at once (AGIEXITONHANGUP): no DIALSTATUS, but AMI saw the answer.
        if claims is not None and status != "ANSWER" and not ticket.connected:
            await claims.release(consultant)
    log.info("call %s: dial %s -> %s", ticket.call_id, consultant, status or "?")
    if status == "ANSWER":
        if not ticket.connected:  # AMI missed DialEnd: report the answer now
            driver.feed(OfferAccepted(ticket.call_id, consultant))
            ticket.connected = True
            if room.on_connected is not None:
                await room.on_connected(ticket.call_id, consultant)
        driver.feed(CallEnded(ticket.call_id))
        return True
    ticket.consultant_id = None
    if status in _CALLER_GONE:
        raise AgiHangup("caller hung up while a consultant was ringing")
    if status in _TIMED_OUT:
        driver.feed(OfferTimedOut(ticket.call_id, consultant))
    else:
        driver.feed(OfferRejected(ticket.call_id, consultant))
    return False


async def _dial_until_over(
    session: AgiSession, ticket: CallTicket, target: str, ring_s: str
) -> None:
    """``EXEC Dial`` (no timeout: a conversation is as long as it is). Once AMI saw the
    consultant's leg hang up, Asterisk answers the Dial within moments; if no answer comes
    within ``STUCK_DIAL_S`` the FastAGI link is dead: the session is reported stalled (the
    engine moves the channel on over AMI) and the wait ends with ``AgiTimeout``."""
    ticket.consultant_left.clear()  # an earlier conversation of this call is over
    dial = asyncio.ensure_future(session.exec("Dial", target, ring_s, timeout=None))
    left = asyncio.ensure_future(ticket.consultant_left.wait())
    try:
        await asyncio.wait({dial, left}, return_when=asyncio.FIRST_COMPLETED)
        if not dial.done():
            await asyncio.wait({dial}, timeout=STUCK_DIAL_S)
        if not dial.done():
            session.stalled("EXEC Dial")
            raise AgiTimeout(f"EXEC Dial: no reply {STUCK_DIAL_S:g} s after the conversation")
        dial.result()
    finally:
        for task in (dial, left):
            if not task.done():
                task.cancel()
        await asyncio.wait({dial, left})


async def _transfer(
    session: AgiSession, driver: AcdDriver, ticket: CallTicket, room: WaitingRoom
) -> bool:
    """Carry out the transfer set on the ticket; True once the transferred call is over,
    False when the caller is back in a queue (and waits on in the loop)."""
    transfer, ticket.transfer = ticket.transfer, None
    if transfer is None or ticket.arrival is None:
        return True
    log.info(
        "call %s: transfer to %s %s by %s",
        ticket.call_id,
        transfer.kind,
        transfer.target,
        transfer.requested_by,
    )
    if transfer.kind == "service":
        _requeue(driver, ticket, transfer.target)
        return False
    if transfer.kind == "consultant":
        return await _direct(session, driver, ticket, room, transfer.target)
    await session.exec(
        "Dial",
        room.outside_dial.format(number=transfer.target),
        str(room.transfer_ring_s),
        timeout=None,
    )
    if (await session.get_variable("DIALSTATUS")) == "ANSWER":
        return True
    _requeue(driver, ticket, ticket.arrival.service)  # nobody answered: nobody is lost
    return False


def _requeue(driver: AcdDriver, ticket: CallTicket, service: str) -> None:
    arrival = ticket.arrival
    assert arrival is not None
    ticket.arrival = CallArrived(
        arrival.call_id, arrival.language, service, arrival.priority, arrival.tags
    )
    ticket.consultant_id = None
    ticket.connected = False
    driver.feed(ticket.arrival)


async def _direct(
    session: AgiSession, driver: AcdDriver, ticket: CallTicket, room: WaitingRoom, target: str
) -> bool:
    """Ring one named consultant outside the queue (they are held not ready meanwhile)."""
    reserved = driver.state.consultant_state(target) is ConsultantState.READY
    if reserved:
        driver.feed(ConsultantNotReady(target, TRANSFER_REASON))
    claims = room.claims  # claimed after the reservation, held for the whole dial
    answered = claimed = False
    try:
        claimed = claims is not None and await claims.claim(target, ticket.call_id)
        if claims is not None and not claimed:
            log.info("call %s: transfer to %s, busy on another call", ticket.call_id, target)
        else:
            await session.exec("Dial", f"PJSIP/{target}", str(room.transfer_ring_s), timeout=None)
            answered = (await session.get_variable("DIALSTATUS")) == "ANSWER"
            if answered and room.on_connected is not None:
                await room.on_connected(ticket.call_id, target)
    finally:
        if claims is not None and claimed:
            await claims.release(target)
        if reserved:
            driver.feed(ConsultantReady(target))
    if not answered and ticket.arrival is not None:
        _requeue(driver, ticket, ticket.arrival.service)
    return answered


async def _watch_cancel(ticket: CallTicket, offer: OfferCall, room: WaitingRoom) -> None:
    """While ringing, the core may withdraw the offer: hang up the consultant's ringing leg.
    Other commands that arrive meanwhile go back to the inbox, in order."""
    held: list[CallCommand] = []
    try:
        while True:
            command = await ticket.inbox.get()
            if isinstance(command, CancelOffer) and command.consultant_id == offer.consultant_id:
                await room.hangup_channel(f"/^PJSIP/{offer.consultant_id}-/")
            else:
                held.append(command)
    finally:
        for command in held:
            ticket.inbox.put_nowait(command)
