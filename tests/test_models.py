"""Constraints that keep the data right even when the code above them is wrong."""
import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from kiosk.extensions import db
from kiosk.idempotency import InvalidNonce, run_once
from kiosk.models import (AuditLog, Donation, Donor, Drive, QuestionnaireResponse, Staff, StaffRole, Visit,
                          WriteReceipt)
from kiosk.tokens import new_pass_token


def _drive_and_donor():
    drive = Drive(name="Đợt thử", drive_date=dt.date(2026, 11, 21), target_bags=10)
    donor = Donor(full_name="Nguyễn Văn Hùng", name_search="nguyen van hung", date_of_birth=dt.date(1990, 1, 2),
                  sex="M", id_number="001090000001")
    db.session.add_all([drive, donor])
    db.session.flush()
    return drive, donor


def test_one_visit_per_donor_per_drive(app_ctx):
    drive, donor = _drive_and_donor()
    db.session.add(Visit(drive_id=drive.id, donor_id=donor.id, token=new_pass_token()))
    db.session.commit()
    db.session.add(Visit(drive_id=drive.id, donor_id=donor.id, token=new_pass_token()))
    with pytest.raises(IntegrityError):
        db.session.commit()


def test_a_nonce_used_twice_is_refused_by_the_database(app_ctx):
    drive, donor = _drive_and_donor()
    visit = Visit(drive_id=drive.id, donor_id=donor.id, token=new_pass_token())
    db.session.add(visit)
    db.session.flush()
    for _ in range(2):
        db.session.add(QuestionnaireResponse(visit_id=visit.id, questionnaire_version="1", answers={},
                                             nonce="same-nonce-0123456789"))
    with pytest.raises(IntegrityError):
        db.session.commit()


def test_run_once_records_once_and_answers_the_same(app_ctx):
    calls = []

    def write():
        calls.append(1)
        db.session.add(Drive(name=f"Đợt {len(calls)}", drive_date=dt.date(2026, 11, 21)))
        return {"drive_count": len(calls)}

    first = run_once(db.session, "nonce-abcdefghijklmnop", "create_drive", write)
    second = run_once(db.session, "nonce-abcdefghijklmnop", "create_drive", write)
    assert first == ({"drive_count": 1}, False)
    assert second == ({"drive_count": 1}, True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Drive)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WriteReceipt)) == 1


def test_run_once_refuses_a_malformed_nonce(app_ctx):
    with pytest.raises(InvalidNonce):
        run_once(db.session, "short", "x", lambda: {})


def test_a_failed_write_leaves_no_receipt(app_ctx):
    def write():
        db.session.add(Drive(name="Đợt", drive_date=dt.date(2026, 11, 21)))
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        run_once(db.session, "nonce-failing-000000", "x", write)
    assert db.session.get(WriteReceipt, "nonce-failing-000000") is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Drive)) == 0


def test_one_completed_donation_per_visit_and_unique_bag_numbers(app_ctx):
    drive, donor = _drive_and_donor()
    nurse = Staff(username="n", display_name="N", role=StaffRole.NURSE, password_hash="x")
    visit = Visit(drive_id=drive.id, donor_id=donor.id, token=new_pass_token())
    db.session.add_all([nurse, visit])
    db.session.flush()

    def donation(bag, outcome="completed", voided=False, nonce=None):
        return Donation(visit_id=visit.id, drive_id=drive.id, volume_ml=350, bag_number=bag, outcome=outcome,
                        nurse_id=nurse.id, voided=voided, nonce=nonce or new_pass_token())

    db.session.add(donation("B-1", voided=True))
    db.session.add(donation("B-2", outcome="incomplete"))
    db.session.add(donation("B-3"))
    db.session.commit()
    db.session.add(donation("B-4"))
    with pytest.raises(IntegrityError):  # a second counted bag for the same visit
        db.session.commit()
    db.session.rollback()
    other_donor = Donor(full_name="Trần Thị Lan", name_search="tran thi lan", date_of_birth=dt.date(1992, 3, 4),
                        sex="F", id_number="001192000002")
    db.session.add(other_donor)
    db.session.flush()
    other = Visit(drive_id=drive.id, donor_id=other_donor.id, token=new_pass_token())
    db.session.add(other)
    db.session.flush()
    db.session.add(Donation(visit_id=other.id, drive_id=drive.id, volume_ml=250, bag_number="B-3",
                            outcome="completed", nurse_id=nurse.id, nonce=new_pass_token()))
    with pytest.raises(IntegrityError):  # bag numbers are unique within a drive
        db.session.commit()


def test_the_audit_log_is_append_only(app_ctx):
    db.session.add(AuditLog(action="test", reason="first"))
    db.session.commit()
    # SQLite's trigger and PostgreSQL's both say so; the drivers file it under different classes.
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.update(AuditLog).values(reason="changed"))
    db.session.rollback()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.delete(AuditLog))
    db.session.rollback()
    assert db.session.scalars(sa.select(AuditLog.reason)).all() == ["first"]
