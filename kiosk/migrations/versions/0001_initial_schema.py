"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-21 21:10:01.390753

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    # The tables in the order their references need; each group below is what autogenerate wrote.
    _create_unreferencing_tables()
    _create_audit_log()
    _create_organisation()
    _create_donors_and_tally()
    _create_visit()
    _create_donation()
    _create_kiosk_session_and_answers()
    _create_screening()
    _create_audit_log_guards()


def _create_unreferencing_tables():
    """The tables that reference no other: drives, sites, staff, the rate limiter's hits, the write receipts."""
    op.create_table('drive',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('drive_date', sa.Date(), nullable=False),
    sa.Column('target_bags', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('planned', 'open', 'closed', name='drive_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('hospital', sa.String(length=200), nullable=False),
    sa.Column('organiser', sa.String(length=200), nullable=False),
    sa.Column('revision', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('target_bags >= 0', name=op.f('ck_drive_target_nonnegative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drive'))
    )
    op.create_table('rate_limit_hit',
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('window_start', sa.Integer(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', 'window_start', name=op.f('pk_rate_limit_hit'))
    )
    op.create_table('site',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site')),
    sa.UniqueConstraint('code', name=op.f('uq_site_code'))
    )
    op.create_table('staff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=60), nullable=False),
    sa.Column('display_name', sa.String(length=120), nullable=False),
    sa.Column('role', sa.Enum('nurse', 'organiser', name='staff_role', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff')),
    sa.UniqueConstraint('username', name=op.f('uq_staff_username'))
    )
    op.create_table('write_receipt',
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('nonce', name=op.f('pk_write_receipt'))
    )


def _create_audit_log():
    """The audit log and its index (its append-only guards come last, in upgrade)."""
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('entity', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=True),
    sa.Column('drive_id', sa.Integer(), nullable=True),
    sa.Column('old_values', sa.JSON(), nullable=True),
    sa.Column('new_values', sa.JSON(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['drive_id'], ['drive.id'], name=op.f('fk_audit_log_drive_id_drive')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_audit_log_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)


def _create_organisation():
    """Departments, the drives' sites, the staff's sessions."""
    op.create_table('department',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('default_site_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['default_site_id'], ['site.id'], name=op.f('fk_department_default_site_id_site')),
    sa.ForeignKeyConstraint(['parent_id'], ['department.id'], name=op.f('fk_department_parent_id_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_department')),
    sa.UniqueConstraint('name', name=op.f('uq_department_name'))
    )
    op.create_table('drive_site',
    sa.Column('drive_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('last_queue_number', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['drive_id'], ['drive.id'], name=op.f('fk_drive_site_drive_id_drive'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_drive_site_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('drive_id', 'site_id', name=op.f('pk_drive_site'))
    )
    op.create_table('staff_session',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_staff_session_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_session'))
    )
    with op.batch_alter_table('staff_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_session_staff_id'), ['staff_id'], unique=False)


def _create_donors_and_tally():
    """Donors, and the live tally's counters."""
    op.create_table('donor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('full_name', sa.String(length=120), nullable=False),
    sa.Column('name_search', sa.String(length=120), nullable=False),
    sa.Column('date_of_birth', sa.Date(), nullable=False),
    sa.Column('sex', sa.String(length=1), nullable=False),
    sa.Column('id_number', sa.String(length=12), nullable=False),
    sa.Column('phone', sa.String(length=15), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('rank', sa.String(length=60), nullable=False),
    sa.Column('blood_group', sa.String(length=3), nullable=False),
    sa.Column('last_donation_date', sa.Date(), nullable=True),
    sa.Column('last_donation_type', sa.String(length=20), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("sex IN ('M', 'F')", name=op.f('ck_donor_sex_known')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_donor_department_id_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_donor')),
    sa.UniqueConstraint('id_number', name=op.f('uq_donor_id_number'))
    )
    with op.batch_alter_table('donor', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_donor_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_donor_name_search'), ['name_search'], unique=False)

    op.create_table('tally_counter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('drive_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('checked_in', sa.Integer(), nullable=False),
    sa.Column('screened', sa.Integer(), nullable=False),
    sa.Column('deferred', sa.Integer(), nullable=False),
    sa.Column('bags', sa.Integer(), nullable=False),
    sa.Column('volume_ml', sa.Integer(), nullable=False),
    sa.Column('incomplete', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_tally_counter_department_id_department')),
    sa.ForeignKeyConstraint(['drive_id'], ['drive.id'], name=op.f('fk_tally_counter_drive_id_drive')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_tally_counter_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tally_counter')),
    sa.UniqueConstraint('drive_id', 'site_id', 'department_id', name=op.f('uq_tally_counter_drive_id_site_id_department_id'))
    )


def _create_visit():
    """A donor's visit to a drive."""
    op.create_table('visit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('drive_id', sa.Integer(), nullable=False),
    sa.Column('donor_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Enum('registered', 'checked_in', 'in_screening', 'cleared', 'donating', 'done', 'deferred', name='visit_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('registered_via', sa.String(length=20), nullable=False),
    sa.Column('queue_number', sa.Integer(), nullable=True),
    sa.Column('checked_in_at', sa.DateTime(), nullable=True),
    sa.Column('questionnaire_at', sa.DateTime(), nullable=True),
    sa.Column('screened_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('opened_by_id', sa.Integer(), nullable=True),
    sa.Column('opened_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['donor_id'], ['donor.id'], name=op.f('fk_visit_donor_id_donor')),
    sa.ForeignKeyConstraint(['drive_id'], ['drive.id'], name=op.f('fk_visit_drive_id_drive')),
    sa.ForeignKeyConstraint(['opened_by_id'], ['staff.id'], name=op.f('fk_visit_opened_by_id_staff')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_visit_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visit')),
    sa.UniqueConstraint('drive_id', 'donor_id', name=op.f('uq_visit_drive_id_donor_id')),
    sa.UniqueConstraint('drive_id', 'site_id', 'queue_number', name=op.f('uq_visit_drive_id_site_id_queue_number')),
    sa.UniqueConstraint('token', name=op.f('uq_visit_token'))
    )
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visit_donor_id'), ['donor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_visit_drive_id'), ['drive_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_visit_site_id'), ['site_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_visit_status'), ['status'], unique=False)


def _create_donation():
    """Donations, one completed per visit."""
    op.create_table('donation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('drive_id', sa.Integer(), nullable=False),
    sa.Column('volume_ml', sa.Integer(), nullable=False),
    sa.Column('bag_number', sa.String(length=40), nullable=False),
    sa.Column('outcome', sa.String(length=12), nullable=False),
    sa.Column('reaction', sa.String(length=12), nullable=False),
    sa.Column('reaction_note', sa.Text(), nullable=False),
    sa.Column('nurse_id', sa.Integer(), nullable=False),
    sa.Column('voided', sa.Boolean(), nullable=False),
    sa.Column('void_reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.CheckConstraint("outcome IN ('completed', 'incomplete')", name=op.f('ck_donation_outcome_known')),
    sa.CheckConstraint('volume_ml > 0 AND volume_ml <= 500', name=op.f('ck_donation_volume_range')),
    sa.ForeignKeyConstraint(['drive_id'], ['drive.id'], name=op.f('fk_donation_drive_id_drive')),
    sa.ForeignKeyConstraint(['nurse_id'], ['staff.id'], name=op.f('fk_donation_nurse_id_staff')),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_donation_visit_id_visit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_donation')),
    sa.UniqueConstraint('drive_id', 'bag_number', name=op.f('uq_donation_drive_id_bag_number')),
    sa.UniqueConstraint('nonce', name=op.f('uq_donation_nonce'))
    )
    with op.batch_alter_table('donation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_donation_drive_id'), ['drive_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_donation_visit_id'), ['visit_id'], unique=False)
        batch_op.create_index('uq_donation_one_completed_per_visit', ['visit_id'], unique=True, sqlite_where=sa.text("outcome = 'completed' AND voided = 0"), postgresql_where=sa.text("outcome = 'completed' AND NOT voided"))


def _create_kiosk_session_and_answers():
    """The kiosk's sessions and the questionnaire's answers."""
    op.create_table('kiosk_session',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_kiosk_session_site_id_site')),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_kiosk_session_visit_id_visit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kiosk_session'))
    )
    with op.batch_alter_table('kiosk_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kiosk_session_visit_id'), ['visit_id'], unique=False)

    op.create_table('questionnaire_response',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('questionnaire_version', sa.String(length=40), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('submitted_at', sa.DateTime(), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_questionnaire_response_visit_id_visit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questionnaire_response')),
    sa.UniqueConstraint('nonce', name=op.f('uq_questionnaire_response_nonce'))
    )
    with op.batch_alter_table('questionnaire_response', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_questionnaire_response_visit_id'), ['visit_id'], unique=False)


def _create_screening():
    """The nurse's decisions."""
    op.create_table('screening',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('weight_kg', sa.Double(), nullable=True),
    sa.Column('systolic_mmhg', sa.Integer(), nullable=True),
    sa.Column('diastolic_mmhg', sa.Integer(), nullable=True),
    sa.Column('pulse_per_min', sa.Integer(), nullable=True),
    sa.Column('haemoglobin_g_l', sa.Integer(), nullable=True),
    sa.Column('temperature_c', sa.Double(), nullable=True),
    sa.Column('hbsag', sa.String(length=10), nullable=True),
    sa.Column('suggestion', sa.JSON(), nullable=False),
    sa.Column('decision', sa.String(length=20), nullable=False),
    sa.Column('volume_ml', sa.Integer(), nullable=True),
    sa.Column('deferral_until', sa.Date(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('override_reason', sa.Text(), nullable=False),
    sa.Column('nurse_id', sa.Integer(), nullable=False),
    sa.Column('voided', sa.Boolean(), nullable=False),
    sa.Column('void_reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['nurse_id'], ['staff.id'], name=op.f('fk_screening_nurse_id_staff')),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_screening_visit_id_visit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_screening')),
    sa.UniqueConstraint('nonce', name=op.f('uq_screening_nonce'))
    )
    with op.batch_alter_table('screening', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_screening_visit_id'), ['visit_id'], unique=False)




AUDIT_GUARD_SQLITE = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
)
AUDIT_GUARD_POSTGRESQL = (
    "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$",
    "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
)


def _create_audit_log_guards():
    # The audit log is append-only in the database itself, not just by convention in the code.
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": AUDIT_GUARD_SQLITE, "postgresql": AUDIT_GUARD_POSTGRESQL}.get(dialect, ()):
        op.execute(statement)


def _drop_audit_log_guards():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")


def downgrade():
    _drop_audit_log_guards()
    with op.batch_alter_table('screening', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_screening_visit_id'))

    op.drop_table('screening')
    with op.batch_alter_table('questionnaire_response', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_questionnaire_response_visit_id'))

    op.drop_table('questionnaire_response')
    with op.batch_alter_table('kiosk_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kiosk_session_visit_id'))

    op.drop_table('kiosk_session')
    with op.batch_alter_table('donation', schema=None) as batch_op:
        batch_op.drop_index('uq_donation_one_completed_per_visit', sqlite_where=sa.text("outcome = 'completed' AND voided = 0"), postgresql_where=sa.text("outcome = 'completed' AND NOT voided"))
        batch_op.drop_index(batch_op.f('ix_donation_visit_id'))
        batch_op.drop_index(batch_op.f('ix_donation_drive_id'))

    op.drop_table('donation')
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visit_status'))
        batch_op.drop_index(batch_op.f('ix_visit_site_id'))
        batch_op.drop_index(batch_op.f('ix_visit_drive_id'))
        batch_op.drop_index(batch_op.f('ix_visit_donor_id'))

    op.drop_table('visit')
    op.drop_table('tally_counter')
    with op.batch_alter_table('donor', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_donor_name_search'))
        batch_op.drop_index(batch_op.f('ix_donor_department_id'))

    op.drop_table('donor')
    with op.batch_alter_table('staff_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_session_staff_id'))

    op.drop_table('staff_session')
    op.drop_table('drive_site')
    op.drop_table('department')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')
    op.drop_table('write_receipt')
    op.drop_table('staff')
    op.drop_table('site')
    op.drop_table('rate_limit_hit')
    op.drop_table('drive')
