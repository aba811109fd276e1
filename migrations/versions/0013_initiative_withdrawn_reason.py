"""The reason an initiative was withdrawn, shown on its public page.

See docs/decisions/013-staff-pages-that-protect-their-users.md.

- initiative: `withdrawn_reason`, empty for every initiative withdrawn before (their reason is in the audit log).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('initiative', schema=None) as batch_op:
        batch_op.add_column(sa.Column('withdrawn_reason', sa.String(length=1000), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('initiative', schema=None) as batch_op:
        batch_op.drop_column('withdrawn_reason')
