"""The durable writer's journal: append-only JSON lines of queued writes and their acks.

Invariants:
- Each write is one line ``{"s": seq, "k": kind, "c": key, "a": args}`` appended with a single
  ``os.write`` on an ``O_APPEND`` descriptor: once ``append`` returns, the line is in the
  kernel and survives the engine being killed (not a power cut: there is no fsync per line).
- After a batch is committed the writer appends ``{"ack": seq}``: every write with a sequence
  number up to ``seq`` is in the database. Writes are idempotent, so replaying the few a crash
  left between commit and ack is harmless.
- Files are segments named by their first sequence number; a new one starts past
  ``segment_bytes``; a segment is deleted once every write in it is acknowledged.
- A torn last line (power cut) is skipped with a warning; every whole line is kept.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("common.storage.journal")

_PREFIX = "writes-"
_SUFFIX = ".jsonl"


@dataclass(frozen=True, slots=True)
class Op:
    """One queued write: ``kind`` names the applier, ``key`` the call it belongs to."""

    seq: int
    kind: str
    key: str
    args: dict[str, Any]

    def line(self) -> bytes:
        record = {"s": self.seq, "k": self.kind, "c": self.key, "a": self.args}
        return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def _segment_name(first_seq: int) -> str:
    return f"{_PREFIX}{first_seq:012d}{_SUFFIX}"


def _first_seq(path: Path) -> int:
    return int(path.name[len(_PREFIX) : -len(_SUFFIX)])


def _parse(raw: bytes, path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(raw)
    except ValueError:
        log.warning("journal %s: skipping a torn or unreadable line", path.name)
        return None
    return record if isinstance(record, dict) else None


class WriteJournal:
    """Segments under ``folder``; ``open()`` first, then ``append``/``ack`` from one thread."""

    def __init__(self, folder: Path, segment_bytes: int = 4 * 1024 * 1024) -> None:
        self.folder = folder
        self._segment_bytes = segment_bytes
        self._fd: int | None = None
        self._size = 0
        self._segments: list[Path] = []

    def segments(self) -> list[Path]:
        return sorted(self.folder.glob(f"{_PREFIX}*{_SUFFIX}"), key=_first_seq)

    def open(self) -> tuple[list[Op], int]:
        """Read what an earlier run left: (writes not yet acknowledged, in order; next seq)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        acked, last, ops = 0, 0, []
        for path in self.segments():
            for raw in path.read_bytes().splitlines():
                record = _parse(raw, path)
                if record is None:
                    continue
                if "ack" in record:
                    acked = max(acked, int(record["ack"]))
                else:
                    ops.append(Op(int(record["s"]), record["k"], record["c"], record["a"]))
                    last = max(last, int(record["s"]))
        pending = sorted((op for op in ops if op.seq > acked), key=lambda op: op.seq)
        self._segments = self.segments()
        self._start_segment(last + 1)
        if pending:
            log.warning("journal: %d write(s) left by an earlier run to replay", len(pending))
        return pending, last + 1

    def append(self, op: Op) -> None:
        """Raises OSError (the disk is full or failing); the caller keeps the op in memory."""
        if self._fd is None or self._size >= self._segment_bytes:
            self._start_segment(op.seq)
        assert self._fd is not None
        self._size += os.write(self._fd, op.line())

    def ack(self, seq: int) -> None:
        """Everything up to ``seq`` is committed; drop the segments it covers entirely."""
        if self._fd is None:
            self._start_segment(seq + 1)
        assert self._fd is not None
        self._size += os.write(self._fd, f'{{"ack":{seq}}}\n'.encode())
        # Segment i holds seqs [first_i, first_{i+1}); the current (last) one is never dropped.
        while len(self._segments) > 1 and _first_seq(self._segments[1]) - 1 <= seq:
            with contextlib.suppress(FileNotFoundError):
                self._segments[0].unlink()
            self._segments.pop(0)

    def read_range(self, start: int, end: int, limit: int) -> list[Op]:
        """Writes with ``start <= seq < end``, in order, at most ``limit`` (spill read-back)."""
        found: list[Op] = []
        for path in self.segments():
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            for raw in data.splitlines():
                record = _parse(raw, path)
                if record is None or "ack" in record:
                    continue
                seq = int(record["s"])
                if start <= seq < end:
                    found.append(Op(seq, record["k"], record["c"], record["a"]))
        found.sort(key=lambda op: op.seq)
        return found[:limit]

    def _start_segment(self, first_seq: int) -> None:
        self.close()
        path = self.folder / _segment_name(first_seq)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._size = os.fstat(self._fd).st_size
        if path not in self._segments:
            self._segments.append(path)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
