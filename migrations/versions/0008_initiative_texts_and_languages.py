"""Initiatives in every language, and what the law puts on the form (docs/decisions/006-languages.md).

- initiative: `default_locale`, the language of its title, summary and objectives (existing initiatives: English);
  `objectives`; who collects the data, as Annex III of Regulation (EU) 2019/788 has the form name them:
  `organizers`, `contact_name`, `contact_email`, `website`, `registration_number`, `register_url`.
- initiative_text: the title, summary and objectives in each further language.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 06:57:44.940263

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

NEW_COLUMNS = (
    ('default_locale', sa.String(length=8), 'en'),
    ('objectives', sa.Text(), ''),
    ('organizers', sa.Text(), ''),
    ('contact_name', sa.String(length=200), ''),
    ('contact_email', sa.String(length=254), ''),
    ('website', sa.String(length=500), ''),
    ('registration_number', sa.String(length=40), ''),
    ('register_url', sa.String(length=500), ''),
)


def upgrade():
    op.create_table('initiative_text',
    sa.Column('initiative_id', sa.Integer(), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('objectives', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['initiative_id'], ['initiative.id'], name=op.f('fk_initiative_text_initiative_id_initiative'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('initiative_id', 'locale', name=op.f('pk_initiative_text'))
    )
    # existing rows get the defaults; new rows get theirs from the model, as every other column does
    with op.batch_alter_table('initiative', schema=None) as batch_op:
        for name, type_, default in NEW_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=False, server_default=default))
    with op.batch_alter_table('initiative', schema=None) as batch_op:
        for name, _type, _default in NEW_COLUMNS:
            batch_op.alter_column(name, server_default=None)


def downgrade():
    with op.batch_alter_table('initiative', schema=None) as batch_op:
        for name, _type, _default in reversed(NEW_COLUMNS):
            batch_op.drop_column(name)
    op.drop_table('initiative_text')
