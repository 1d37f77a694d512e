"""Conversations (chat, SMS), their encrypted messages, SMS opt-outs, outbox, delivery reports.

Revision ID: 0003
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None


def _ts(name: str, *, nullable: bool = False, index: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, index=index)


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(8), nullable=False, index=True),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("citizen_hash", sa.String(64), nullable=False, index=True),
        sa.Column("citizen_enc", sa.LargeBinary()),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("consultant", sa.String(32), index=True),
        sa.Column("consultants", sa.Text(), nullable=False),
        _ts("started_at", index=True),
        _ts("ended_at", nullable=True),
        sa.Column("outcome", sa.String(16)),
        sa.Column("recording_id", sa.Integer()),
        sa.Column("citizen_read_seq", sa.Integer(), nullable=False),
        sa.Column("consultant_read_seq", sa.Integer(), nullable=False),
    )
    op.create_table(
        "conversation_messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "conversation_id",
            sa.String(64),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        _ts("at"),
        sa.Column("sender", sa.String(16), nullable=False),
        sa.Column("author", sa.String(32)),
        sa.Column("body_enc", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("client_ref", sa.String(64)),
        sa.UniqueConstraint("conversation_id", "seq"),
        sa.UniqueConstraint("conversation_id", "client_ref"),
    )
    op.create_table(
        "sms_opt_outs",
        sa.Column("number_hash", sa.String(64), primary_key=True),
        _ts("at"),
    )
    op.create_table(
        "sms_outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(64), index=True),
        sa.Column("number_hash", sa.String(64), nullable=False, index=True),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("coding", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("detail", sa.Text()),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_table(
        "sms_delivery_reports",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "outbox_id",
            sa.Integer(),
            sa.ForeignKey("sms_outbox.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        _ts("at"),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "sms_delivery_reports",
        "sms_outbox",
        "sms_opt_outs",
        "conversation_messages",
        "conversations",
    ):
        op.drop_table(table)
