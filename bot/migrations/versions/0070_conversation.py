"""conversation v2: the topic under discussion, how a person names themselves, typed answers to
the bot's own messages (pending_option)

Revision ID: 0070_conversation
Revises: 0001_foundation
Create Date: 2026-12-01 13:40:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0070_conversation'
down_revision = '0001_foundation'
branch_labels = ('conversation',)
depends_on = None


def upgrade() -> None:
    op.add_column('conversation', sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True))
    op.add_column('conversation', sa.Column('topic_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.add_column('person', sa.Column('address_term', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True))
    op.create_table('pending_option',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('chat_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('buttons', sa.JSON(), nullable=False),
    sa.Column('free_text', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_pending_option_chat', 'pending_option', ['channel', 'chat_id'], unique=False)
    op.create_index(op.f('ix_pending_option_expires_at'), 'pending_option', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_pending_option_expires_at'), table_name='pending_option')
    op.drop_index('ix_pending_option_chat', table_name='pending_option')
    op.drop_table('pending_option')
    op.drop_column('person', 'address_term')
    op.drop_column('conversation', 'topic_at')
    op.drop_column('conversation', 'topic')
