"""Issue 21, items 8 and 10: the donor's own record on the pass page (donations, the day they may
give again, the count, the next recognition step; no health detail), and recognition steps per drive."""
import datetime as dt

from kiosk.extensions import db
from kiosk.models import Screening
from kiosk.recognition import DEFAULT_THRESHOLDS, own_record, recognition_steps
from tests.test_donor_search import _donation, _donor, _drive, _nurse


def test_the_record_lists_completed_donations_and_the_day_to_come_back(app_ctx):
    nurse, donor = _nurse(), _donor(prior_donations=8)
    spring = _drive("Xuân 2026", dt.date(2026, 3, 1))
    _donation(spring, donor, nurse, volume=350)
    _donation(_drive("Hè 2026", dt.date(2026, 6, 1)), donor, nurse, voided=True)
    _donation(_drive("Thu 2026", dt.date(2026, 9, 1)), donor, nurse, outcome="incomplete", volume=250)
    db.session.commit()
    record = own_record(db.session, donor.id, dt.date(2026, 3, 20), DEFAULT_THRESHOLDS)
    assert [(d.day, d.volume_ml, d.drive_name) for d in record.donations] == [(dt.date(2026, 3, 1), 350, "Xuân 2026")]
    assert record.may_donate_from == dt.date(2026, 3, 1) + dt.timedelta(days=84)
    assert record.count == 9 and record.next_step == 10
    # Once the interval is over, no date: any drive.
    assert own_record(db.session, donor.id, dt.date(2026, 12, 1), DEFAULT_THRESHOLDS).may_donate_from is None


def test_a_temporary_deferral_later_than_the_interval_is_the_day_to_come_back(app_ctx):
    nurse, donor = _nurse(), _donor()
    drive = _drive("Xuân 2026", dt.date(2026, 3, 1))
    donation = _donation(drive, donor, nurse)
    db.session.add(Screening(visit_id=donation.visit_id, nurse_id=nurse.id, decision="deferred_temporary",
                             deferral_until=dt.date(2026, 9, 1), reason="x", nonce="n-own-record"))
    db.session.commit()
    record = own_record(db.session, donor.id, dt.date(2026, 3, 2), (5, 10))
    assert record.may_donate_from == dt.date(2026, 9, 1)
    assert record.count == 1 and record.next_step == 5


def test_recognition_steps_come_from_the_drive_then_the_setting():
    class Drive:
        recognition_steps = "3, 6, 9"

    assert 70 in DEFAULT_THRESHOLDS
    assert recognition_steps(Drive(), "5,10") == (3, 6, 9)
    assert recognition_steps(None, "5,10") == (5, 10)
    assert recognition_steps(None, None) == DEFAULT_THRESHOLDS


def test_a_drive_keeps_its_own_recognition_steps(app_ctx):
    from kiosk.drives import create_drive, drive_fingerprint, update_drive
    from kiosk.models import Drive
    from kiosk.views.admin.forms import steps_text

    nurse = _nurse()
    drive_id = create_drive(db.session, staff_id=nurse.id, name="Chủ nhật Đỏ", drive_date=dt.date(2026, 12, 20),
                            target_bags=0, status="planned", recognition_steps=steps_text("20; 10,5, 10"))
    drive = db.session.get(Drive, drive_id)
    assert drive.recognition_steps == "5, 10, 20" and recognition_steps(drive, "1,2") == (5, 10, 20)
    update_drive(db.session, drive_id=drive_id, staff_id=nurse.id, expected_fingerprint=drive_fingerprint(drive),
                 name=drive.name, drive_date=drive.drive_date, target_bags=0, status="planned", recognition_steps="")
    assert recognition_steps(db.session.get(Drive, drive_id), "1,2") == (1, 2)
    assert steps_text("5, x") == "5, x"  # left for the form's validator to refuse
