"""group chats keep one conversation row per member (issue 12): two members fill forms at once
without one replacing the other's. `member` is the sender's platform id in a group, "" elsewhere.

Revision ID: 0110_group_members
Revises: 0070_conversation
Create Date: 2026-12-01 20:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0110_group_members'
down_revision = '0070_conversation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('member', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False,
                                      server_default=''))
        batch_op.drop_constraint('uq_conversation_chat', type_='unique')
        batch_op.create_unique_constraint('uq_conversation_member', ['channel', 'chat_id', 'member'])


def downgrade() -> None:
    op.execute("DELETE FROM conversation WHERE member <> ''")
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.drop_constraint('uq_conversation_member', type_='unique')
        batch_op.create_unique_constraint('uq_conversation_chat', ['channel', 'chat_id'])
        batch_op.drop_column('member')
