"""Tables of conversations, their messages, SMS opt-outs, the SMS outbox and delivery reports.

Invariants:
- The schema is created by ``recordings/migrations/versions/0003_channels.py`` only; these
  classes mirror it (a unit test compares the two).
- No message text and no phone number is stored in clear: ``body_enc`` and ``citizen_enc``
  are AES-GCM under keys derived from the recordings master key (``channels.protect``);
  ``citizen_hash`` is a keyed hash (SMS numbers) or the hash of the chat's secret token.
- Message sequence numbers start at 1 per conversation with no gaps (unique together).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from common.storage import Base, UtcDateTime


class ConversationRow(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), index=True)
    language: Mapped[str] = mapped_column(String(2))
    service: Mapped[str] = mapped_column(String(64))
    citizen_hash: Mapped[str] = mapped_column(String(64), index=True)
    citizen_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(16))
    consultant: Mapped[str | None] = mapped_column(String(32), index=True)
    consultants: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    outcome: Mapped[str | None] = mapped_column(String(16))
    recording_id: Mapped[int | None] = mapped_column(Integer)
    citizen_read_seq: Mapped[int] = mapped_column(Integer, default=0)
    consultant_read_seq: Mapped[int] = mapped_column(Integer, default=0)


class MessageRow(Base):
    __tablename__ = "conversation_messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        UniqueConstraint("conversation_id", "client_ref"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    sender: Mapped[str] = mapped_column(String(16))
    author: Mapped[str | None] = mapped_column(String(32))
    body_enc: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(16))
    client_ref: Mapped[str | None] = mapped_column(String(64))


class SmsOptOutRow(Base):
    __tablename__ = "sms_opt_outs"

    number_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class SmsOutboxRow(Base):
    __tablename__ = "sms_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str | None] = mapped_column(String(64), index=True)
    number_hash: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    parts: Mapped[int] = mapped_column(Integer)
    coding: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), index=True)
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SmsDeliveryReportRow(Base):
    __tablename__ = "sms_delivery_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    outbox_id: Mapped[int] = mapped_column(
        ForeignKey("sms_outbox.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text, default="")
