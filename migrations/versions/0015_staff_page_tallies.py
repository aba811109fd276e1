"""Tallies for the staff pages at a million statements (docs/decisions/015-tallies-for-staff-pages.md).

- initiative_tally: an initiative's outbox messages by delivery state and its subscribers by where they stand.
- fingerprint_use: statements per email and network fingerprint of an initiative, and an index for the most used.
- quarantine_held: what each quarantine holds now, confirmed and not.
- statement: indexes for the quarantine's criteria: (initiative, country, status, quarantine, created) in place of
  (initiative, country, status), so that "this member state" (and a window of creation) is read from the index
  alone; (initiative, confirmed) for a window of confirmation; (initiative, network fingerprint) for networks.

Each tally is filled from a recount here, so that `counters check` finds them right after the upgrade.

Revision ID: 0015
Revises: 0005
Create Date: 2026-12-14 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0005'
branch_labels = None
depends_on = None

TALLY_NAMES = (
    "name IN ('mail_queued','mail_retrying','mail_held','mail_sent','mail_failed','mail_bounced',"
    "'subscribers_active','subscribers_pending','subscribers_unsubscribed','subscribers_bounced')"
)

# the recounts, as app/statements/tallies.py counts them
FILL = [
    """INSERT INTO initiative_tally (initiative_id, name, value)
       SELECT initiative_id,
              CASE WHEN status = 'queued' AND attempts > 0 THEN 'mail_retrying'
                   WHEN status = 'queued' THEN 'mail_queued'
                   ELSE 'mail_' || status END,
              count(*)
       FROM outbox_message WHERE initiative_id IS NOT NULL
       GROUP BY 1, 2""",
    """INSERT INTO initiative_tally (initiative_id, name, value)
       SELECT initiative_id,
              CASE WHEN active THEN 'subscribers_active'
                   WHEN bounced_at IS NOT NULL THEN 'subscribers_bounced'
                   WHEN unsubscribed_at IS NOT NULL THEN 'subscribers_unsubscribed'
                   ELSE 'subscribers_pending' END,
              count(*)
       FROM subscriber
       GROUP BY 1, 2""",
    """INSERT INTO fingerprint_use (initiative_id, kind, fingerprint, statements)
       SELECT initiative_id, 'email', email_fingerprint, count(*) FROM statement GROUP BY initiative_id, email_fingerprint""",
    """INSERT INTO fingerprint_use (initiative_id, kind, fingerprint, statements)
       SELECT initiative_id, 'network', network_fingerprint, count(*) FROM statement
       WHERE network_fingerprint IS NOT NULL GROUP BY initiative_id, network_fingerprint""",
    """INSERT INTO quarantine_held (quarantine_id, initiative_id, confirmed, unconfirmed)
       SELECT quarantine_id, initiative_id,
              sum(CASE WHEN status = 'confirmed' THEN 1 ELSE 0 END),
              sum(CASE WHEN status = 'confirmed' THEN 0 ELSE 1 END)
       FROM statement WHERE quarantine_id IS NOT NULL
       GROUP BY quarantine_id, initiative_id""",
]


def upgrade():
    op.create_table('initiative_tally',
    sa.Column('initiative_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.CheckConstraint(TALLY_NAMES, name=op.f('ck_initiative_tally_name')),
    sa.ForeignKeyConstraint(['initiative_id'], ['initiative.id'], name=op.f('fk_initiative_tally_initiative_id_initiative'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('initiative_id', 'name', name=op.f('pk_initiative_tally'))
    )
    op.create_table('fingerprint_use',
    sa.Column('initiative_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('statements', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('email','network')", name=op.f('ck_fingerprint_use_kind')),
    sa.ForeignKeyConstraint(['initiative_id'], ['initiative.id'], name=op.f('fk_fingerprint_use_initiative_id_initiative'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('initiative_id', 'kind', 'fingerprint', name=op.f('pk_fingerprint_use'))
    )
    with op.batch_alter_table('fingerprint_use', schema=None) as batch_op:
        batch_op.create_index('ix_fingerprint_use_statements', ['initiative_id', 'kind', 'statements', 'fingerprint'], unique=False)

    op.create_table('quarantine_held',
    sa.Column('quarantine_id', sa.Integer(), nullable=False),
    sa.Column('initiative_id', sa.Integer(), nullable=False),
    sa.Column('confirmed', sa.Integer(), nullable=False),
    sa.Column('unconfirmed', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['initiative_id'], ['initiative.id'], name=op.f('fk_quarantine_held_initiative_id_initiative'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['quarantine_id'], ['quarantine.id'], name=op.f('fk_quarantine_held_quarantine_id_quarantine'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('quarantine_id', name=op.f('pk_quarantine_held'))
    )
    with op.batch_alter_table('quarantine_held', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quarantine_held_initiative_id'), ['initiative_id'], unique=False)

    with op.batch_alter_table('statement', schema=None) as batch_op:
        batch_op.drop_index('ix_statement_initiative_country_status')
        batch_op.create_index('ix_statement_initiative_country_status_created', ['initiative_id', 'country_code', 'status', 'quarantine_id', 'created_at'], unique=False)
        batch_op.create_index('ix_statement_initiative_confirmed', ['initiative_id', 'confirmed_at'], unique=False)
        batch_op.create_index('ix_statement_initiative_network', ['initiative_id', 'network_fingerprint'], unique=False)

    for sql in FILL:
        op.execute(sql)


def downgrade():
    with op.batch_alter_table('statement', schema=None) as batch_op:
        batch_op.drop_index('ix_statement_initiative_network')
        batch_op.drop_index('ix_statement_initiative_confirmed')
        batch_op.drop_index('ix_statement_initiative_country_status_created')
        batch_op.create_index('ix_statement_initiative_country_status', ['initiative_id', 'country_code', 'status'], unique=False)

    with op.batch_alter_table('quarantine_held', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quarantine_held_initiative_id'))

    op.drop_table('quarantine_held')
    with op.batch_alter_table('fingerprint_use', schema=None) as batch_op:
        batch_op.drop_index('ix_fingerprint_use_statements')

    op.drop_table('fingerprint_use')
    op.drop_table('initiative_tally')
