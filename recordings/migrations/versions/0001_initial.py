"""Call log, recordings catalog and its chain, access log, transcripts, alarms.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None


def _ts(name: str, *, nullable: bool = False, index: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, index=index)


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("uniqueid", sa.String(64), nullable=False, unique=True),
        sa.Column("linkedid", sa.String(64), index=True),
        sa.Column("caller_hash", sa.String(64), index=True),
        sa.Column("caller_enc", sa.LargeBinary()),
        sa.Column("key_id", sa.String(16)),
        sa.Column("language", sa.String(2)),
        sa.Column("service", sa.String(64)),
        sa.Column("journey", sa.Text()),
        _ts("started_at", index=True),
        _ts("routed_at", nullable=True),
        _ts("ended_at", nullable=True),
        sa.Column("duration_ms", sa.Integer()),
    )
    op.create_table(
        "call_participants",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "call_id",
            sa.String(64),
            sa.ForeignKey("calls.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("person_id", sa.String(32), nullable=False, index=True),
        sa.Column("role", sa.String(16), nullable=False),
        _ts("joined_at"),
        sa.UniqueConstraint("call_id", "person_id", "role"),
    )
    op.create_table(
        "recordings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("uniqueid", sa.String(64), nullable=False, index=True),
        sa.Column("call_id", sa.String(64), index=True),
        sa.Column("root", sa.String(8), nullable=False),
        sa.Column("rel_path", sa.String(255), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("sample_rate", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        _ts("started_at", index=True),
        _ts("closed_at"),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("archive_format", sa.String(8)),
        sa.Column("archive_rel_path", sa.String(255)),
        sa.Column("archive_sha256", sa.String(64)),
        sa.Column("archive_duration_ms", sa.Integer()),
        sa.Column("stored_size_bytes", sa.Integer()),
        sa.Column("stored_sha256", sa.String(64)),
        sa.Column("encrypted", sa.Boolean(), nullable=False),
        sa.Column("key_id", sa.String(16)),
        _ts("purged_at", nullable=True),
        sa.UniqueConstraint("root", "rel_path"),
    )
    op.create_table(
        "catalog_chain",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("recording_id", sa.Integer(), index=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "access_log",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("call_id", sa.String(64), index=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_access_log_at", "access_log", ["at"])
    op.create_table(
        "transcripts",
        sa.Column(
            "recording_id",
            sa.Integer(),
            sa.ForeignKey("recordings.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("call_id", sa.String(64), index=True),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("engine", sa.String(32), nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        _ts("raised_at"),
        _ts("cleared_at", nullable=True, index=True),
    )


def downgrade() -> None:
    for table in (
        "alarms",
        "transcripts",
        "access_log",
        "catalog_chain",
        "recordings",
        "call_participants",
        "calls",
    ):
        op.drop_table(table)
