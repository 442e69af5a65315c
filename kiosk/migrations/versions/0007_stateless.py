"""Stateless app servers: roster uploads and PDF builds in the database, not a server's disk

Revision ID: 0007_stateless
Revises: 0006_offline
Create Date: 2026-12-08 00:45:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0007_stateless'
down_revision = '0006_offline'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('roster_upload',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('drive_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('suffix', sa.String(length=10), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('parsed', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['drive_id'], ['drive.id'], name=op.f('fk_roster_upload_drive_id_drive'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_roster_upload_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_upload'))
    )
    with op.batch_alter_table('roster_upload', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_roster_upload_created_at'), ['created_at'], unique=False)
    op.create_table('pdf_build',
    sa.Column('name', sa.String(length=90), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('items', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('finished_at', sa.String(length=40), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_pdf_build'))
    )
    op.create_table('pdf_build_lock',
    sa.Column('group_name', sa.String(length=90), nullable=False),
    sa.Column('holder', sa.String(length=64), nullable=False),
    sa.Column('heartbeat', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('group_name', name=op.f('pk_pdf_build_lock'))
    )


def downgrade():
    op.drop_table('pdf_build_lock')
    op.drop_table('pdf_build')
    with op.batch_alter_table('roster_upload', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_roster_upload_created_at'))
    op.drop_table('roster_upload')
