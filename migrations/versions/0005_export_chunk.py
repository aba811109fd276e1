"""export_chunk: the staff side's exports kept in the database, so that any app server serves the download
(docs/decisions/003-exports-fail-closed-and-shared.md). export_record.directory is empty for those.

Revision ID: 0005
Revises: 0013
Create Date: 2026-11-30 06:57:43.798146

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('export_chunk',
    sa.Column('export_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=20), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['export_id'], ['export_record.id'], name=op.f('fk_export_chunk_export_id_export_record'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('export_id', 'name', 'seq', name=op.f('pk_export_chunk'))
    )
    if op.get_bind().dialect.name == 'postgresql':
        # base64 lines compress little and slowly (pglz took half of a stored export's time): kept as they are
        op.execute('ALTER TABLE export_chunk ALTER COLUMN data SET STORAGE EXTERNAL')
    with op.batch_alter_table('export_record', schema=None) as batch_op:
        batch_op.alter_column('directory',
               existing_type=sa.VARCHAR(length=500),
               nullable=True)


def downgrade():
    # an export kept in the database has no folder to point at: it cannot outlive its chunks
    op.drop_table('export_chunk')
    op.execute("DELETE FROM export_record WHERE directory IS NULL")
    with op.batch_alter_table('export_record', schema=None) as batch_op:
        batch_op.alter_column('directory',
               existing_type=sa.VARCHAR(length=500),
               nullable=False)
