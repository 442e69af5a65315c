"""Enrolled devices: tablets and screens paired to a site; kiosk sessions bound to their device

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('device',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('kiosk', 'nurse_desk', 'display', name='device_kind', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('credential_hash', sa.String(length=64), nullable=True),
    sa.Column('pairing_code_hash', sa.String(length=64), nullable=True),
    sa.Column('pairing_expires_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('paired_at', sa.DateTime(), nullable=True),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_device_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device')),
    sa.UniqueConstraint('credential_hash', name=op.f('uq_device_credential_hash')),
    sa.UniqueConstraint('pairing_code_hash', name=op.f('uq_device_pairing_code_hash'))
    )
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_site_id'), ['site_id'], unique=False)
    with op.batch_alter_table('kiosk_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('device_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_kiosk_session_device_id_device'), 'device', ['device_id'], ['id'])


def downgrade():
    with op.batch_alter_table('kiosk_session', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_kiosk_session_device_id_device'), type_='foreignkey')
        batch_op.drop_column('device_id')
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_site_id'))
    op.drop_table('device')
