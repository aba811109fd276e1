"""Partner organisations and the embeddable form and counter (docs/decisions/012-partners-and-embeds.md).

- partner: a partner organisation of an initiative (code, name, website, logo as a re-encoded PNG, the public key its
  hand-overs are sealed to); partner_country: counted statements per partner and member state, kept by
  app/statements in the confirming transaction.
- statement.partner_id: the partner whose link or embed brought the statement.
- partner_optin: addresses that asked for a partner's updates, until they are handed over (then scrubbed) or go with
  their statement; partner_handover: a sealed hand-over and its signed manifest.
- frame_origin: the sites that may frame an initiative's form and counter.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 07:53:49.134064

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('frame_origin',
    sa.Column('initiative_id', sa.Integer(), nullable=False),
    sa.Column('origin', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['initiative_id'], ['initiative.id'], name=op.f('fk_frame_origin_initiative_id_initiative'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('initiative_id', 'origin', name=op.f('pk_frame_origin'))
    )
    op.create_table('partner',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('initiative_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('website', sa.String(length=500), nullable=False),
    sa.Column('logo', sa.LargeBinary(), nullable=True),
    sa.Column('logo_sha256', sa.String(length=64), nullable=True),
    sa.Column('public_key', sa.LargeBinary(length=32), nullable=True),
    sa.Column('report_version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['initiative_id'], ['initiative.id'], name=op.f('fk_partner_initiative_id_initiative'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner')),
    sa.UniqueConstraint('initiative_id', 'code', name='uq_partner_code')
    )
    op.create_table('partner_country',
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('country_code', sa.String(length=2), nullable=False),
    sa.Column('confirmed', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], name=op.f('fk_partner_country_partner_id_partner'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('partner_id', 'country_code', name=op.f('pk_partner_country'))
    )
    op.create_table('partner_handover',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=320), nullable=False),
    sa.Column('addresses', sa.Integer(), nullable=False),
    sa.Column('manifest', sa.LargeBinary(), nullable=False),
    sa.Column('manifest_sha256', sa.String(length=64), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=True),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], name=op.f('fk_partner_handover_partner_id_partner'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_handover'))
    )
    with op.batch_alter_table('partner_handover', schema=None) as batch_op:
        batch_op.create_index('ix_partner_handover_partner', ['partner_id', 'created_at'], unique=False)

    op.create_table('partner_optin',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('statement_id', sa.Uuid(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('email_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('confirmed', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('handover_id', sa.Integer(), nullable=True),
    sa.Column('handed_over_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['handover_id'], ['partner_handover.id'], name=op.f('fk_partner_optin_handover_id_partner_handover'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], name=op.f('fk_partner_optin_partner_id_partner'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['statement_id'], ['statement.id'], name=op.f('fk_partner_optin_statement_id_statement'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_optin')),
    sa.UniqueConstraint('partner_id', 'email_fingerprint', name='uq_partner_optin_email')
    )
    with op.batch_alter_table('partner_optin', schema=None) as batch_op:
        batch_op.create_index('ix_partner_optin_statement', ['statement_id'], unique=False)
        batch_op.create_index('ix_partner_optin_waiting', ['partner_id', 'confirmed', 'handed_over_at'], unique=False)

    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its foreign key in place. Batch mode would copy the table and drop the old one,
        # and with foreign keys on that DROP fires ON DELETE SET NULL on subscriber.statement_id for every row.
        op.execute(
            "ALTER TABLE statement ADD COLUMN partner_id INTEGER "
            "CONSTRAINT fk_statement_partner_id_partner REFERENCES partner (id)"
        )
    else:
        op.add_column('statement', sa.Column('partner_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_statement_partner_id_partner'), 'statement', 'partner', ['partner_id'], ['id'])


def downgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # the table is copied without the column: its old copy must go without firing ON DELETE actions (the pragma
        # takes effect here, before the migration's first write; pysqlite opens the transaction at that write)
        op.execute("PRAGMA foreign_keys=OFF")
    with op.batch_alter_table('statement', schema=None) as batch_op:
        if not sqlite:  # SQLite's copy of the table leaves the column's foreign key out with the column
            batch_op.drop_constraint(batch_op.f('fk_statement_partner_id_partner'), type_='foreignkey')
        batch_op.drop_column('partner_id')

    with op.batch_alter_table('partner_optin', schema=None) as batch_op:
        batch_op.drop_index('ix_partner_optin_waiting')
        batch_op.drop_index('ix_partner_optin_statement')

    op.drop_table('partner_optin')
    with op.batch_alter_table('partner_handover', schema=None) as batch_op:
        batch_op.drop_index('ix_partner_handover_partner')

    op.drop_table('partner_handover')
    op.drop_table('partner_country')
    op.drop_table('partner')
    op.drop_table('frame_origin')
    if sqlite:
        op.execute("PRAGMA foreign_keys=ON")
