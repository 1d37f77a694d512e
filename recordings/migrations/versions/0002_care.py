"""Care (129): tickets, timeline, officials, notifications, call-backs, survey.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None


def _ts(name: str, *, nullable: bool = False, index: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, index=index)


def _number() -> list[sa.Column[object]]:
    return [
        sa.Column("number_hash", sa.String(64), nullable=True, index=True),
        sa.Column("number_enc", sa.LargeBinary(), nullable=True),
        sa.Column("key_id", sa.String(16), nullable=True),
    ]


def _ticket_ref() -> sa.Column[object]:
    return sa.Column(
        "ticket_id",
        sa.String(32),
        sa.ForeignKey("care_tickets.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )


def upgrade() -> None:
    op.create_table(
        "care_tickets",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("call_id", sa.String(64), nullable=True, index=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("district", sa.String(32), nullable=False, index=True),
        sa.Column("department", sa.String(64), nullable=False, index=True),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("urgency", sa.String(8), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("channel", sa.String(12), nullable=False),
        sa.Column("consent", sa.Boolean(), nullable=False),
        *_number(),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("assignee", sa.String(64), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        _ts("created_at", index=True),
        _ts("due_at", index=True),
        _ts("first_response_at", nullable=True),
        _ts("resolved_at", nullable=True),
        _ts("escalated_at", nullable=True),
        sa.Column("escalations", sa.Integer(), nullable=False),
    )
    op.create_table(
        "care_ticket_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _ticket_ref(),
        _ts("at"),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=True, index=True),
        sa.Column("ref", sa.String(64), nullable=True),
    )
    op.create_table(
        "care_officials",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("department", sa.String(64), nullable=False, index=True),
    )
    op.create_table(
        "care_notifications",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _ticket_ref(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(12), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False, index=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("callback_id", sa.String(32), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_table(
        "care_callbacks",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("source_key", sa.String(160), nullable=False, unique=True),
        sa.Column("call_id", sa.String(64), nullable=True, index=True),
        sa.Column("ticket_id", sa.String(32), nullable=True, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        *_number(),
        _ts("requested_at", index=True),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("next_attempt_at", nullable=True),
        sa.Column("last_outcome", sa.String(200), nullable=False),
        sa.Column("answered_call_id", sa.String(64), nullable=True),
        _ts("updated_at"),
    )
    op.create_table(
        "care_callback_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "callback_id",
            sa.String(32),
            sa.ForeignKey("care_callbacks.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        _ts("started_at"),
        _ts("ended_at", nullable=True),
        sa.Column("outcome", sa.String(200), nullable=False),
        sa.Column("dialed_call_id", sa.String(64), nullable=True),
    )
    op.create_table(
        "care_survey",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(64), nullable=False, unique=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        _ts("answered_at", index=True),
    )


def downgrade() -> None:
    for table in (
        "care_survey",
        "care_callback_attempts",
        "care_callbacks",
        "care_notifications",
        "care_officials",
        "care_ticket_events",
        "care_tickets",
    ):
        op.drop_table(table)
