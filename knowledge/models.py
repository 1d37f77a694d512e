"""Tables of the knowledge base and of after-call work.

Invariants:
- The schema is created by ``recordings/migrations/versions/0004_knowledge.py`` only; these
  classes mirror it (the storage unit test compares them). On PostgreSQL the migration adds
  what SQLAlchemy does not model: the generated ``tsv`` column of ``kb_cases`` (a tsvector of
  ``terms``) with its GIN index and a pg_trgm GIN index on ``fuzzy``; on SQLite two FTS5
  tables, ``kb_fts`` (the same terms) and ``kb_tri`` (trigrams of ``fuzzy``), keyed by case id.
  PostgreSQL also has ``kb_postings`` (migration 0007): one row per lexeme or trigram of each
  published case, written by triggers on ``kb_cases``, read by search.
- ``kb_cases`` holds a case's *published* content (what search and consultants see); every
  edit is a row of ``kb_case_versions`` with its review state, so the published text changes
  only when a reviewed version is published. ``terms``/``fuzzy`` are null until then.
- After-call notes are stored only as AES-GCM ciphertext bound to the call and consultant;
  the disposition code is data (a code, not free text) and stays in clear for reporting.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from common.storage import Base, UtcDateTime


class KbCaseRow(Base):
    __tablename__ = "kb_cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    language: Mapped[str] = mapped_column(String(2), index=True)
    translation_of: Mapped[int | None] = mapped_column(Integer)
    latest_version: Mapped[int] = mapped_column(Integer)
    latest_state: Mapped[str] = mapped_column(String(16), index=True)
    published_version: Mapped[int | None] = mapped_column(Integer)
    # The published content (null until a version is published).
    title: Mapped[str | None] = mapped_column(Text)
    question: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    service: Mapped[str | None] = mapped_column(String(64), index=True)
    tags: Mapped[str | None] = mapped_column(Text)  # JSON list
    department: Mapped[str | None] = mapped_column(String(128))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    terms: Mapped[str | None] = mapped_column(Text)
    fuzzy: Mapped[str | None] = mapped_column(Text)
    helped: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class KbVersionRow(Base):
    __tablename__ = "kb_case_versions"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("kb_cases.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)  # JSON of the editable fields
    author: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    reviewer: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    comment: Mapped[str | None] = mapped_column(Text)


class CallNoteRow(Base):
    __tablename__ = "call_notes"
    __table_args__ = (UniqueConstraint("call_id", "consultant_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    consultant_id: Mapped[str] = mapped_column(String(32), index=True)
    caller_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    disposition: Mapped[str] = mapped_column(String(32))
    note_enc: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(16))
    written_at: Mapped[datetime] = mapped_column(UtcDateTime())
