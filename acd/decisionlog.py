"""The ACD's journal (``<state>/acd/acd-YYYY-MM-DD.jsonl``), written by its own thread.

Invariants:
- ``write()`` never blocks and never raises: the record is turned into one JSON line on the
  caller's thread (so it says what was true then) and handed to the writer thread, which
  appends and flushes whole lines in arrival order, one file per UTC day.
- A failed write (disk full, folder gone) keeps the lines and retries with backoff; the
  problem is reported through ``on_problem(message)`` and its end through
  ``on_problem(None)``, on the event loop that created the log. Routing never stops for it.
- At most ``max_pending`` lines wait; beyond that the oldest are dropped and counted (said in
  the log and in the problem message), so memory stays bounded in a long outage.
- ``close()`` writes what is queued (within ``close_timeout_s``) and stops the thread.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("dasan.acd.journal")

ProblemListener = Callable[[str | None], None]
_STOP = object()


class DecisionLog:
    def __init__(
        self,
        folder: Path,
        *,
        max_pending: int = 200_000,
        retry_min_s: float = 0.1,
        retry_max_s: float = 10.0,
        close_timeout_s: float = 5.0,
    ) -> None:
        self._folder = folder
        self._max_pending = max_pending
        self._retry = (retry_min_s, retry_max_s)
        self._close_timeout_s = close_timeout_s
        # (number, day, line); numbers let the thread drop exactly what it wrote
        self._lines: collections.deque[tuple[int, str, str]] = collections.deque()
        self._numbered = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.on_problem: ProblemListener | None = None
        self.dropped = 0
        self.written = 0

    def write(self, record: dict[str, Any]) -> None:
        day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        with self._cond:
            if self._thread is None:
                self._start()
            if len(self._lines) >= self._max_pending:
                self._lines.popleft()
                self.dropped += 1
            self._numbered += 1
            self._lines.append((self._numbered, day, line))
            self._cond.notify()

    def _start(self) -> None:
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        self._thread = threading.Thread(target=self._run, name="acd-journal", daemon=True)
        self._thread.start()

    def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join(self._close_timeout_s)

    # The writer thread ---------------------------------------------------------------------
    def _run(self) -> None:
        pause = self._retry[0]
        failing = False
        while True:
            with self._cond:
                while not self._lines and not self._stopping:
                    self._cond.wait()
                if not self._lines and self._stopping:
                    return
                batch = list(self._lines)
            try:
                self._append(batch)
            except OSError as exc:
                if self._stopping:
                    log.error("ACD journal: %d line(s) not written at stop: %s", len(batch), exc)
                    return
                failing = True
                self._report(f"ACD journal cannot be written ({exc}); routing goes on")
                with self._cond:
                    self._cond.wait(pause)  # a pause on this thread only; close() wakes it
                pause = min(pause * 2, self._retry[1])
                continue
            last = batch[-1][0]
            with self._cond:
                while self._lines and self._lines[0][0] <= last:
                    self._lines.popleft()
            self.written += len(batch)
            pause = self._retry[0]
            if failing:
                failing = False
                self._report(None)

    def _append(self, batch: list[tuple[int, str, str]]) -> None:
        self._folder.mkdir(parents=True, exist_ok=True)
        by_day: dict[str, list[str]] = {}
        for _number, day, line in batch:
            by_day.setdefault(day, []).append(line)
        for day, lines in by_day.items():
            with (self._folder / f"acd-{day}.jsonl").open("a", encoding="utf-8") as handle:
                handle.write("".join(lines))

    def _report(self, message: str | None) -> None:
        if message is not None and self.dropped:
            message += f"; {self.dropped} oldest line(s) dropped"
        if message is None:
            log.info("ACD journal written again")
        else:
            log.error("%s", message)
        listener, loop = self.on_problem, self._loop
        if listener is None:
            return
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(listener, message)
        except RuntimeError:  # the loop closed meanwhile: the log line above is what remains
            return
