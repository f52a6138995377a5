"""follow-through (issue 12 points 6, 7): a team session logged after its quarter was submitted is
kept and flagged `late`; the full name a person gave (team members are asked once) for staff lists

Revision ID: 0100_follow_through
Revises: 0006_teams
Create Date: 2026-12-01 17:10:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0100_follow_through'
down_revision = '0006_teams'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('team_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('late', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('full_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('full_name')
    with op.batch_alter_table('team_session', schema=None) as batch_op:
        batch_op.drop_column('late')
