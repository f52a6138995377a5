"""webadmin: staff accounts, back-office sessions and login attempts

Revision ID: 0080_webadmin
Revises: 0001_foundation
Create Date: 2026-12-01 13:30:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0080_webadmin'
down_revision = '0001_foundation'
branch_labels = ('webadmin',)
depends_on = None

S = sqlmodel.sql.sqltypes


def upgrade() -> None:
    op.create_table('staff_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', S.AutoString(length=64), nullable=False),
    sa.Column('display_name', S.AutoString(length=200), nullable=False),
    sa.Column('role', S.AutoString(length=16), nullable=False),
    sa.Column('password_hash', S.AutoString(length=300), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('link_code', S.AutoString(length=32), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', S.UTCDateTime(), nullable=False),
    sa.Column('disabled_at', S.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['person.id']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username'))
    op.create_index('ix_staff_account_person_id', 'staff_account', ['person_id'])
    op.create_table('staff_session',
    sa.Column('token_hash', S.AutoString(length=64), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('csrf', S.AutoString(length=64), nullable=False),
    sa.Column('created_at', S.UTCDateTime(), nullable=False),
    sa.Column('expires_at', S.UTCDateTime(), nullable=False),
    sa.Column('ended_at', S.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['staff_account.id']),
    sa.PrimaryKeyConstraint('token_hash'))
    op.create_index('ix_staff_session_account_id', 'staff_session', ['account_id'])
    op.create_table('login_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', S.UTCDateTime(), nullable=False),
    sa.Column('username', S.AutoString(length=64), nullable=False),
    sa.Column('address', S.AutoString(length=64), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_login_attempt_at', 'login_attempt', ['at'])
    op.create_index('ix_login_attempt_username', 'login_attempt', ['username'])
    op.create_index('ix_login_attempt_address', 'login_attempt', ['address'])


def downgrade() -> None:
    op.drop_table('login_attempt')
    op.drop_table('staff_session')
    op.drop_table('staff_account')
