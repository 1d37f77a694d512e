"""Districts as tenants: the tenant of each call and of each web user.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

``calls.tenant``: the district whose number the citizen dialed (``acd.tenants``), NULL for the
city's own 120 and for every call logged before districts existed (the city's). Indexed: a
district's reports and its supervisor's list read only its rows.
``web_users.tenant``: NULL for the city's users (they see everything); a district id for a
district's supervisor, who sees only that district's calls and figures.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("tenant", sa.String(32), nullable=True))
        batch.create_index("ix_calls_tenant_started", ["tenant", "started_at"])
    with op.batch_alter_table("web_users") as batch:
        batch.add_column(sa.Column("tenant", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("web_users") as batch:
        batch.drop_column("tenant")
    with op.batch_alter_table("calls") as batch:
        batch.drop_index("ix_calls_tenant_started")
        batch.drop_column("tenant")
