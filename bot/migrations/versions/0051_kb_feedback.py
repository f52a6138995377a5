"""kb: automatic FAQ answers and whether residents found them helpful

Revision ID: 0051_kb_feedback
Revises: 0050_kb_unanswered
Create Date: 2026-12-01 14:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0051_kb_feedback'
down_revision = '0050_kb_unanswered'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('faq_answer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('via', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('helpful', sa.Boolean(), nullable=True),
    sa.Column('feedback_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_faq_answer_topic'), 'faq_answer', ['topic'], unique=False)
    op.create_index(op.f('ix_faq_answer_at'), 'faq_answer', ['at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_faq_answer_at'), table_name='faq_answer')
    op.drop_index(op.f('ix_faq_answer_topic'), table_name='faq_answer')
    op.drop_table('faq_answer')
