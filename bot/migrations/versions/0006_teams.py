"""teams: community digital-technology team sessions, report submissions, API tokens

Revision ID: 0006_teams
Revises: 0001_foundation
Create Date: 2026-11-22 04:44:54.403418
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0006_teams'
down_revision = '0001_foundation'
branch_labels = ('teams',)
depends_on = None


def upgrade() -> None:
    op.create_table('team_submission',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('quarter', sa.Integer(), nullable=False),
    sa.Column('submitted_by', sa.Integer(), nullable=True),
    sa.Column('submitted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('group_code', 'year', 'quarter', name='uq_team_submission')
    )
    op.create_table('team_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('place', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('households', sa.Integer(), nullable=False),
    sa.Column('people', sa.Integer(), nullable=False),
    sa.Column('elderly', sa.Integer(), nullable=False),
    sa.Column('vulnerable', sa.Integer(), nullable=False),
    sa.Column('act_vneid', sa.Integer(), nullable=False),
    sa.Column('act_dvc', sa.Integer(), nullable=False),
    sa.Column('act_payment', sa.Integer(), nullable=False),
    sa.Column('act_signature', sa.Integer(), nullable=False),
    sa.Column('act_security', sa.Integer(), nullable=False),
    sa.Column('act_apps', sa.Integer(), nullable=False),
    sa.Column('act_ecommerce', sa.Integer(), nullable=False),
    sa.Column('members', sa.JSON(), nullable=False),
    sa.Column('difficulties', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('good_practices', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('photos', sa.JSON(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('team_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_team_session_author_id'), ['author_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_team_session_day'), ['day'], unique=False)
        batch_op.create_index(batch_op.f('ix_team_session_group_code'), ['group_code'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('team_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_team_session_group_code'))
        batch_op.drop_index(batch_op.f('ix_team_session_day'))
        batch_op.drop_index(batch_op.f('ix_team_session_author_id'))

    op.drop_table('team_session')
    op.drop_table('team_submission')
