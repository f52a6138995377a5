"""invites: keep only a hash of each code (codes already issued keep working)

Revision ID: 0090_invite_hash
Revises: 0080_webadmin
Create Date: 2026-12-01 17:00:00
"""
import hashlib

from alembic import op
import sqlalchemy as sa


revision = '0090_invite_hash'
down_revision = '0080_webadmin'
branch_labels = None
depends_on = None


def _key(code: str) -> str:  # bot.roles.invite_key, frozen here as migrations must be
    return hashlib.sha256(code.encode("ascii")).hexdigest()[:32]


def upgrade() -> None:
    conn = op.get_bind()
    # Plain codes are 8 characters of bot.roles._ALPHABET; keys are 32 hex characters.
    for (code,) in conn.execute(sa.text("SELECT code FROM invite")).fetchall():
        if len(code) < 32:
            conn.execute(sa.text("UPDATE invite SET code = :k WHERE code = :c"), {"k": _key(code), "c": code})
    for (code,) in conn.execute(sa.text("SELECT link_code FROM staff_account WHERE link_code IS NOT NULL")).fetchall():
        if len(code) < 32:
            conn.execute(sa.text("UPDATE staff_account SET link_code = :k WHERE link_code = :c"),
                         {"k": _key(code), "c": code})


def downgrade() -> None:
    pass  # a hash cannot be turned back into its code; unredeemed codes would need reissuing
