"""Knowledge base (cases, versions, search indexes), after-call notes, sealed transcripts.

Revision ID: 0004
Revises: 0001
Create Date: 2026-12-02

PostgreSQL: pg_trgm (a trusted extension: the database owner may create it), a generated
tsvector over the analyzed terms with a GIN index, and a trigram GIN index on the fuzzy form.
SQLite: FTS5 tables over the same terms and over the fuzzy form's trigrams.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None


def _ts(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "kb_cases",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("language", sa.String(2), nullable=False, index=True),
        sa.Column("translation_of", sa.Integer()),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("latest_state", sa.String(16), nullable=False, index=True),
        sa.Column("published_version", sa.Integer()),
        sa.Column("title", sa.Text()),
        sa.Column("question", sa.Text()),
        sa.Column("answer", sa.Text()),
        sa.Column("service", sa.String(64), index=True),
        sa.Column("tags", sa.Text()),
        sa.Column("department", sa.String(128)),
        sa.Column("valid_from", sa.Date()),
        sa.Column("valid_until", sa.Date()),
        sa.Column("terms", sa.Text()),
        sa.Column("fuzzy", sa.Text()),
        sa.Column("helped", sa.Integer(), nullable=False),
        _ts("updated_at"),
    )
    op.create_table(
        "kb_case_versions",
        sa.Column(
            "case_id",
            sa.Integer(),
            sa.ForeignKey("kb_cases.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        _ts("created_at"),
        sa.Column("reviewer", sa.String(64)),
        _ts("decided_at", nullable=True),
        sa.Column("comment", sa.Text()),
    )
    op.create_table(
        "call_notes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(64), nullable=False, index=True),
        sa.Column("consultant_id", sa.String(32), nullable=False, index=True),
        sa.Column("caller_hash", sa.String(64), index=True),
        sa.Column("disposition", sa.String(32), nullable=False),
        sa.Column("note_enc", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        _ts("written_at"),
        sa.UniqueConstraint("call_id", "consultant_id"),
    )
    # Transcripts sealed at rest, searchable through keyed hashes (recordings.textseal).
    op.add_column("transcripts", sa.Column("text_enc", sa.LargeBinary()))
    op.add_column("transcripts", sa.Column("key_id", sa.String(16)))
    op.create_table(
        "transcript_tokens",
        sa.Column(
            "recording_id",
            sa.Integer(),
            sa.ForeignKey("transcripts.recording_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("token", sa.String(64), primary_key=True, index=True),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "ALTER TABLE kb_cases ADD COLUMN tsv tsvector "
            "GENERATED ALWAYS AS (to_tsvector('simple', coalesce(terms, ''))) STORED"
        )
        op.execute("CREATE INDEX ix_kb_cases_tsv ON kb_cases USING gin (tsv)")
        op.execute("CREATE INDEX ix_kb_cases_fuzzy ON kb_cases USING gin (fuzzy gin_trgm_ops)")
    else:
        op.execute("CREATE VIRTUAL TABLE kb_fts USING fts5(terms)")
        op.execute("CREATE VIRTUAL TABLE kb_tri USING fts5(fuzzy, tokenize='trigram')")
        # Read-only views of the two indexes' vocabularies (document frequencies).
        op.execute("CREATE VIRTUAL TABLE kb_fts_vocab USING fts5vocab(kb_fts, row)")
        op.execute("CREATE VIRTUAL TABLE kb_tri_vocab USING fts5vocab(kb_tri, row)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TABLE IF EXISTS kb_tri_vocab")
        op.execute("DROP TABLE IF EXISTS kb_fts_vocab")
        op.execute("DROP TABLE IF EXISTS kb_tri")
        op.execute("DROP TABLE IF EXISTS kb_fts")
    for table in ("transcript_tokens", "call_notes", "kb_case_versions", "kb_cases"):
        op.drop_table(table)
    with op.batch_alter_table("transcripts") as batch:
        batch.drop_column("key_id")
        batch.drop_column("text_enc")
