"""Staff sessions that end and second-factor secrets sealed at rest (docs/decisions/005-staff-sessions-second-factor-rate-limits.md).

- staff_user.session_version: raised to end every session of an account (sign-out, password, role, second factor).
- staff_user.totp_secret widened for the sealed form; staff_user.totp_pending, a secret being set up (sealed, kept
  server-side instead of in the session cookie).
- Secrets stored in the clear are sealed here, with the key derived from SECRET_KEY exactly as
  app/admin/second_factor.py derives it (written out again so that this migration never changes with the app);
  downgrade opens them again.

Revision ID: 0007
Revises: 0004
Create Date: 2026-11-30 12:00:00

"""
import base64
import os

import sqlalchemy as sa
from alembic import op
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0004'
branch_labels = None
depends_on = None

PREFIX = "v1:"
INFO = b"quorum staff second-factor secrets v1"

staff_user = sa.table(
    "staff_user", sa.column("id", sa.Integer), sa.column("totp_secret", sa.String)
)


def _key():
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO)
    return AESGCM(hkdf.derive(str(current_app.config["SECRET_KEY"]).encode()))


def _context(user_id):
    return f"staff_user:{user_id}:totp".encode()


def _secrets(connection):
    query = sa.select(staff_user.c.id, staff_user.c.totp_secret).where(staff_user.c.totp_secret.is_not(None))
    return connection.execute(query).all()


def upgrade():
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_pending', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))
        batch_op.alter_column('totp_secret', existing_type=sa.String(length=64), type_=sa.String(length=200),
                              existing_nullable=True)

    connection = op.get_bind()
    aead = None
    for user_id, secret in _secrets(connection):
        if secret.startswith(PREFIX):
            continue
        aead = aead or _key()
        nonce = os.urandom(12)
        sealed = PREFIX + base64.urlsafe_b64encode(nonce + aead.encrypt(nonce, secret.encode(), _context(user_id))).decode()
        connection.execute(sa.update(staff_user).where(staff_user.c.id == user_id).values(totp_secret=sealed))


def downgrade():
    connection = op.get_bind()
    aead = None
    for user_id, secret in _secrets(connection):
        if not secret.startswith(PREFIX):
            continue
        aead = aead or _key()
        raw = base64.urlsafe_b64decode(secret[len(PREFIX):])
        plain = aead.decrypt(raw[:12], raw[12:], _context(user_id)).decode()
        connection.execute(sa.update(staff_user).where(staff_user.c.id == user_id).values(totp_secret=plain))

    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.alter_column('totp_secret', existing_type=sa.String(length=200), type_=sa.String(length=64),
                              existing_nullable=True)
        batch_op.drop_column('session_version')
        batch_op.drop_column('totp_pending')
