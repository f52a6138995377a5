"""scale: outbox claims owned by a worker; a rate slot per platform shared by every worker

Revision ID: 0030_scale
Revises: 0001_foundation
Create Date: 2026-12-01 13:40:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0030_scale'
down_revision = '0001_foundation'
branch_labels = ('scale',)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outboxmessage') as b:
        b.add_column(sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    op.create_table('rate_slot',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('next_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('rate_slot')
    with op.batch_alter_table('outboxmessage') as b:
        b.drop_column('owner')
