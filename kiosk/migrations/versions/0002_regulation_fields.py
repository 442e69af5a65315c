"""Screening by the regulation: answer details, identity seen, certificate serials, prior donations, campaigns

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 15:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('drive', schema=None) as batch_op:
        batch_op.add_column(sa.Column('campaign', sa.String(length=120), server_default='', nullable=False))
    with op.batch_alter_table('donor', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prior_donations', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('questionnaire_response', schema=None) as batch_op:
        batch_op.add_column(sa.Column('details', sa.JSON(), server_default='{}', nullable=False))
    with op.batch_alter_table('screening', schema=None) as batch_op:
        batch_op.add_column(sa.Column('identity_document', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('checks_reason', sa.Text(), server_default='', nullable=False))
    with op.batch_alter_table('donation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('certificate_serial', sa.String(length=40), server_default='', nullable=False))
        batch_op.create_index(batch_op.f('ix_donation_certificate_serial'), ['certificate_serial'], unique=False)


def downgrade():
    with op.batch_alter_table('donation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_donation_certificate_serial'))
        batch_op.drop_column('certificate_serial')
    with op.batch_alter_table('screening', schema=None) as batch_op:
        batch_op.drop_column('checks_reason')
        batch_op.drop_column('identity_document')
    with op.batch_alter_table('questionnaire_response', schema=None) as batch_op:
        batch_op.drop_column('details')
    with op.batch_alter_table('donor', schema=None) as batch_op:
        batch_op.drop_column('prior_donations')
    with op.batch_alter_table('drive', schema=None) as batch_op:
        batch_op.drop_column('campaign')
