"""Safety calls: enrolled people (personal data sealed), attempts, timeline, escalations,
notifications.

Revision ID: 0005
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _ts(name: str, *, nullable: bool = False, index: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, index=index)


def _person_fk() -> sa.Column[object]:
    return sa.Column(
        "person_id", sa.String(32), sa.ForeignKey("safety_people.id"), nullable=False, index=True
    )


def upgrade() -> None:
    op.create_table(
        "safety_people",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("number_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("district", sa.String(32), nullable=False, index=True),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("window_start_min", sa.Integer(), nullable=False),
        sa.Column("window_end_min", sa.Integer(), nullable=False),
        sa.Column("personal_call", sa.Boolean(), nullable=False),
        sa.Column("calls_per_week", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _ts("enrolled_at"),
    )
    op.create_table(
        "safety_attempts",
        sa.Column("id", sa.String(64), primary_key=True),
        _person_fk(),
        sa.Column("kind", sa.String(16), nullable=False),
        _ts("planned_at"),
        _ts("placed_at", index=True),
        _ts("ended_at", nullable=True),
        sa.Column("outcome", sa.String(24)),
        sa.Column("detail", sa.Text()),
    )
    op.create_table(
        "safety_timeline",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _person_fk(),
        _ts("at", index=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_table(
        "safety_escalations",
        sa.Column("id", sa.String(32), primary_key=True),
        _person_fk(),
        sa.Column("reason", sa.String(24), nullable=False),
        _ts("opened_at"),
        sa.Column("stage", sa.String(24), nullable=False),
        _ts("closed_at", nullable=True),
        sa.Column("closed_reason", sa.String(64)),
    )
    op.create_table(
        "safety_notifications",
        sa.Column("id", sa.String(32), primary_key=True),
        _person_fk(),
        sa.Column(
            "escalation_id", sa.String(32), sa.ForeignKey("safety_escalations.id"), nullable=False
        ),
        sa.Column("recipient", sa.String(24), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        _ts("created_at"),
        _ts("delivered_at", nullable=True),
        sa.Column("channel", sa.String(16)),
    )


def downgrade() -> None:
    for table in (
        "safety_notifications",
        "safety_escalations",
        "safety_timeline",
        "safety_attempts",
        "safety_people",
    ):
        op.drop_table(table)
