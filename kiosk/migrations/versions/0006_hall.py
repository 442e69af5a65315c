"""Letters' salutation per drive; departments' arrival windows and early call

Revision ID: 0006_hall
Revises: 0005
Create Date: 2026-12-07 23:20:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0006_hall'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('drive', schema=None) as batch_op:
        batch_op.add_column(sa.Column('salutation', sa.String(length=20), server_default='dong_chi', nullable=False))
    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.add_column(sa.Column('arrival_start', sa.Time(), nullable=True))
        batch_op.add_column(sa.Column('arrival_end', sa.Time(), nullable=True))
        batch_op.add_column(sa.Column('called_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.drop_column('called_at')
        batch_op.drop_column('arrival_end')
        batch_op.drop_column('arrival_start')
    with op.batch_alter_table('drive', schema=None) as batch_op:
        batch_op.drop_column('salutation')
