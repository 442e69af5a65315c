"""Staff scoped to sites, sign-in throttling before the password check, TOTP, audit source address

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('staff_site',
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_staff_site_site_id_site'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_staff_site_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('staff_id', 'site_id', name=op.f('pk_staff_site'))
    )
    op.create_table('sign_in_throttle',
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('blocked_until', sa.Double(), nullable=False),
    sa.Column('refused', sa.Integer(), server_default='0', nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_sign_in_throttle_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_sign_in_throttle'))
    )
    with op.batch_alter_table('sign_in_throttle', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_throttle_staff_id'), ['staff_id'], unique=False)
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('totp_enabled', sa.Boolean(), server_default=sa.false(), nullable=False))
    # ADD COLUMN only: the append-only triggers on audit_log stay as they are.
    op.add_column('audit_log', sa.Column('source_address', sa.String(length=45), server_default='', nullable=False))


def downgrade():
    op.drop_column('audit_log', 'source_address')
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_column('totp_enabled')
        batch_op.drop_column('totp_secret')
    with op.batch_alter_table('sign_in_throttle', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_throttle_staff_id'))
    op.drop_table('sign_in_throttle')
    op.drop_table('staff_site')
