"""Group commit: writes that arrive together share one transaction (no I/O of its own).

Invariants:
- A sender's future resolves only after ``commit`` returned for the batch holding its item:
  with the store's ``commit`` that is after the transaction committed.
- ``commit`` answers each item with its result or its own error (bad input fails only that
  item); if ``commit`` itself raises (the transaction failed), every item of that batch gets
  that error, so nothing is ever acknowledged that was not stored.
- A batch holds at most ``max_batch`` items; the first item waits at most ``window_s`` for
  company; items arriving while a batch commits form the next batch without further wait.
- No task outlives the queue: the drain task ends once nothing is pending.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    def __init__(
        self,
        commit: Callable[[Sequence[Item]], Awaitable[Sequence[Result | BaseException]]],
        *,
        window_s: float = 0.002,
        max_batch: int = 200,
    ) -> None:
        if max_batch < 1 or window_s < 0:
            raise ValueError("max_batch must be >= 1 and window_s >= 0")
        self._commit = commit
        self._window_s = window_s
        self._max_batch = max_batch
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._inflight: list[tuple[Item, asyncio.Future[Result]]] = []
        self._drain: asyncio.Task[None] | None = None
        self.batches = 0  # transactions attempted, for tests and figures

    async def submit(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._drain is None:
            self._drain = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        try:
            if len(self._pending) < self._max_batch:
                await asyncio.sleep(self._window_s)
            while self._pending:
                self._inflight = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._flush(self._inflight)
                self._inflight = []
        finally:
            self._drain = None
            for _item, future in self._inflight + self._pending:  # only if the drain was cancelled
                if not future.done():
                    future.set_exception(RuntimeError("group commit stopped"))
            self._inflight, self._pending = [], []

    async def _flush(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        self.batches += 1
        try:
            outcomes = await self._commit([item for item, _f in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError("group commit: one outcome per item expected")
        except Exception as exc:  # the transaction failed: nobody is acknowledged
            for _item, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_item, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
