"""Updates to supporters (docs/decisions/011-updates-to-supporters.md).

- supporter_update, supporter_update_text: an update and its subject and Markdown body per language, with where
  its sending has got to (the subscribers enqueued so far) and the tallies of delivered messages.
- outbox_message: `update_id` and `subscriber_id` for an update's messages, the one-click `List-Unsubscribe` link,
  the bounce code; statuses `bounced` (a 5xx refusal) and `held` (an update paused).
- subscriber: `bounced_at`, and an index over (initiative, active, id) for the recipients in order and the counts.

Revision ID: 0011
Revises: 0006
Create Date: 2026-11-30 06:59:27.240149

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0006'
branch_labels = None
depends_on = None

OLD_OUTBOX_STATUSES = "status IN ('queued','sent','failed')"
NEW_OUTBOX_STATUSES = "status IN ('queued','sent','failed','bounced','held')"


def upgrade():
    op.create_table('supporter_update',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('initiative_id', sa.Integer(), nullable=False),
    sa.Column('default_locale', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_by', sa.String(length=320), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('started_by', sa.String(length=320), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('last_subscriber_id', sa.Integer(), nullable=True),
    sa.Column('enqueued_through', sa.Integer(), nullable=False),
    sa.Column('paced_until', sa.DateTime(), nullable=True),
    sa.Column('sent', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('bounced', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('draft','sending','paused','sent')", name=op.f('ck_supporter_update_status')),
    sa.ForeignKeyConstraint(['initiative_id'], ['initiative.id'], name=op.f('fk_supporter_update_initiative_id_initiative'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supporter_update'))
    )
    with op.batch_alter_table('supporter_update', schema=None) as batch_op:
        batch_op.create_index('ix_supporter_update_initiative', ['initiative_id', 'created_at'], unique=False)

    op.create_table('supporter_update_text',
    sa.Column('update_id', sa.Integer(), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['update_id'], ['supporter_update.id'], name=op.f('fk_supporter_update_text_update_id_supporter_update'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('update_id', 'locale', name=op.f('pk_supporter_update_text'))
    )
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('update_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('subscriber_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('list_unsubscribe', sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column('bounce_code', sa.String(length=16), nullable=True))
        batch_op.create_index('ix_outbox_subscriber', ['subscriber_id'], unique=False)
        batch_op.create_index('ix_outbox_update', ['update_id', 'status'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_outbox_message_subscriber_id_subscriber'), 'subscriber', ['subscriber_id'], ['id'], ondelete='CASCADE')
        batch_op.create_foreign_key(batch_op.f('fk_outbox_message_update_id_supporter_update'), 'supporter_update', ['update_id'], ['id'], ondelete='CASCADE')
        batch_op.drop_constraint(batch_op.f('ck_outbox_message_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_outbox_message_status'), sa.text(NEW_OUTBOX_STATUSES))

    with op.batch_alter_table('subscriber', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bounced_at', sa.DateTime(), nullable=True))
        batch_op.create_index('ix_subscriber_initiative_active', ['initiative_id', 'active', 'id', 'unsubscribed_at', 'bounced_at'], unique=False)



def downgrade():
    with op.batch_alter_table('subscriber', schema=None) as batch_op:
        batch_op.drop_index('ix_subscriber_initiative_active')
        batch_op.drop_column('bounced_at')

    # the old schema knows neither: a bounce was a failure, and a held message has no body to send
    op.execute("UPDATE outbox_message SET status = 'failed' WHERE status = 'bounced'")
    op.execute("DELETE FROM outbox_message WHERE status = 'held'")
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_outbox_message_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_outbox_message_status'), sa.text(OLD_OUTBOX_STATUSES))
        batch_op.drop_constraint(batch_op.f('fk_outbox_message_update_id_supporter_update'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_outbox_message_subscriber_id_subscriber'), type_='foreignkey')
        batch_op.drop_index('ix_outbox_update')
        batch_op.drop_index('ix_outbox_subscriber')
        batch_op.drop_column('bounce_code')
        batch_op.drop_column('list_unsubscribe')
        batch_op.drop_column('subscriber_id')
        batch_op.drop_column('update_id')

    op.drop_table('supporter_update_text')
    with op.batch_alter_table('supporter_update', schema=None) as batch_op:
        batch_op.drop_index('ix_supporter_update_initiative')

    op.drop_table('supporter_update')
