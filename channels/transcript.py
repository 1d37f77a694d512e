"""A finished conversation's transcript: sealed into the recordings spool, proven in the catalog.

Invariants:
- The transcript is the conversation's record, as a recording is a call's: one JSON line per
  message (plus a header line), sealed with ``recordings.crypto.seal`` under the master key
  with the conversation id as context, written to ``<spool>/YYYY/MM/DD/<id>.jsonl.enc``
  (``.part`` first, renamed when complete) and cataloged as an archived recording whose
  ``uniqueid`` and ``call_id`` are the conversation id, so ``dasan recordings audit``
  verifies its hash, decrypts it and checks it against the chain, and retention purges it.
- Nothing is written in clear: the plaintext exists only in memory.
- Cataloging twice (an end retried after a crash) returns the first catalog row.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from channels.model import Conversation, Message
from recordings.catalog import ArchiveFacts, Catalog, NewRecording, Recording
from recordings.crypto import open_sealed, seal
from recordings.keys import KeyRing

FORMAT = "jsonl"
SUFFIX = ".jsonl.enc"


def transcript_bytes(conv: Conversation, ended_at: datetime, messages: Sequence[Message]) -> bytes:
    head = {
        "conversation": conv.id,
        "channel": conv.channel.value,
        "language": conv.language,
        "service": conv.service,
        "started_at": conv.started_at.isoformat(),
        "ended_at": ended_at.isoformat(),
    }
    lines = [json.dumps(head, ensure_ascii=False)]
    lines += [json.dumps(m.as_json(), ensure_ascii=False) for m in messages]
    return ("\n".join(lines) + "\n").encode()


def rel_paths(conv: Conversation) -> tuple[str, str]:
    base = f"{conv.started_at:%Y/%m/%d}/{conv.id}"
    return base + ".jsonl", base + SUFFIX


def _write_sealed(path: Path, plain: bytes, ring: KeyRing, context: str) -> tuple[int, str, str]:
    """(stored size, stored sha256, key id) after an atomic write of the sealed file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    with part.open("wb") as out:
        sealed = seal(io.BytesIO(plain), out, ring, context)
        out.flush()
        os.fsync(out.fileno())
    part.replace(path)
    return sealed.stored_size, sealed.stored_sha256, sealed.key_id


async def record_transcript(
    catalog: Catalog,
    spool: Path,
    ring: KeyRing,
    conv: Conversation,
    *,
    ended_at: datetime,
    messages: Sequence[Message],
) -> Recording:
    rel, archive_rel = rel_paths(conv)
    existing = [r for r in await catalog.find(uniqueid=conv.id) if r.rel_path == rel]
    if existing:
        return existing[0]
    plain = transcript_bytes(conv, ended_at, messages)
    digest = hashlib.sha256(plain).hexdigest()
    size, stored_sha, key_id = await asyncio.to_thread(
        _write_sealed, spool / archive_rel, plain, ring, conv.id
    )
    duration_ms = max(0, round((ended_at - conv.started_at).total_seconds() * 1000))
    added = await catalog.add(
        NewRecording(
            uniqueid=conv.id,
            call_id=conv.id,
            root="primary",
            rel_path=rel,
            format=FORMAT,
            sample_rate=0,
            size_bytes=len(plain),
            duration_ms=duration_ms,
            sha256=digest,
            started_at=conv.started_at,
        )
    )
    facts = ArchiveFacts(FORMAT, archive_rel, digest, duration_ms, size, stored_sha, True, key_id)
    return await catalog.archived(added.id, facts)


def read_transcript(spool: Path, recording: Recording, ring: KeyRing) -> list[dict[str, object]]:
    """The transcript's lines, decrypted and authenticated (blocking)."""
    path = spool / (recording.archive_rel_path or recording.rel_path)
    with path.open("rb") as handle:
        plain = b"".join(open_sealed(handle, ring, recording.uniqueid))
    return [json.loads(line) for line in plain.decode().splitlines() if line]
