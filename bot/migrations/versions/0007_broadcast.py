"""broadcast: class-notice subscriptions, classes and occurrences, sign-ups, staff API tokens

Revision ID: 0007_broadcast
Revises: 0001_foundation
Create Date: 2026-11-22 04:42:51.183661
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0007_broadcast'
down_revision = '0001_foundation'
branch_labels = ('broadcast',)
depends_on = None


def upgrade() -> None:
    op.create_table('literacy_class',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('place', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('group_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('audience', sa.JSON(), nullable=False),
    sa.Column('repeat_weekly', sa.Boolean(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('published_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('literacy_class', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_literacy_class_group_code'), ['group_code'], unique=False)

    op.create_table('class_occurrence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('class_id', sa.Integer(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('starts_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('attendance_count', sa.Integer(), nullable=True),
    sa.Column('marked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['class_id'], ['literacy_class.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('class_id', 'n', name='uq_class_occurrence_n')
    )
    with op.batch_alter_table('class_occurrence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_class_occurrence_class_id'), ['class_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_class_occurrence_starts_at'), ['starts_at'], unique=False)

    op.create_table('class_subscription',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('chat_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('group_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('topics', sa.JSON(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('person_id')
    )
    with op.batch_alter_table('class_subscription', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_class_subscription_group_code'), ['group_code'], unique=False)

    op.create_table('class_signup',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurrence_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('attended', sa.Boolean(), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('queue_no', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['occurrence_id'], ['class_occurrence.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('occurrence_id', 'person_id', name='uq_class_signup_person')
    )
    with op.batch_alter_table('class_signup', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_class_signup_occurrence_id'), ['occurrence_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_class_signup_person_id'), ['person_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('class_signup', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_class_signup_person_id'))
        batch_op.drop_index(batch_op.f('ix_class_signup_occurrence_id'))

    op.drop_table('class_signup')
    with op.batch_alter_table('class_subscription', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_class_subscription_group_code'))

    op.drop_table('class_subscription')
    with op.batch_alter_table('class_occurrence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_class_occurrence_starts_at'))
        batch_op.drop_index(batch_op.f('ix_class_occurrence_class_id'))

    op.drop_table('class_occurrence')
    with op.batch_alter_table('literacy_class', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_literacy_class_group_code'))

    op.drop_table('literacy_class')
