"""Group commit of chat messages: few transactions, acknowledged after commit, all-or-nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.batch import GroupCommit
from channels.conversations import Conversations
from channels.model import Channel, Sender
from channels.models import MessageRow
from channels.store import ConversationClosed, ConversationStore, UnknownConversation
from common.storage import Storage

pytestmark = pytest.mark.unit


def _count_commits(storage: Storage, log: list[str]) -> None:
    def on_commit(_conn: Any) -> None:
        log.append("commit")

    event.listen(storage.engine.sync_engine, "commit", on_commit)


async def _open(store: ConversationStore, n: int) -> list[str]:
    return [(await store.open(Channel.CHAT, "ko", "general", f"{i:064d}")).id for i in range(n)]


async def _rows(storage: Storage) -> int:
    async with storage.session() as session:
        return int(await session.scalar(select(func.count()).select_from(MessageRow)) or 0)


async def test_many_concurrent_sends_share_few_transactions(
    conversations: Conversations, storage: Storage
) -> None:
    store = conversations.store
    ids = await _open(store, 10)
    log: list[str] = []
    _count_commits(storage, log)
    sends = [
        store.add(cid, Sender.CITIZEN, f"질문 {n}", client_ref=f"{cid}-{n}")
        for n in range(10)
        for cid in ids
    ]
    results = await asyncio.gather(*sends)
    assert all(new for _m, new in results)
    assert 1 <= log.count("commit") <= 3  # 100 messages, not 100 transactions
    assert store.messages_in.batches == log.count("commit")
    for cid in ids:  # dense per conversation, in the order sent
        seqs = [m.seq for m in await store.messages(cid)]
        assert seqs == list(range(1, 11))
        assert [m.text for m in await store.messages(cid)] == [f"질문 {n}" for n in range(10)]


async def test_each_send_is_acknowledged_only_after_its_commit(
    conversations: Conversations, storage: Storage
) -> None:
    store = conversations.store
    (cid,) = await _open(store, 1)
    log: list[str] = []
    _count_commits(storage, log)

    async def send(n: int) -> None:
        message, _new = await store.add(cid, Sender.CITIZEN, f"m{n}", client_ref=f"r{n}")
        log.append("ack")
        # another session (another reader) sees it the moment it is acknowledged
        assert message.seq in [m.seq for m in await store.messages(cid)]

    await asyncio.gather(*(send(n) for n in range(20)))
    assert log.count("ack") == 20
    assert log.index("commit") < log.index("ack")


class _FailingCommit:
    """The real storage, but every write transaction fails at its commit (disk full)."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def session(self) -> Any:
        return self._storage.session()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        async with self._storage.session() as session:
            try:
                yield session
                await session.flush()
                raise OSError("disk full")
            finally:
                await session.rollback()


async def test_a_failed_commit_fails_every_message_of_the_batch(
    conversations: Conversations, storage: Storage
) -> None:
    store = conversations.store
    ids = await _open(store, 3)
    store._storage = _FailingCommit(storage)  # type: ignore[assignment]
    sends = [
        store.add(cid, Sender.CITIZEN, f"t{n}", client_ref=f"x{n}") for n in range(5) for cid in ids
    ]
    outcomes = await asyncio.gather(*sends, return_exceptions=True)
    assert len(outcomes) == 15
    assert all(isinstance(o, OSError) for o in outcomes)  # nobody acknowledged
    assert await _rows(storage) == 0
    store._storage = storage
    message, new = await store.add(ids[0], Sender.CITIZEN, "t0", client_ref="x0")  # the retry
    assert new and message.seq == 1


async def test_duplicates_in_one_batch_and_later_are_stored_once(
    conversations: Conversations, storage: Storage
) -> None:
    store = conversations.store
    (cid,) = await _open(store, 1)
    together = await asyncio.gather(
        *(store.add(cid, Sender.CITIZEN, "안녕하세요", client_ref="same") for _ in range(5))
    )
    assert [new for _m, new in together].count(True) == 1
    assert {m.seq for m, _new in together} == {1}
    again, new = await store.add(cid, Sender.CITIZEN, "안녕하세요", client_ref="same")
    assert not new and again.seq == 1 and again.text == "안녕하세요"
    assert await _rows(storage) == 1


async def test_a_bad_message_fails_alone(conversations: Conversations, storage: Storage) -> None:
    store = conversations.store
    ids = await _open(store, 2)
    await conversations.end(ids[1], None)
    outcomes = await asyncio.gather(
        store.add(ids[0], Sender.CITIZEN, "ok", client_ref="a"),
        store.add("chat-nope", Sender.CITIZEN, "lost?", client_ref="b"),
        store.add(ids[1], Sender.CITIZEN, "late", client_ref="c"),
        store.add(ids[0], Sender.CITIZEN, "ok too", client_ref="d"),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], UnknownConversation)
    assert isinstance(outcomes[2], ConversationClosed)
    assert [m.text for m in await store.messages(ids[0])] == ["ok", "ok too"]


async def test_group_commit_bounds_its_batches() -> None:
    seen: list[int] = []

    async def commit(items: Sequence[int]) -> list[int | BaseException]:
        seen.append(len(items))
        await asyncio.sleep(0)
        return [i * 2 for i in items]

    group = GroupCommit[int, int](commit, window_s=0.001, max_batch=4)
    assert await asyncio.gather(*(group.submit(i) for i in range(10))) == [i * 2 for i in range(10)]
    assert seen == [4, 4, 2]
    with pytest.raises(ValueError):
        GroupCommit[int, int](commit, max_batch=0)


async def test_group_commit_answers_a_short_reply_as_a_failure() -> None:
    async def commit(items: Sequence[int]) -> list[int | BaseException]:
        return [1]

    group = GroupCommit[int, int](commit)
    outcomes = await asyncio.gather(group.submit(1), group.submit(2), return_exceptions=True)
    assert all(isinstance(o, RuntimeError) for o in outcomes)
