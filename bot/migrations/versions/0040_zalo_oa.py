"""zalo_oa: durable webhook inbox, the OA's OAuth tokens, OA users, proactive fallbacks

Revision ID: 0040_zalo_oa
Revises: 0001_foundation
Create Date: 2026-12-01 13:40:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0040_zalo_oa'
down_revision = '0001_foundation'
branch_labels = ('zalo_oa',)
depends_on = None


def _s(n):
    return sqlmodel.sql.sqltypes.AutoString(length=n)


def _dt():
    return sqlmodel.sql.sqltypes.UTCDateTime()


def upgrade() -> None:
    op.create_table('webhook_inbox',
    sa.Column('channel', _s(16), nullable=False),
    sa.Column('event_key', _s(128), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('received_at', _dt(), nullable=False),
    sa.Column('done_at', _dt(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('channel', 'event_key')
    )
    with op.batch_alter_table('webhook_inbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_inbox_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_inbox_done_at'), ['done_at'], unique=False)

    op.create_table('zalo_oa_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('access_token', sa.Text(), nullable=True),
    sa.Column('refresh_token', sa.Text(), nullable=True),
    sa.Column('access_expires_at', _dt(), nullable=True),
    sa.Column('refresh_expires_at', _dt(), nullable=True),
    sa.Column('source', _s(16), nullable=False),
    sa.Column('updated_at', _dt(), nullable=False),
    sa.Column('refreshes', sa.Integer(), nullable=False),
    sa.Column('last_error', _s(500), nullable=True),
    sa.Column('warned_for', _dt(), nullable=True),
    sa.Column('pkce_verifier', _s(128), nullable=True),
    sa.Column('pkce_state', _s(64), nullable=True),
    sa.Column('pkce_created_at', _dt(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )

    op.create_table('zalo_oa_user',
    sa.Column('user_id', _s(64), nullable=False),
    sa.Column('display_name', _s(200), nullable=True),
    sa.Column('name_fetched_at', _dt(), nullable=True),
    sa.Column('followed', sa.Boolean(), nullable=False),
    sa.Column('last_msg_id', _s(128), nullable=True),
    sa.Column('last_msg_at', _dt(), nullable=True),
    sa.Column('replies_to_last', sa.Integer(), nullable=False),
    sa.Column('phone', _s(32), nullable=True),
    sa.Column('address', _s(300), nullable=True),
    sa.Column('info_name', _s(200), nullable=True),
    sa.Column('info_consent_at', _dt(), nullable=True),
    sa.PrimaryKeyConstraint('user_id')
    )

    op.create_table('zalo_oa_fallback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', _s(64), nullable=False),
    sa.Column('route', _s(32), nullable=False),
    sa.Column('reason', _s(500), nullable=False),
    sa.Column('text', _s(300), nullable=True),
    sa.Column('at', _dt(), nullable=False),
    sa.Column('seen_at', _dt(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('zalo_oa_fallback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_zalo_oa_fallback_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_zalo_oa_fallback_at'), ['at'], unique=False)


def downgrade() -> None:
    op.drop_table('zalo_oa_fallback')
    op.drop_table('zalo_oa_user')
    op.drop_table('zalo_oa_token')
    with op.batch_alter_table('webhook_inbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_inbox_done_at'))
        batch_op.drop_index(batch_op.f('ix_webhook_inbox_received_at'))
    op.drop_table('webhook_inbox')
