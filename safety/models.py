"""Tables of the safety calls (schema: ``recordings/migrations/versions/0005_safety.py``).

Invariants:
- No personal data in clear: ``safety_people.sealed`` holds name, number, emergency contact
  and welfare officer encrypted (``safety.protect``); the timeline names who should be told by
  role (emergency contact, welfare officer), never by number.
- Every call attempt has exactly one row, written when it is placed and completed with its
  outcome; the timeline is append-only.
- A notification is ``pending`` until a notifier that really delivered it says so.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from common.storage import Base, UtcDateTime


class PersonRow(Base):
    __tablename__ = "safety_people"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    number_hash: Mapped[str] = mapped_column(String(64), unique=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary())
    key_id: Mapped[str] = mapped_column(String(16))
    district: Mapped[str] = mapped_column(String(32), index=True)
    language: Mapped[str] = mapped_column(String(2))
    window_start_min: Mapped[int] = mapped_column(Integer())
    window_end_min: Mapped[int] = mapped_column(Integer())
    personal_call: Mapped[bool] = mapped_column(Boolean())
    calls_per_week: Mapped[int] = mapped_column(Integer())
    active: Mapped[bool] = mapped_column(Boolean(), default=True)
    enrolled_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AttemptRow(Base):
    __tablename__ = "safety_attempts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the originated channel id
    person_id: Mapped[str] = mapped_column(ForeignKey("safety_people.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # scheduled | retry | callback
    planned_at: Mapped[datetime] = mapped_column(UtcDateTime())
    placed_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(24), nullable=True)
    detail: Mapped[str | None] = mapped_column(Text(), nullable=True)


class TimelineRow(Base):
    __tablename__ = "safety_timeline"

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("safety_people.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text())  # JSON


class EscalationRow(Base):
    __tablename__ = "safety_escalations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("safety_people.id"), index=True)
    reason: Mapped[str] = mapped_column(String(24))  # no-contact | pressed-2 | concern
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    stage: Mapped[str] = mapped_column(String(24))  # callback | notified | closed
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    closed_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)


class NotificationRow(Base):
    __tablename__ = "safety_notifications"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("safety_people.id"), index=True)
    escalation_id: Mapped[str] = mapped_column(ForeignKey("safety_escalations.id"))
    recipient: Mapped[str] = mapped_column(String(24))  # emergency_contact | welfare_officer
    state: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    channel: Mapped[str | None] = mapped_column(String(16), nullable=True)  # sms | ticket
