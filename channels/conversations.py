"""Conversations as a whole: store plus record. Ending one seals its transcript first.

Invariants:
- ``end`` is idempotent: a conversation already ended is returned as it is.
- The outcome is derived from the messages unless given (opt-out): answered once a
  consultant wrote, unanswered otherwise.
"""

from __future__ import annotations

from pathlib import Path

from channels.model import Conversation, Outcome, Sender
from channels.store import ConversationStore
from channels.transcript import record_transcript
from common.alarms import Clock, utc_now
from recordings.catalog import Catalog
from recordings.keys import KeyRing


class Conversations:
    def __init__(
        self,
        store: ConversationStore,
        catalog: Catalog,
        spool: Path,
        ring: KeyRing,
        clock: Clock = utc_now,
    ) -> None:
        self.store = store
        self._catalog = catalog
        self._spool = spool
        self._ring = ring
        self._clock = clock

    async def end(self, conversation_id: str, outcome: Outcome | None = None) -> Conversation:
        conv = await self.store.get(conversation_id)
        if not conv.is_open:
            return conv
        ended_at = self._clock()
        messages = await self.store.messages(conversation_id)
        if outcome is None:
            answered = any(m.sender is Sender.CONSULTANT for m in messages)
            outcome = Outcome.ANSWERED if answered else Outcome.UNANSWERED
        recording = await record_transcript(
            self._catalog, self._spool, self._ring, conv, ended_at=ended_at, messages=messages
        )
        return await self.store.finish(conversation_id, ended_at, outcome, recording.id)
