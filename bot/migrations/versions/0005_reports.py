"""reports: residents' reports (phản ánh hiện trường) and their append-only event trail

Revision ID: 0005_reports
Revises: 0001_foundation
Create Date: 2026-11-22 04:41:30.216179
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0005_reports'
down_revision = '0001_foundation'
branch_labels = ('reports',)
depends_on = None


def upgrade() -> None:
    op.create_table('report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('unit_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('group_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('address_norm', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('photos', sa.JSON(), nullable=False),
    sa.Column('media_url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('chat_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('contact_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('contact_phone', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('contact_email', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('external_account_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('recorded_by', sa.Integer(), nullable=True),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('sla_hours', sa.Float(), nullable=False),
    sa.Column('accept_by', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('resolve_by', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('accepted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('resolved_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('closed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('escalated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('resolution_note', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('resolution_photo', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('reject_reason', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('rating_comment', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.ForeignKeyConstraint(['parent_id'], ['report.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_group_code'), ['group_code'], unique=False)
        batch_op.create_index('ix_report_open_lookup', ['category', 'status', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_unit_id'), ['unit_id'], unique=False)

    op.create_table('reportevent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_label', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('from_status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('to_status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('reportevent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reportevent_report_id'), ['report_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('reportevent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reportevent_report_id'))

    op.drop_table('reportevent')
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_unit_id'))
        batch_op.drop_index(batch_op.f('ix_report_status'))
        batch_op.drop_index(batch_op.f('ix_report_person_id'))
        batch_op.drop_index(batch_op.f('ix_report_parent_id'))
        batch_op.drop_index('ix_report_open_lookup')
        batch_op.drop_index(batch_op.f('ix_report_group_code'))
        batch_op.drop_index(batch_op.f('ix_report_created_at'))

    op.drop_table('report')
