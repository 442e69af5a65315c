"""A drive's recognition steps: provinces set their own (QĐ 122/QĐ-BCĐQG)

Revision ID: 0006_rules
Revises: 0005
Create Date: 2026-12-07 23:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0006_rules'
down_revision = '0006_hall'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('drive', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recognition_steps', sa.String(length=120), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('drive', schema=None) as batch_op:
        batch_op.drop_column('recognition_steps')
