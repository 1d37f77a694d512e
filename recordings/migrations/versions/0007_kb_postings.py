"""Knowledge-base postings on PostgreSQL: one row per (index term or trigram, case).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

The search used to score candidates by re-testing every query term and trigram against each
case (``tsv @@ ...`` and ``fuzzy LIKE '%abc%'`` per row); a query with common trigrams read
and re-checked nearly every case (75 ms). ``kb_postings`` turns both matchers into index-only
scans of a B-tree, summed per case: ``kind`` 't' rows are the lexemes of the case's ``tsv``,
'g' rows the distinct three-character pieces of each word of ``fuzzy`` (a word shorter than
three characters counts whole: the rule of ``knowledge.analyze.trigrams``). The filter columns
(language, validity) are copied into the key's INCLUDE part so no case row is read.

Invariant: the postings describe exactly the *published* cases as they are in ``kb_cases``.
``kb_index_rows(cases)`` writes the postings of these case rows; statement-level triggers
write them after every insert, rewrite them after every update that changes what is indexed,
and remove them after every delete, in the same transaction. The migration fills the table
for the existing cases.
SQLite keeps its FTS5 tables (nothing here).
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels = None
depends_on = None

_TABLE = """
CREATE TABLE kb_postings (
    kind CHAR(1) NOT NULL,
    token TEXT NOT NULL,
    case_id INTEGER NOT NULL,
    language VARCHAR(2) NOT NULL,
    valid_from DATE,
    valid_until DATE,
    CONSTRAINT pk_kb_postings PRIMARY KEY (kind, token, case_id)
        INCLUDE (language, valid_from, valid_until)
)
"""

# The postings of these cases' rows (only published ones have any). Rows are passed, not ids:
# a trigger hands over its transition table as they are, with no join planned on a table
# whose statistics do not yet know it is filling (an import inserts 500 cases a statement).
# No JIT: the planner's guesses for the set-returning functions (1,000 rows each) would have
# every one-case publication compile its query (~200 ms) for a few dozen rows.
_INDEX_ROWS = """
CREATE FUNCTION kb_index_rows(cases kb_cases[]) RETURNS void LANGUAGE sql SET jit = off AS $$
    INSERT INTO kb_postings (kind, token, case_id, language, valid_from, valid_until)
    SELECT 't', lexeme, c.id, c.language, c.valid_from, c.valid_until
    FROM unnest(cases) AS c, unnest(tsvector_to_array(c.tsv)) AS lexeme
    WHERE c.published_version IS NOT NULL AND c.terms IS NOT NULL
    UNION ALL
    SELECT DISTINCT 'g', substr(w.word, i, 3), c.id, c.language, c.valid_from, c.valid_until
    FROM unnest(cases) AS c,
         regexp_split_to_table(c.fuzzy, '\\s+') AS w(word),
         generate_series(1, greatest(length(w.word) - 2, 1)) AS i
    WHERE c.published_version IS NOT NULL AND c.fuzzy IS NOT NULL AND w.word <> '';
$$
"""

# Statement-level triggers: one call per statement, however many rows it touched.
_ON_INSERT = """
CREATE FUNCTION kb_postings_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM kb_index_rows(ARRAY(SELECT n::kb_cases FROM new_rows n));
    RETURN NULL;
END $$
"""
# Only rows whose indexed columns changed are re-indexed (``helped`` counts, review states and
# drafts leave the postings alone). Case ids are never updated; a row whose id did change is
# handled as a delete and an insert all the same.
_ON_UPDATE = """
CREATE FUNCTION kb_postings_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed kb_cases[];
BEGIN
    changed := ARRAY(
        SELECT n::kb_cases FROM new_rows n LEFT JOIN old_rows o ON o.id = n.id
        WHERE o.id IS NULL
           OR (n.terms, n.fuzzy, n.language, n.valid_from, n.valid_until, n.published_version)
              IS DISTINCT FROM
              (o.terms, o.fuzzy, o.language, o.valid_from, o.valid_until, o.published_version)
    );
    DELETE FROM kb_postings WHERE case_id = ANY(
        ARRAY(SELECT (c).id FROM unnest(changed) AS c
              UNION (SELECT id FROM old_rows EXCEPT SELECT id FROM new_rows))
    );
    PERFORM kb_index_rows(changed);
    RETURN NULL;
END $$
"""
_ON_DELETE = """
CREATE FUNCTION kb_postings_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM kb_postings p USING old_rows o WHERE p.case_id = o.id;
    RETURN NULL;
END $$
"""
_TRIGGERS = (
    "CREATE TRIGGER kb_postings_ins AFTER INSERT ON kb_cases REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION kb_postings_inserted()",
    "CREATE TRIGGER kb_postings_upd AFTER UPDATE ON kb_cases "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION kb_postings_updated()",
    "CREATE TRIGGER kb_postings_del AFTER DELETE ON kb_cases REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION kb_postings_deleted()",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_TABLE)
    op.execute("CREATE INDEX ix_kb_postings_case ON kb_postings (case_id)")
    for statement in (_INDEX_ROWS, _ON_INSERT, _ON_UPDATE, _ON_DELETE, *_TRIGGERS):
        op.execute(statement)
    op.execute("SELECT kb_index_rows(ARRAY(SELECT c FROM kb_cases c))")
    op.execute("ANALYZE kb_postings")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for trigger in ("kb_postings_ins", "kb_postings_upd", "kb_postings_del"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON kb_cases")
    for function in ("kb_postings_inserted()", "kb_postings_updated()", "kb_postings_deleted()"):
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    op.execute("DROP FUNCTION IF EXISTS kb_index_rows(kb_cases[])")
    op.execute("DROP TABLE IF EXISTS kb_postings")
