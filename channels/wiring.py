"""Building the text channels from their parts (called by the composition root).

Invariants: nothing here runs at import; ``build`` only assembles objects, ``ChannelsService.run``
starts the work, and ``close`` releases the HTTP client to Kannel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from acd.driver import AcdDriver
from channels.acd_link import AcdLink
from channels.conversations import Conversations
from channels.protect import TextSealer
from channels.service import ChannelsService
from channels.settings import ChannelsSettings
from channels.sms.gateway import SmsGateway
from channels.store import ConversationStore
from common.storage import Storage
from ivr.hours import ServiceHours
from recordings.catalog import Catalog
from recordings.keys import KeyRing


@dataclass(frozen=True, slots=True)
class ChannelParts:
    storage: Storage
    ring: KeyRing
    catalog: Catalog
    spool: Path
    acd: AcdDriver
    hours: ServiceHours | None


def build(settings: ChannelsSettings, parts: ChannelParts) -> ChannelsService:
    sealer = TextSealer(parts.ring)
    store = ConversationStore(parts.storage, sealer)
    conversations = Conversations(store, parts.catalog, parts.spool, parts.ring)
    gateway = (
        SmsGateway(settings.kannel, parts.storage, sealer.numbers)
        if settings.kannel.enabled
        else None
    )
    hours = parts.hours

    def chat_open(now: datetime) -> bool:
        return hours is None or hours.is_open(settings.hours_service, now)

    return ChannelsService(
        settings, conversations, AcdLink(parts.acd), gateway=gateway, chat_open=chat_open
    )
