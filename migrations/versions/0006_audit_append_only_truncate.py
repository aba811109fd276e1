"""The audit log: a BEFORE TRUNCATE trigger beside the row triggers (TRUNCATE fires no row trigger), ids without
gaps, and an index to page an initiative's entries by id.

From now on `record()` numbers entries itself, so that a gap in the ids means a removed entry
(docs/decisions/004-audit-signed-heads.md). Before, PostgreSQL's sequence gave the ids and left a gap wherever a
transaction that had written an entry rolled back; this upgrade closes those gaps, keeping the order. The hashes do
not cover ids, so the chain is unchanged, and an entry removed from its middle still breaks it.

The app's own database role gets INSERT and SELECT on audit_entry only (scripts/database-app-role.sql, README
"Deployment"); the owner, who runs the migrations, could still switch the triggers off, which the signed heads show.

Revision ID: 0006
Revises: 0010
Create Date: 2026-11-30 08:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index('ix_audit_initiative_id', ['initiative_id', 'id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_append_only")
        # through negative ids: a unique key is checked row by row
        op.execute("""
            UPDATE audit_entry SET id = -numbered.position
            FROM (SELECT id, row_number() OVER (ORDER BY id) AS position FROM audit_entry) AS numbered
            WHERE audit_entry.id = numbered.id AND audit_entry.id <> numbered.position
        """)
        op.execute("UPDATE audit_entry SET id = -id WHERE id < 0")
        op.execute("ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_append_only")
        # the function of 0001 raises 'audit_entry is append-only: TRUNCATE refused'
        op.execute("""
            CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry
            FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only();
        """)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_entry_no_truncate ON audit_entry")
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_initiative_id')
