"""The after-hours "send me a text" offer: one SMS with the chat link and the chat hours.

Invariants:
- The offer is made only when it can be kept: an SMS gateway is configured and listening
  (``gateway_listening``, asked at the call's start) and the caller's number is dialable
  (``offer_tags``). Otherwise the menu plays the closed options without it.
- On acceptance exactly one SMS is handed to the gateway, in the caller's language; the caller
  hears ``sms_sent`` only when the gateway accepted it, otherwise ``sms_failed`` (an apology),
  and the refusal is logged. Nothing is kept for later: the caller was told it failed. The
  call log's journey keeps the outcome (``sms``: sent or failed), written before the caller
  hears it, so a hangup during the prompt loses nothing.
- Built from a ``TextSender`` (``channels.service.ChannelsService.send_sms`` and its chat
  link), never from the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from channels.model import MessageRefused
from channels.texts import chat_link
from common.dialstring import dialable_number
from ivr.agi import AgiSession

log = logging.getLogger("dasan.call.sms")

# The menu tag that opens the offer (ivr/menus/dasan120.yaml, node ``closed_offers``).
OFFER_TAG = "sms_offer"
OFFER_TARGET = "sms"
SENT_PROMPT = "sms_sent"
FAILED_PROMPT = "sms_failed"

SendSms = Callable[[str, str, str], Awaitable[object]]


@dataclass(frozen=True)
class TextSender:
    """An SMS sender (``ChannelsService.send_sms``: raises a ``MessageRefused`` when it is
    not sent) and the chat page address the SMS carries."""

    send: SendSms
    chat_url: str


async def gateway_listening(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """Whether the SMS gateway's sendsms port accepts a connection now."""
    try:
        async with asyncio.timeout(timeout_s):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def offer_tags(sender: TextSender | None, caller: str | None) -> dict[str, str]:
    """The menu tags for this call: the SMS offer only when it can be kept."""
    if sender is None or dialable_number(caller) is None:
        return {}
    return {OFFER_TAG: "yes"}


async def send_text(sender: TextSender | None, caller: str | None, language: str) -> bool:
    """Send the chat link and hours to the caller; True when the gateway accepted it."""
    number = dialable_number(caller)
    if sender is None or number is None:
        log.warning("SMS offer taken but cannot be sent (gateway or number missing)")
        return False
    try:
        await sender.send(number, chat_link(language, sender.chat_url), language)
    except (MessageRefused, OSError, TimeoutError, SQLAlchemyError) as exc:
        log.warning("SMS to the caller not sent: %s", exc)
        return False
    return True


async def tell_caller(session: AgiSession, sent: bool, language: str, pbx_dir: str) -> None:
    """The confirmation when the gateway accepted the SMS, else the apology."""
    prompt = SENT_PROMPT if sent else FAILED_PROMPT
    await session.stream_file(f"{pbx_dir}/{language}/{prompt}")


def journey_outcome(sent: bool) -> str:
    """What the call log keeps of the offer (journey ``sms``): ``sent`` or ``failed``."""
    return "sent" if sent else "failed"


async def keep_offer(
    session: AgiSession, sender: TextSender | None, caller: str | None, language: str, pbx_dir: str
) -> bool:
    """Send the SMS, then tell the caller what happened (confirmation or apology)."""
    sent = await send_text(sender, caller, language)
    await tell_caller(session, sent, language, pbx_dir)
    return sent
