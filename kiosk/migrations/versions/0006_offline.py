"""Offline kiosks: queue numbers set aside per tablet; the actions tablets upload after a drop

Revision ID: 0006_offline
Revises: 0005
Create Date: 2026-12-08 00:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0006_offline'
down_revision = '0006_rules'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('queue_number_block',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('drive_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('first_number', sa.Integer(), nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], name=op.f('fk_queue_number_block_device_id_device')),
    sa.ForeignKeyConstraint(['drive_id'], ['drive.id'], name=op.f('fk_queue_number_block_drive_id_drive')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_queue_number_block_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_queue_number_block'))
    )
    with op.batch_alter_table('queue_number_block', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_queue_number_block_device_id'), ['device_id'], unique=False)
    op.create_table('offline_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('device_time', sa.DateTime(), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('offline', sa.Boolean(), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('drive_id', sa.Integer(), nullable=True),
    sa.Column('visit_id', sa.Integer(), nullable=True),
    sa.Column('queue_number', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], name=op.f('fk_offline_action_device_id_device')),
    sa.ForeignKeyConstraint(['drive_id'], ['drive.id'], name=op.f('fk_offline_action_drive_id_drive')),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_offline_action_visit_id_visit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offline_action')),
    sa.UniqueConstraint('device_id', 'nonce', name=op.f('uq_offline_action_device_id_nonce'))
    )
    with op.batch_alter_table('offline_action', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offline_action_drive_id'), ['drive_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_offline_action_visit_id'), ['visit_id'], unique=False)


def downgrade():
    with op.batch_alter_table('offline_action', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offline_action_visit_id'))
        batch_op.drop_index(batch_op.f('ix_offline_action_drive_id'))
    op.drop_table('offline_action')
    with op.batch_alter_table('queue_number_block', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_queue_number_block_device_id'))
    op.drop_table('queue_number_block')
