"""kb: the unanswered-question log (questions the assistant could not answer or was unsure about)

Revision ID: 0050_kb_unanswered
Revises: 0001_foundation
Create Date: 2026-12-01 13:40:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0050_kb_unanswered'
down_revision = '0001_foundation'
branch_labels = ('kb',)
depends_on = None


def upgrade() -> None:
    op.create_table('unanswered_question',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('norm_key', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('first_seen', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_seen', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('guesses', sa.JSON(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('resolved_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('resolved_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('norm_key', name='uq_unanswered_norm_key')
    )
    op.create_index(op.f('ix_unanswered_question_status'), 'unanswered_question', ['status'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_unanswered_question_status'), table_name='unanswered_question')
    op.drop_table('unanswered_question')
