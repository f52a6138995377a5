"""reports: publish_description, the resident's consent to show the description in public reads

Revision ID: 0010_report_publish
Revises: 0010_web_sessions
Create Date: 2026-12-01 13:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010_report_publish'
down_revision = '0010_web_sessions'
branch_labels = None
depends_on = '0005_reports'


def upgrade() -> None:
    with op.batch_alter_table('report') as batch:
        batch.add_column(sa.Column('publish_description', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('report') as batch:
        batch.drop_column('publish_description')
