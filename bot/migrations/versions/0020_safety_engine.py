"""safety inside the engine: stored replies for retries, update attempts (quarantine), rate
events, and the owner of a conversation's open form

Revision ID: 0020_safety_engine
Revises: 0001_foundation
Create Date: 2026-12-01 13:30:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0020_safety_engine'
down_revision = '0001_foundation'
branch_labels = ('safety_engine',)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('processedupdate', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chat_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('replies', sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f('ix_processedupdate_chat_id'), ['chat_id'], unique=False)
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('flow_owner_id', sa.Integer(), nullable=True))
    op.create_table('update_attempt',
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('update_key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('chat_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('excerpt', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('first_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('quarantined_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('channel', 'update_key')
    )
    with op.batch_alter_table('update_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_update_attempt_chat_id'), ['chat_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_update_attempt_quarantined_at'), ['quarantined_at'], unique=False)
    op.create_table('rate_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rate_event', schema=None) as batch_op:
        batch_op.create_index('ix_rate_event_key_at', ['key', 'at'], unique=False)


def downgrade() -> None:
    op.drop_table('rate_event')
    op.drop_table('update_attempt')
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.drop_column('flow_owner_id')
    with op.batch_alter_table('processedupdate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_processedupdate_chat_id'))
        batch_op.drop_column('replies')
        batch_op.drop_column('chat_id')
