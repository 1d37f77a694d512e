"""Hash chains: the tamper evidence behind the recordings catalog and the access log.

Invariants:
- Each link's hash is SHA-256 over the previous link's hash and the canonical JSON of the
  link's own fields (sequence number, time, kind and content), so editing, deleting,
  inserting or reordering any link breaks every later hash and is found by ``verify``.
- Canonical JSON: sorted keys, no insignificant whitespace, UTF-8, integers and strings only
  (no floats, whose text forms differ between databases).
- The first link's ``prev_hash`` is ``GENESIS``; sequence numbers start at 1 with no gaps.
- Pure: no I/O; the stores feed rows in and persist what comes out.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64

JsonValue = str | int | bool | None | list[Any] | dict[str, Any]


def canonical_json(value: Mapping[str, Any]) -> bytes:
    """Deterministic bytes for ``value`` (rejects floats and NaN so hashes are portable)."""
    _reject_floats(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _reject_floats(value: object) -> None:
    if isinstance(value, float):
        raise TypeError("floats are not allowed in chained content; use integers")
    if isinstance(value, Mapping):
        for item in value.values():
            _reject_floats(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _reject_floats(item)


def link_hash(prev_hash: str, seq: int, at: str, kind: str, content: Mapping[str, Any]) -> str:
    body = canonical_json({"seq": seq, "at": at, "kind": kind, "content": dict(content)})
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + body).hexdigest()


@dataclass(frozen=True, slots=True)
class Link:
    """One stored link as read back from the database."""

    seq: int
    at: str
    kind: str
    content: Mapping[str, Any]
    prev_hash: str
    hash: str


def next_link(head: Link | None, at: str, kind: str, content: Mapping[str, Any]) -> Link:
    """The link that follows ``head`` (or starts the chain when ``head`` is None)."""
    seq = 1 if head is None else head.seq + 1
    prev = GENESIS if head is None else head.hash
    return Link(seq, at, kind, dict(content), prev, link_hash(prev, seq, at, kind, content))


class BreakKind(enum.StrEnum):
    SEQUENCE_GAP = "sequence-gap"  # a link is missing or links were reordered
    PREV_MISMATCH = "prev-mismatch"  # the link does not point at its predecessor
    HASH_MISMATCH = "hash-mismatch"  # the link's own content was edited


@dataclass(frozen=True, slots=True)
class ChainBreak:
    seq: int
    kind: BreakKind
    detail: str


def verify(
    links: Iterable[Link], *, start_prev: str = GENESIS, start_seq: int = 1
) -> list[ChainBreak]:
    """Every break in ``links`` (given in stored order); empty when the chain is intact."""
    breaks: list[ChainBreak] = []
    expected_prev, expected_seq = start_prev, start_seq
    for link in links:
        if link.seq != expected_seq:
            breaks.append(
                ChainBreak(
                    link.seq, BreakKind.SEQUENCE_GAP, f"expected #{expected_seq}, found #{link.seq}"
                )
            )
        if link.prev_hash != expected_prev:
            breaks.append(
                ChainBreak(link.seq, BreakKind.PREV_MISMATCH, "does not follow the previous entry")
            )
        computed = link_hash(link.prev_hash, link.seq, link.at, link.kind, link.content)
        if computed != link.hash:
            breaks.append(
                ChainBreak(link.seq, BreakKind.HASH_MISMATCH, "content does not match its hash")
            )
        expected_prev, expected_seq = link.hash, link.seq + 1
    return breaks
