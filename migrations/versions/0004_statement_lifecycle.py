"""The statement lifecycle in one place (docs/decisions/001-statement-lifecycle.md).

- statement: one person may hold a pending statement per address; only one *confirmed* statement per person
  (a partial unique index), and one statement per person and address. New status `lapsed`. `locale`, the language
  the statement was given in, for its emails.
- initiative_country: pending, quarantined and invalidated counters beside the confirmed one; confirmation_day:
  counted statements per member state and day. Both are filled from the statements here, and kept from now on in
  the transaction of each change.
- mail_allowance: emails per initiative, address fingerprint and day (at most 10 a day to one address).
- initiative: `published_at` (a draft withdrawn before it was ever public stays hidden) and `statements_purged_at`.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 06:18:00.714047

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

OLD_STATUSES = "status IN ('pending','confirmed','invalidated')"
NEW_STATUSES = "status IN ('pending','confirmed','lapsed','invalidated')"


def upgrade():
    op.create_table('confirmation_day',
    sa.Column('initiative_id', sa.Integer(), nullable=False),
    sa.Column('country_code', sa.String(length=2), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('confirmed', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['initiative_id'], ['initiative.id'], name=op.f('fk_confirmation_day_initiative_id_initiative'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('initiative_id', 'country_code', 'day', name=op.f('pk_confirmation_day'))
    )
    op.create_table('mail_allowance',
    sa.Column('initiative_id', sa.Integer(), nullable=False),
    sa.Column('email_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('sent', sa.SmallInteger(), nullable=False),
    sa.ForeignKeyConstraint(['initiative_id'], ['initiative.id'], name=op.f('fk_mail_allowance_initiative_id_initiative'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('initiative_id', 'email_fingerprint', 'day', name=op.f('pk_mail_allowance'))
    )
    with op.batch_alter_table('initiative', schema=None) as batch_op:
        batch_op.add_column(sa.Column('published_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('statements_purged_at', sa.DateTime(), nullable=True))
    # an initiative that is not a draft now was published; when exactly is not known, its creation stands in
    op.execute("UPDATE initiative SET published_at = created_at WHERE status <> 'draft'")

    with op.batch_alter_table('initiative_country', schema=None) as batch_op:
        for name in ('pending_count', 'quarantined_count', 'invalidated_count'):
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('initiative_country', schema=None) as batch_op:
        for name in ('pending_count', 'quarantined_count', 'invalidated_count'):
            batch_op.alter_column(name, server_default=None)

    with op.batch_alter_table('statement', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=8), nullable=False, server_default='en'))
    with op.batch_alter_table('statement', schema=None) as batch_op:
        batch_op.alter_column('locale', server_default=None)
        batch_op.drop_constraint(batch_op.f('uq_statement_identity'), type_='unique')
        batch_op.drop_constraint(batch_op.f('ck_statement_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_statement_status'), sa.text(NEW_STATUSES))
        batch_op.create_index('uq_statement_identity_confirmed', ['initiative_id', 'identity_fingerprint'], unique=True, sqlite_where=sa.text("status = 'confirmed'"), postgresql_where=sa.text("status = 'confirmed'"))
        batch_op.create_unique_constraint('uq_statement_identity_email', ['initiative_id', 'identity_fingerprint', 'email_fingerprint'])

    # the new counters from the statements, with the rules app/statements/rules.py and counters.py keep from now on
    for column, condition in (
        ('pending_count', "s.status = 'pending' AND s.quarantine_id IS NULL"),
        ('quarantined_count', "s.status IN ('pending', 'confirmed') AND s.quarantine_id IS NOT NULL"),
        ('invalidated_count', "s.status = 'invalidated'"),
    ):
        op.execute(
            f"UPDATE initiative_country SET {column} = (SELECT count(*) FROM statement s "
            "WHERE s.initiative_id = initiative_country.initiative_id "
            f"AND s.country_code = initiative_country.country_code AND {condition})"
        )
    op.execute(
        "INSERT INTO confirmation_day (initiative_id, country_code, day, confirmed) "
        "SELECT initiative_id, country_code, CAST(confirmed_at AS DATE), count(*) FROM statement "
        "WHERE status = 'confirmed' AND quarantine_id IS NULL AND confirmed_at IS NOT NULL "
        "GROUP BY initiative_id, country_code, CAST(confirmed_at AS DATE)"
        if op.get_bind().dialect.name == "postgresql"
        else "INSERT INTO confirmation_day (initiative_id, country_code, day, confirmed) "
        "SELECT initiative_id, country_code, date(confirmed_at), count(*) FROM statement "
        "WHERE status = 'confirmed' AND quarantine_id IS NULL AND confirmed_at IS NOT NULL "
        "GROUP BY initiative_id, country_code, date(confirmed_at)"
    )


def downgrade():
    # a lapsed statement has no place in the old schema, and a person may now have several statements: those go
    op.execute("DELETE FROM statement WHERE status = 'lapsed'")
    op.execute(
        "DELETE FROM statement WHERE status = 'pending' AND EXISTS (SELECT 1 FROM statement other "
        "WHERE other.initiative_id = statement.initiative_id "
        "AND other.identity_fingerprint = statement.identity_fingerprint "
        "AND (other.status <> 'pending' OR other.created_at < statement.created_at))"
    )
    with op.batch_alter_table('statement', schema=None) as batch_op:
        batch_op.drop_constraint('uq_statement_identity_email', type_='unique')
        batch_op.drop_index('uq_statement_identity_confirmed', sqlite_where=sa.text("status = 'confirmed'"), postgresql_where=sa.text("status = 'confirmed'"))
        batch_op.drop_constraint(batch_op.f('ck_statement_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_statement_status'), sa.text(OLD_STATUSES))
        batch_op.create_unique_constraint(batch_op.f('uq_statement_identity'), ['initiative_id', 'identity_fingerprint'])
        batch_op.drop_column('locale')

    with op.batch_alter_table('initiative_country', schema=None) as batch_op:
        batch_op.drop_column('invalidated_count')
        batch_op.drop_column('quarantined_count')
        batch_op.drop_column('pending_count')

    with op.batch_alter_table('initiative', schema=None) as batch_op:
        batch_op.drop_column('statements_purged_at')
        batch_op.drop_column('published_at')

    op.drop_table('mail_allowance')
    op.drop_table('confirmation_day')
