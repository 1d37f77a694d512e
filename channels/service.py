"""The text channels at run time: citizens' chats and SMS threads, routed to consultants.

Invariants:
- Every message is stored (``ConversationStore.add``) before anyone is told of it; a
  restart rebuilds who holds what from the database (``restore``) and offers again what
  nobody held, so nothing a citizen or consultant was shown is lost.
- A consultant acts only on conversations they hold (``NotYours`` otherwise).
- Routing happens under one lock: a conversation is never given to two consultants and a
  consultant never exceeds ``acd.capacity.Capacity``; the voice core sees text holders as
  not ready (``channels.acd_link``), so no call reaches them.
- Chat opens only inside the chat service hours (``ivr/data/service_hours.yaml``: ``chat``);
  outside them the citizen is told the hours and nothing is opened or promised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from acd.capacity import Capacity
from channels import texts
from channels.acd_link import VoiceCore
from channels.conversations import Conversations
from channels.live import LiveHub
from channels.model import (
    Channel,
    Conversation,
    Message,
    MessageRefused,
    Outcome,
    Sender,
    check_language,
    clean_text,
)
from channels.protect import new_token, token_hash
from channels.routing import choose, service_for
from channels.settings import ChannelsSettings
from channels.sms.codec import InboundSms, SmsRefused, guess_language, keyword
from channels.sms.gateway import OPT_OUT_CONFIRMATION, SmsGateway
from common.alarms import Clock, utc_now

log = logging.getLogger("dasan.channels")
OpenCheck = Callable[[datetime], bool]


class NotYours(PermissionError):
    """The consultant does not hold this conversation."""


class ChatClosed(RuntimeError):
    """Chat is outside its service hours."""


def conversation_json(conv: Conversation) -> dict[str, Any]:
    return {
        "id": conv.id,
        "channel": conv.channel.value,
        "language": conv.language,
        "service": conv.service,
        "consultant": conv.consultant,
        "started_at": conv.started_at.isoformat(),
        "ended_at": conv.ended_at.isoformat() if conv.ended_at else None,
        "outcome": conv.outcome.value if conv.outcome else None,
    }


class ChannelsService:
    def __init__(
        self,
        settings: ChannelsSettings,
        conversations: Conversations,
        voice: VoiceCore,
        *,
        gateway: SmsGateway | None = None,
        chat_open: OpenCheck | None = None,
        capacity: Capacity | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings
        self.conversations = conversations
        self.store = conversations.store
        self.voice = voice
        self.gateway = gateway
        self.capacity = capacity or Capacity()
        self.hub = LiveHub()
        self._chat_open = chat_open
        self._clock = clock
        self._holding: dict[str, dict[str, str]] = defaultdict(dict)  # consultant -> conv -> ch
        self._pending: dict[str, Conversation] = {}
        self._avoid: dict[str, str] = {}  # conversation -> consultant it was handed away from
        self._lock = asyncio.Lock()
        self._rate: dict[str, deque[float]] = defaultdict(deque)
        self._wake = asyncio.Event()
        self.stats: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))

    # Lifecycle ----------------------------------------------------------------------
    async def restore(self) -> None:
        for conv in await self.store.open_conversations():
            if conv.consultant is not None:
                self._holding[conv.consultant][conv.id] = conv.channel.value
                self.voice.text_busy(conv.consultant, True)
            else:
                self._pending[conv.id] = conv
        log.info("text channels: %d held, %d waiting", self.held_count(), len(self._pending))

    async def run(self) -> None:
        await self.restore()
        while True:
            await self.route_pending()
            await self._end_idle_safely()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.reoffer_s)

    def held_count(self) -> int:
        return sum(len(v) for v in self._holding.values())

    def holding(self, consultant_id: str) -> list[str]:
        return list(self._holding.get(consultant_id, {}))

    def waiting(self) -> list[str]:
        return list(self._pending)

    # Routing ------------------------------------------------------------------------
    def _counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for consultant, held in self._holding.items():
            counts: dict[str, int] = defaultdict(int)
            for channel in held.values():
                counts[channel] += 1
            out[consultant] = dict(counts)
        return out

    async def route_pending(self) -> list[tuple[str, str]]:
        given: list[tuple[str, str]] = []
        async with self._lock:
            for conv in list(self._pending.values()):
                counts = self._counts()
                avoid = self._avoid.get(conv.id)
                candidates = [c for c in self.voice.candidates(counts) if c.id != avoid]
                chosen = choose(
                    candidates, conv.channel.value, conv.language, conv.service, self.capacity
                )
                if chosen is None:
                    continue
                await self._give(conv, chosen)
                given.append((conv.id, chosen))
        return given

    async def _give(self, conv: Conversation, consultant: str) -> None:
        conv = await self.store.assign(conv.id, consultant)
        self._pending.pop(conv.id, None)
        handed_over = self._avoid.pop(conv.id, None) is not None
        self._holding[consultant][conv.id] = conv.channel.value
        self.voice.text_busy(consultant, True)
        if not handed_over:
            waited = (self._clock() - conv.started_at).total_seconds()
            self._count(conv.channel, "answered", waited)
        self.hub.to_consultant(
            consultant, {"type": "assigned", "conversation": await self.view(conv.id)}
        )
        self.hub.to_citizen(conv.id, {"type": "joined"})
        log.info("conversation %s given to %s", conv.id, consultant)

    def _count(self, channel: Channel, what: str, waited: float | None = None) -> None:
        figures = self.stats[channel.value]
        figures[what] += 1
        if waited is not None and waited <= 60.0:
            figures["answered_in_60s"] += 1

    def channel_figures(self) -> dict[str, dict[str, float | int | None]]:
        """Per text channel since start: offered, answered, answered within 60 s, the service
        level (that share), waiting and held now."""
        out: dict[str, dict[str, float | int | None]] = {}
        for channel in (Channel.CHAT, Channel.SMS):
            figures = self.stats[channel.value]
            answered = int(figures["answered"])
            within = int(figures["answered_in_60s"])
            out[channel.value] = {
                "offered": int(figures["offered"]),
                "answered": answered,
                "answered_in_60s": within,
                "service_level": round(within / answered, 3) if answered else None,
                "waiting": sum(1 for c in self._pending.values() if c.channel is channel),
                "held": sum(
                    1
                    for held in self._holding.values()
                    for ch in held.values()
                    if ch == channel.value
                ),
            }
        return out

    def _release(self, consultant: str, conversation_id: str) -> None:
        held = self._holding.get(consultant, {})
        held.pop(conversation_id, None)
        if not held:
            self._holding.pop(consultant, None)
            self.voice.text_busy(consultant, False)
        self._wake.set()

    def _queue(self, conv: Conversation) -> None:
        self._pending[conv.id] = conv
        self._count(conv.channel, "offered")
        self._wake.set()

    # Views --------------------------------------------------------------------------
    async def view(self, conversation_id: str) -> dict[str, Any]:
        conv = await self.store.get(conversation_id)
        citizen_read, consultant_read = await self.store.read_marks(conversation_id)
        return {
            **conversation_json(conv),
            "messages": [m.as_json() for m in await self.store.messages(conversation_id)],
            "citizen_read": citizen_read,
            "consultant_read": consultant_read,
        }

    def _check_rate(self, conversation_id: str) -> None:
        now = time.monotonic()
        times = self._rate[conversation_id]
        while times and now - times[0] > 60.0:
            times.popleft()
        if len(times) >= self.settings.max_messages_per_minute:
            raise MessageRefused("rate", "too many messages; please wait a moment")
        times.append(now)

    async def _publish(self, conv_id: str, message: Message, consultant: str | None) -> None:
        event = {"type": "message", "conversation": conv_id, "message": message.as_json()}
        self.hub.to_citizen(conv_id, event)
        self.hub.to_consultant(consultant, event)

    # Citizens: chat -----------------------------------------------------------------
    async def start_chat(self, language: str) -> tuple[Conversation, str]:
        check_language(language)
        if self._chat_open is not None and not self._chat_open(self._clock()):
            raise ChatClosed(texts.chat_closed(language))
        token = new_token()
        service = service_for(language, self.settings.chat_service)
        conv = await self.store.open(Channel.CHAT, language, service, token_hash(token))
        self._queue(conv)
        return conv, token

    async def resume(self, token: str) -> Conversation | None:
        return await self.store.open_by_citizen(Channel.CHAT, token_hash(token))

    async def citizen_message(self, conv_id: str, text: object, ref: str | None) -> Message:
        clean = clean_text(text, self.settings.max_chat_chars)
        self._check_rate(conv_id)
        message, new = await self.store.add(conv_id, Sender.CITIZEN, clean, client_ref=ref)
        if new:  # the holder from memory: delivery waits on no further database read
            await self._publish(conv_id, message, self._holder(conv_id))
        return message

    def _holder(self, conv_id: str) -> str | None:
        """Who holds the conversation now (routing's own table, kept with every assign)."""
        for consultant, held in self._holding.items():
            if conv_id in held:
                return consultant
        return None

    async def citizen_signal(self, conv_id: str, kind: str, seq: int = 0) -> None:
        conv = await self.store.get(conv_id)
        if kind == "read":
            upto = await self.store.mark_read(conv_id, Sender.CITIZEN, seq)
            event: dict[str, Any] = {"type": "read", "by": "citizen", "seq": upto}
        else:
            event = {"type": "typing", "by": "citizen"}
        self.hub.to_consultant(conv.consultant, {**event, "conversation": conv_id})

    async def citizen_end(self, conv_id: str) -> Conversation:
        return await self._end(conv_id, None)

    # Citizens: SMS ------------------------------------------------------------------
    async def sms_inbound(self, sms: InboundSms) -> str:
        """Store an inbound SMS in its thread (opening one) and offer it; returns the id."""
        numbers = self.store.sealer.numbers
        digest = numbers.lookup_hash(sms.sender)
        word = keyword(sms.text)
        if word is not None and self.gateway is not None:
            return await self._sms_keyword(sms, word, digest)
        conv = await self.store.open_by_citizen(Channel.SMS, digest)
        if conv is None:
            language = guess_language(sms.text)
            service = service_for(language, self.settings.chat_service)
            conv = await self.store.open(Channel.SMS, language, service, digest, sms.sender)
            self._queue(conv)
        message, new = await self.store.add(
            conv.id, Sender.CITIZEN, sms.text, client_ref=sms.kannel_id
        )
        if new:
            await self._publish(conv.id, message, conv.consultant)
        return conv.id

    async def _sms_keyword(self, sms: InboundSms, word: str, digest: str) -> str:
        assert self.gateway is not None
        language = guess_language(sms.text)
        await self.gateway.set_opt_out(sms.sender, word == "opt_out")
        conv = await self.store.open_by_citizen(Channel.SMS, digest)
        if word == "opt_out":
            if conv is not None:
                await self.store.add(conv.id, Sender.CITIZEN, sms.text, client_ref=sms.kannel_id)
                await self._end(conv.id, Outcome.OPTED_OUT)
            await self.gateway.send(
                sms.sender, texts.opted_out(language), purpose=OPT_OUT_CONFIRMATION
            )
            return conv.id if conv is not None else "opt-out"
        await self.gateway.send(sms.sender, texts.opted_in(language), purpose="opt_in")
        return conv.id if conv is not None else "opt-in"

    # Consultants --------------------------------------------------------------------
    def _own(self, consultant: str, conv_id: str) -> None:
        if conv_id not in self._holding.get(consultant, {}):
            raise NotYours(f"{consultant} does not hold conversation {conv_id}")

    async def consultant_message(self, consultant: str, conv_id: str, text: object) -> Message:
        self._own(consultant, conv_id)
        conv = await self.store.get(conv_id)
        limit = self.settings.max_chat_chars if conv.channel is Channel.CHAT else 1000
        clean = clean_text(text, limit)
        if conv.channel is Channel.SMS:
            await self._send_thread_sms(conv, clean)
        message, _ = await self.store.add(conv_id, Sender.CONSULTANT, clean, author=consultant)
        await self._publish(conv_id, message, consultant)
        return message

    async def _send_thread_sms(self, conv: Conversation, text: str) -> None:
        number = await self.store.number(conv.id)
        if self.gateway is None or number is None:
            raise SmsRefused("gateway", "SMS is not configured on this engine")
        await self.gateway.send(number, text, purpose="reply", conversation_id=conv.id)

    async def consultant_signal(
        self, consultant: str, conv_id: str, kind: str, seq: int = 0
    ) -> None:
        self._own(consultant, conv_id)
        if kind == "read":
            upto = await self.store.mark_read(conv_id, Sender.CONSULTANT, seq)
            event: dict[str, Any] = {"type": "read", "by": "consultant", "seq": upto}
        else:
            event = {"type": "typing", "by": "consultant"}
        self.hub.to_citizen(conv_id, {**event, "conversation": conv_id})

    async def handover(self, consultant: str, conv_id: str) -> None:
        """Give the conversation back to routing; another consultant takes it over."""
        self._own(consultant, conv_id)
        conv = await self.store.release(conv_id)
        self._release(consultant, conv_id)
        self._avoid[conv_id] = consultant
        self._pending[conv_id] = conv
        self.hub.to_citizen(conv_id, {"type": "handover"})
        self.hub.to_consultant(consultant, {"type": "released", "conversation": conv_id})
        await self.route_pending()

    async def consultant_end(self, consultant: str, conv_id: str) -> Conversation:
        self._own(consultant, conv_id)
        return await self._end(conv_id, None)

    async def _end(self, conv_id: str, outcome: Outcome | None) -> Conversation:
        conv = await self.conversations.end(conv_id, outcome)
        self._pending.pop(conv_id, None)
        for consultant, held in list(self._holding.items()):
            if conv_id in held:
                self._release(consultant, conv_id)
                self.hub.to_consultant(consultant, {"type": "ended", "conversation": conv_id})
        self.hub.to_citizen(conv_id, {"type": "ended"})
        return conv

    # Idle chats ---------------------------------------------------------------------
    async def end_idle(self) -> list[str]:
        """End every open chat without a message from anyone for ``idle_end_s`` (counted from
        its start when it has none): the citizen is told why, in their language, by a system
        message kept in the transcript, then it ends as if ended by hand. SMS threads are
        not ended this way (a text may come days later). Returns the ids ended."""
        limit = self.settings.idle_end_s
        now = self._clock()
        chats = [c for c in await self.store.open_conversations() if c.channel is Channel.CHAT]
        last = await self.store.last_message_at([c.id for c in chats])
        ended = []
        for conv in chats:
            since = max(conv.started_at, last.get(conv.id, conv.started_at))
            if (now - since).total_seconds() < limit:
                continue
            notice = texts.idle_ended(conv.language, limit)
            message, _new = await self.store.add(conv.id, Sender.SYSTEM, notice)
            await self._publish(conv.id, message, self._holder(conv.id))
            await self._end(conv.id, None)
            log.info("chat %s ended after %.0f s without messages", conv.id, limit)
            ended.append(conv.id)
        return ended

    async def _end_idle_safely(self) -> None:
        """One idle sweep; a failure is logged and the next sweep tries again (the loop that
        also routes conversations must not stop for it)."""
        try:
            await self.end_idle()
        except Exception:
            log.exception("idle chats: sweep failed; trying again at the next pass")

    async def mine(self, consultant: str) -> list[dict[str, Any]]:
        return [await self.view(cid) for cid in self.holding(consultant)]

    # For other packages -------------------------------------------------------------
    async def send_sms(self, number: str, text: str, language: str, purpose: str = "notice") -> int:
        """Send one SMS (Korean and the other languages as UCS-2, long ones joined).

        Raises ``SmsRefused`` with a reason (unknown_number, too_long, opted_out, gateway)."""
        check_language(language)
        if self.gateway is None:
            raise SmsRefused("gateway", "SMS is not configured on this engine")
        return await self.gateway.send(number, text, purpose=purpose)
