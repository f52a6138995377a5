"""web sessions: server-issued identity of the web chat (only the token's SHA-256 is stored)

Revision ID: 0010_web_sessions
Revises: 0001_foundation
Create Date: 2026-12-01 13:40:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0010_web_sessions'
down_revision = '0001_foundation'
branch_labels = ('web_sessions',)
depends_on = None


def upgrade() -> None:
    op.create_table('web_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('label', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index(op.f('ix_web_session_last_seen_at'), 'web_session', ['last_seen_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_web_session_last_seen_at'), table_name='web_session')
    op.drop_table('web_session')
