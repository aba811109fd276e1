"""spent_challenge: proof-of-work challenges that signed a statement, kept until they expire so that each signs once
(docs/decisions/010-proof-of-work.md).

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-30 07:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('spent_challenge',
    sa.Column('challenge', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('challenge', name=op.f('pk_spent_challenge'))
    )
    with op.batch_alter_table('spent_challenge', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_spent_challenge_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('spent_challenge', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_spent_challenge_expires_at'))

    op.drop_table('spent_challenge')
