"""Tables of the call log, the recordings catalog, its chain, the access log and transcripts.

Invariants:
- The schema is created by the Alembic scripts in ``recordings/migrations`` only; these
  classes mirror them (a unit test compares the two).
- A caller's number is never stored in clear: ``caller_hash`` is a keyed hash for lookup
  and ``caller_enc`` the number encrypted under a key derived from the master key.
- Recording paths are stored relative to their root (primary or spare spool) so moving the
  spool in the settings does not orphan the catalog.
- Transcript text is stored sealed (``recordings.textseal``), never in clear, with a keyed-hash
  token index for search.
- Durations and sizes are integers (milliseconds, bytes) so chained content hashes the same
  on every database.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from common.storage import Base, UtcDateTime


class RecordingState(enum.StrEnum):
    CATALOGED = "cataloged"  # the closed WAV is hashed and cataloged; archival pending
    ARCHIVED = "archived"  # converted (and encrypted); the WAV is gone
    PURGED = "purged"  # deleted at the end of retention; the row is the proof


class Root(enum.StrEnum):
    PRIMARY = "primary"
    SPARE = "spare"


class ParticipantRole(enum.StrEnum):
    CONSULTANT = "consultant"
    INTERPRETER = "interpreter"
    SUPERVISOR = "supervisor"


class CallRow(Base):
    __tablename__ = "calls"
    __table_args__ = (Index("ix_calls_tenant_started", "tenant", "started_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    uniqueid: Mapped[str] = mapped_column(String(64), unique=True)
    linkedid: Mapped[str | None] = mapped_column(String(64), index=True)
    caller_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    caller_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_id: Mapped[str | None] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(2))
    service: Mapped[str | None] = mapped_column(String(64))
    journey: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    routed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    # The district whose number was dialed (acd.tenants); None: the city's own 120.
    tenant: Mapped[str | None] = mapped_column(String(32))


class ParticipantRow(Base):
    __tablename__ = "call_participants"
    __table_args__ = (UniqueConstraint("call_id", "person_id", "role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[str] = mapped_column(String(32), index=True)
    role: Mapped[str] = mapped_column(String(16))
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime())


class RecordingRow(Base):
    __tablename__ = "recordings"
    __table_args__ = (UniqueConstraint("root", "rel_path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uniqueid: Mapped[str] = mapped_column(String(64), index=True)
    call_id: Mapped[str | None] = mapped_column(String(64), index=True)
    root: Mapped[str] = mapped_column(String(8))
    rel_path: Mapped[str] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(8))
    sample_rate: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    closed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    state: Mapped[str] = mapped_column(String(16), index=True)
    archive_format: Mapped[str | None] = mapped_column(String(8))
    archive_rel_path: Mapped[str | None] = mapped_column(String(255))
    archive_sha256: Mapped[str | None] = mapped_column(String(64))
    archive_duration_ms: Mapped[int | None] = mapped_column(Integer)
    stored_size_bytes: Mapped[int | None] = mapped_column(Integer)
    stored_sha256: Mapped[str | None] = mapped_column(String(64))
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    key_id: Mapped[str | None] = mapped_column(String(16))
    purged_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class CatalogLinkRow(Base):
    __tablename__ = "catalog_chain"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))
    recording_id: Mapped[int | None] = mapped_column(Integer, index=True)
    content: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AccessLogRow(Base):
    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_at", "at"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    call_id: Mapped[str | None] = mapped_column(String(64), index=True)
    content: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class TranscriptRow(Base):
    __tablename__ = "transcripts"

    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), primary_key=True
    )
    call_id: Mapped[str | None] = mapped_column(String(64), index=True)
    language: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(8))
    # Empty once sealed: the text lives in ``text_enc`` (recordings.textseal), searchable
    # through ``transcript_tokens``; rows from before sealing are sealed at start.
    text: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)
    engine: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    text_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_id: Mapped[str | None] = mapped_column(String(16))


class TranscriptTokenRow(Base):
    """Keyed hashes of a transcript's characters and character pairs (its search index)."""

    __tablename__ = "transcript_tokens"

    recording_id: Mapped[int] = mapped_column(
        ForeignKey("transcripts.recording_id", ondelete="CASCADE"), primary_key=True
    )
    token: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
