"""Conversations and their messages in the database, texts sealed (``channels.protect``).

Invariants:
- A message is acknowledged only once its row is committed: an engine restart keeps every
  message a citizen or consultant saw acknowledged.
- Sequence numbers are dense per conversation; a message sent again with the same
  ``client_ref`` (a reload, a retry) is stored once and the first copy is returned.
- Messages arriving together are written in one transaction (``channels.batch``): each
  sender is answered after that transaction committed; if it fails, every message of it fails.
- A conversation ends once; ``end`` seals the transcript into the catalog before the row
  says ended (``channels.transcript``), so an ended conversation always has its record.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from channels.batch import GroupCommit
from channels.model import Channel, Conversation, Message, Outcome, Sender
from channels.models import ConversationRow, MessageRow
from channels.protect import TextSealer
from common.alarms import Clock, utc_now
from common.storage import Storage

T = TypeVar("T")
_RETRIES = 5


class UnknownConversation(LookupError):
    """No conversation with that id."""


class ConversationClosed(RuntimeError):
    """The conversation has ended; it takes no more messages."""


def new_id(channel: Channel, at: datetime) -> str:
    return f"{channel.value}-{at:%Y%m%d%H%M%S}-{secrets.token_hex(4)}"


def _conversation(row: ConversationRow) -> Conversation:
    return Conversation(
        id=row.id,
        channel=Channel(row.channel),
        language=row.language,
        service=row.service,
        started_at=row.started_at,
        consultant=row.consultant,
        ended_at=row.ended_at,
        outcome=Outcome(row.outcome) if row.outcome else None,
        recording_id=row.recording_id,
    )


@dataclass(frozen=True)
class NewMessage:
    conversation_id: str
    sender: Sender
    text: str
    author: str | None = None
    client_ref: str | None = None


@dataclass
class _Batch:
    """What one transaction knows: the conversations, refs already stored, next seq each."""

    conversations: dict[str, ConversationRow]
    refs: dict[tuple[str, str], Message]
    next_seq: dict[str, int] = field(default_factory=dict)


class ConversationStore:
    def __init__(
        self,
        storage: Storage,
        sealer: TextSealer,
        clock: Clock = utc_now,
        *,
        window_s: float = 0.002,
        max_batch: int = 200,
    ) -> None:
        self._storage = storage
        self.sealer = sealer
        self._clock = clock
        self.messages_in = GroupCommit[NewMessage, tuple[Message, bool]](
            self._commit_messages, window_s=window_s, max_batch=max_batch
        )

    async def _write(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        for attempt in range(_RETRIES):
            try:
                async with self._storage.write() as session:
                    return await work(session)
            except IntegrityError:  # a concurrent writer took the same seq: try again
                if attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    async def open(
        self,
        channel: Channel,
        language: str,
        service: str,
        citizen_hash: str,
        number: str | None = None,
    ) -> Conversation:
        at = self._clock()
        cid = new_id(channel, at)
        enc = self.sealer.numbers.encrypt(number, cid) if number is not None else None
        row = ConversationRow(
            id=cid,
            channel=channel.value,
            language=language,
            service=service,
            citizen_hash=citizen_hash,
            citizen_enc=enc,
            key_id=self.sealer.key_id,
            consultants="",
            started_at=at,
            citizen_read_seq=0,
            consultant_read_seq=0,
        )

        async def work(session: AsyncSession) -> Conversation:
            session.add(row)
            await session.flush()
            return _conversation(row)

        return await self._write(work)

    async def add(
        self,
        conversation_id: str,
        sender: Sender,
        text: str,
        *,
        author: str | None = None,
        client_ref: str | None = None,
    ) -> tuple[Message, bool]:
        """(the stored message, True when new; False when ``client_ref`` was seen).

        Returns once the transaction holding it committed (group commit)."""
        item = NewMessage(conversation_id, sender, text, author, client_ref)
        return await self.messages_in.submit(item)

    async def _commit_messages(
        self, items: Sequence[NewMessage]
    ) -> list[tuple[Message, bool] | BaseException]:
        async def work(session: AsyncSession) -> list[tuple[Message, bool] | BaseException]:
            batch = await self._load(session, items)
            out: list[tuple[Message, bool] | BaseException] = []
            for item in items:
                try:
                    out.append(self._insert(session, batch, item))
                except (UnknownConversation, ConversationClosed) as exc:
                    out.append(exc)
            await session.flush()
            return out

        return await self._write(work)

    async def _load(self, session: AsyncSession, items: Sequence[NewMessage]) -> _Batch:
        """Three reads for the whole batch, not three per message."""
        ids = sorted({i.conversation_id for i in items})
        convs = await session.scalars(select(ConversationRow).where(ConversationRow.id.in_(ids)))
        refs = sorted({i.client_ref for i in items if i.client_ref is not None})
        seen: Sequence[MessageRow] = []
        if refs:
            found = await session.scalars(
                select(MessageRow).where(
                    MessageRow.conversation_id.in_(ids), MessageRow.client_ref.in_(refs)
                )
            )
            seen = found.all()
        lasts = await session.execute(
            select(MessageRow.conversation_id, func.max(MessageRow.seq))
            .where(MessageRow.conversation_id.in_(ids))
            .group_by(MessageRow.conversation_id)
        )
        batch = _Batch(
            conversations={c.id: c for c in convs},
            refs={(r.conversation_id, r.client_ref or ""): self._message(r) for r in seen},
        )
        batch.next_seq = {cid: (last or 0) + 1 for cid, last in lasts}
        return batch

    def _insert(
        self, session: AsyncSession, batch: _Batch, item: NewMessage
    ) -> tuple[Message, bool]:
        cid, ref = item.conversation_id, item.client_ref
        conv = batch.conversations.get(cid)
        if conv is None:
            raise UnknownConversation(f"no conversation {cid}")
        if ref is not None and (cid, ref) in batch.refs:
            return batch.refs[(cid, ref)], False
        if conv.ended_at is not None:
            raise ConversationClosed(f"conversation {cid} has ended")
        seq = batch.next_seq.get(cid, 1)
        batch.next_seq[cid] = seq + 1
        row = MessageRow(
            conversation_id=cid,
            seq=seq,
            at=self._clock(),
            sender=item.sender.value,
            author=item.author,
            body_enc=self.sealer.seal(item.text, cid, seq),
            key_id=self.sealer.key_id,
            client_ref=ref,
        )
        session.add(row)
        message = Message(cid, seq, row.at, item.sender, item.author, item.text)
        if ref is not None:
            batch.refs[(cid, ref)] = message
        return message, True

    async def assign(self, conversation_id: str, consultant: str) -> Conversation:
        async def work(session: AsyncSession) -> Conversation:
            row = await self._row(session, conversation_id)
            people = [p for p in row.consultants.split(",") if p]
            if consultant not in people:
                people.append(consultant)
            row.consultant, row.consultants = consultant, ",".join(people)
            return _conversation(row)

        return await self._write(work)

    async def release(self, conversation_id: str) -> Conversation:
        """No consultant holds it now (handover pending); the history keeps who did."""

        async def work(session: AsyncSession) -> Conversation:
            row = await self._row(session, conversation_id)
            row.consultant = None
            return _conversation(row)

        return await self._write(work)

    async def mark_read(self, conversation_id: str, by: Sender, seq: int) -> int:
        async def work(session: AsyncSession) -> int:
            row = await self._row(session, conversation_id)
            if by is Sender.CITIZEN:
                row.citizen_read_seq = max(row.citizen_read_seq, seq)
                return row.citizen_read_seq
            row.consultant_read_seq = max(row.consultant_read_seq, seq)
            return row.consultant_read_seq

        return await self._write(work)

    async def finish(
        self, conversation_id: str, ended_at: datetime, outcome: Outcome, recording_id: int
    ) -> Conversation:
        async def work(session: AsyncSession) -> Conversation:
            row = await self._row(session, conversation_id)
            if row.ended_at is None:
                row.ended_at, row.outcome, row.recording_id = ended_at, outcome.value, recording_id
            return _conversation(row)

        return await self._write(work)

    # Reading ------------------------------------------------------------------------
    async def _row(self, session: AsyncSession, conversation_id: str) -> ConversationRow:
        row = await session.get(ConversationRow, conversation_id)
        if row is None:
            raise UnknownConversation(f"no conversation {conversation_id}")
        return row

    def _message(self, row: MessageRow) -> Message:
        text = self.sealer.open(row.body_enc, row.conversation_id, row.seq, row.key_id)
        return Message(row.conversation_id, row.seq, row.at, Sender(row.sender), row.author, text)

    async def get(self, conversation_id: str) -> Conversation:
        async with self._storage.session() as session:
            return _conversation(await self._row(session, conversation_id))

    async def read_marks(self, conversation_id: str) -> tuple[int, int]:
        """(citizen read up to, consultant read up to)."""
        async with self._storage.session() as session:
            row = await self._row(session, conversation_id)
            return row.citizen_read_seq, row.consultant_read_seq

    async def citizen_hash(self, conversation_id: str) -> str:
        async with self._storage.session() as session:
            return (await self._row(session, conversation_id)).citizen_hash

    async def number(self, conversation_id: str) -> str | None:
        async with self._storage.session() as session:
            row = await self._row(session, conversation_id)
        if row.citizen_enc is None:
            return None
        return self.sealer.numbers.decrypt(row.citizen_enc, row.id, row.key_id)

    async def messages(self, conversation_id: str, after: int = 0) -> list[Message]:
        async with self._storage.session() as session:
            rows = await session.scalars(
                select(MessageRow)
                .where(MessageRow.conversation_id == conversation_id, MessageRow.seq > after)
                .order_by(MessageRow.seq)
            )
            return [self._message(r) for r in rows]

    async def open_by_citizen(self, channel: Channel, citizen_hash: str) -> Conversation | None:
        async with self._storage.session() as session:
            row = await session.scalar(
                select(ConversationRow)
                .where(
                    ConversationRow.channel == channel.value,
                    ConversationRow.citizen_hash == citizen_hash,
                    ConversationRow.ended_at.is_(None),
                )
                .order_by(ConversationRow.started_at.desc())
                .limit(1)
            )
            return _conversation(row) if row is not None else None

    async def open_conversations(self) -> list[Conversation]:
        async with self._storage.session() as session:
            rows = await session.scalars(
                select(ConversationRow)
                .where(ConversationRow.ended_at.is_(None))
                .order_by(ConversationRow.started_at)
            )
            return [_conversation(r) for r in rows]

    async def last_message_at(self, ids: Sequence[str]) -> dict[str, datetime]:
        """The time of each conversation's latest message (absent: it has none)."""
        if not ids:
            return {}
        async with self._storage.session() as session:
            rows = await session.execute(
                select(MessageRow.conversation_id, func.max(MessageRow.at))
                .where(MessageRow.conversation_id.in_(list(ids)))
                .group_by(MessageRow.conversation_id)
            )
            return {cid: at for cid, at in rows if at is not None}

    async def last(self, count: int) -> list[Conversation]:
        async with self._storage.session() as session:
            rows = await session.scalars(
                select(ConversationRow).order_by(ConversationRow.started_at.desc()).limit(count)
            )
            return [_conversation(r) for r in rows]

    async def consultants_of(self, ids: Sequence[str]) -> dict[str, list[str]]:
        async with self._storage.session() as session:
            rows = await session.scalars(
                select(ConversationRow).where(ConversationRow.id.in_(list(ids)))
            )
            return {r.id: [p for p in r.consultants.split(",") if p] for r in rows}
