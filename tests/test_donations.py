"""Donations: recorded once whatever records them, corrected and voided with a reason, the
tally following in the same transaction."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from kiosk.donations import DonationError, correct_donation, record_donation, void_donation
from kiosk.extensions import db
from kiosk.models import AuditLog, Donation, Drive, DriveStatus, Visit, VisitStatus
from tests.support.donations import figures, nonce, nurse_id, ready_visits, record


def test_a_donation_counts_a_bag_and_its_volume_and_finishes_the_visit(drive_id):
    [visit_id] = ready_visits(db.session)
    revision = db.session.get(Drive, drive_id).revision
    result = record(db.session, visit_id, "B-0001", volume=350)
    assert result["replayed"] is False and result["version"] == 1
    donation = db.session.get(Donation, result["donation_id"])
    assert (donation.volume_ml, donation.bag_number, donation.outcome) == (350, "B-0001", "completed")
    visit = db.session.get(Visit, visit_id)
    assert visit.status == VisitStatus.DONE and visit.finished_at is not None
    shown = figures(db.session, drive_id)
    assert (shown["bags"], shown["volume_ml"], shown["equivalent_250"], shown["incomplete"]) == (1, 350, 1.4, 0)
    assert (shown["checked_in"], shown["screened"], shown["deferred"]) == (1, 1, 0)
    assert shown["revision"] > revision
    entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "donation_recorded")).one()
    assert entry.entity_id == donation.id and entry.new_values["bag_number"] == "B-0001"


def test_a_retry_with_the_same_nonce_records_once_and_answers_the_same(drive_id):
    [visit_id] = ready_visits(db.session)
    key = nonce()
    first = record(db.session, visit_id, "B-0001", key=key)
    again = record(db.session, visit_id, "B-0002", volume=250, key=key)  # a retry: its body is ignored
    assert again == first | {"replayed": True}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Donation)) == 1
    assert figures(db.session, drive_id)["bags"] == 1


def test_a_second_nurse_on_the_same_donor_is_told_it_is_done(drive_id):
    [visit_id] = ready_visits(db.session)
    record(db.session, visit_id, "B-0001")
    with pytest.raises(DonationError) as error:
        record(db.session, visit_id, "B-0002")
    assert error.value.code == "already_donated"
    assert figures(db.session, drive_id)["bags"] == 1


def test_two_nurses_at_the_same_moment_record_one_bag(app, demo):
    """Two threads, two sessions, two nonces, one donor: SQLite's BEGIN IMMEDIATE (and FOR UPDATE
    on PostgreSQL) makes one of them wait and then find the visit done."""
    with app.app_context():
        [visit_id] = ready_visits(db.session)
    outcomes, barrier = [], threading.Barrier(2)

    def nurse(bag):
        with app.app_context():
            barrier.wait()
            try:
                outcomes.append(record(db.session, visit_id, bag)["replayed"])
            except DonationError as error:
                outcomes.append(error.code)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=nurse, args=(bag,)) for bag in ("B-1", "B-2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes, key=str) == [False, "already_donated"]
    with app.app_context():
        assert figures(db.session, demo["drive_id"])["bags"] == 1


@pytest.mark.parametrize("status, code", [(VisitStatus.REGISTERED, "not_cleared"), (VisitStatus.CHECKED_IN, "not_cleared"),
                                          (VisitStatus.IN_SCREENING, "not_cleared"), (VisitStatus.DEFERRED, "not_cleared")])
def test_only_a_cleared_donor_can_donate(drive_id, status, code):
    visit = db.session.scalars(sa.select(Visit).limit(1)).one()
    visit.status = status
    db.session.commit()
    with pytest.raises(DonationError) as error:
        record(db.session, visit.id, "B-0001")
    assert error.value.code == code
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Donation)) == 0


def test_a_donor_in_the_chair_can_donate(drive_id):
    [visit_id] = ready_visits(db.session)
    db.session.get(Visit, visit_id).status = VisitStatus.DONATING
    db.session.commit()
    assert record(db.session, visit_id, "B-0001")["replayed"] is False


@pytest.mark.parametrize("changes, code", [
    ({"volume_ml": 0}, "invalid_volume"), ({"volume_ml": 501}, "invalid_volume"), ({"volume_ml": "350"}, "invalid_volume"),
    ({"volume_ml": True}, "invalid_volume"), ({"outcome": "partial"}, "invalid_outcome"),
    ({"reaction": "sneezing"}, "invalid_reaction"), ({"bag_number": "  "}, "invalid_bag_number"),
    ({"bag_number": "X" * 41}, "invalid_bag_number"), ({"visit_id": 999_999}, "not_found"),
])
def test_bad_values_are_refused_with_a_code(drive_id, changes, code):
    [visit_id] = ready_visits(db.session)
    arguments = dict(visit_id=visit_id, nurse_id=nurse_id(db.session), volume_ml=350, bag_number="B-1",
                     outcome="completed", reaction="none", nonce=nonce()) | changes
    with pytest.raises(DonationError) as error:
        record_donation(db.session, **arguments)
    assert error.value.code == code
    assert db.session.get(Visit, visit_id).status == VisitStatus.CLEARED
    assert figures(db.session, drive_id)["bags"] == 0


def test_a_bag_number_is_used_once_per_drive(drive_id):
    first, second = ready_visits(db.session, 2)
    record(db.session, first, "B-0001")
    with pytest.raises(DonationError) as error:
        record(db.session, second, " B-0001 ")
    assert error.value.code == "bag_number_taken"
    assert db.session.get(Visit, second).status == VisitStatus.CLEARED


def test_bag_numbers_are_stored_normalised_and_unique_as_normalised(drive_id):
    """"hm26-1" and "HM26-1" (or "HM 26-1") are the same bag: stored once, as the label prints it."""
    first, second, third = ready_visits(db.session, 3)
    recorded = record(db.session, first, " hm 26-1 ")
    assert db.session.get(Donation, recorded["donation_id"]).bag_number == "HM26-1"
    for typed in ("HM26-1", "Hm26-1", "HM 26 - 1"):
        with pytest.raises(DonationError) as error:
            record(db.session, second, typed)
        assert error.value.code == "bag_number_taken"
    other = record(db.session, second, "hm26-2")["donation_id"]
    with pytest.raises(DonationError) as error:  # a correction to another's number, typed otherwise
        correct_donation(db.session, donation_id=other, staff_id=nurse_id(db.session), expected_version=1,
                         volume_ml=350, bag_number="hm26-1", outcome="completed", reaction="none",
                         reaction_note="", reason="Nhầm số túi", nonce=nonce())
    assert error.value.code == "bag_number_taken"
    assert record(db.session, third, "hm26-3")["donation_id"]


def test_an_incomplete_donation_is_counted_apart_not_as_a_bag(drive_id):
    [visit_id] = ready_visits(db.session)
    record(db.session, visit_id, "B-0001", volume=120, outcome="incomplete")
    shown = figures(db.session, drive_id)
    assert (shown["bags"], shown["volume_ml"], shown["incomplete"]) == (0, 0, 1)
    assert db.session.get(Visit, visit_id).status == VisitStatus.DONE


def test_a_correction_moves_the_tally_by_the_difference_and_keeps_the_old_values(drive_id):
    [visit_id] = ready_visits(db.session)
    donation_id = record(db.session, visit_id, "B-0001", volume=250)["donation_id"]
    result = correct_donation(db.session, donation_id=donation_id, staff_id=nurse_id(db.session), expected_version=1,
                              volume_ml=350, bag_number="B-0009", outcome="completed", reaction="dizziness",
                              reaction_note="nằm nghỉ 10 phút", reason="Ghi nhầm thể tích", nonce=nonce())
    assert result["version"] == 2 and result["replayed"] is False
    assert figures(db.session, drive_id)["volume_ml"] == 350
    entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "donation_corrected")).one()
    assert entry.old_values["volume_ml"] == 250 and entry.new_values["volume_ml"] == 350
    assert entry.old_values["bag_number"] == "B-0001" and entry.reason == "Ghi nhầm thể tích"

    correct_donation(db.session, donation_id=donation_id, staff_id=nurse_id(db.session), expected_version=2,
                     volume_ml=180, bag_number="B-0009", outcome="incomplete", reaction="none", reaction_note="",
                     reason="Túi không đủ", nonce=nonce())
    shown = figures(db.session, drive_id)
    assert (shown["bags"], shown["volume_ml"], shown["incomplete"]) == (0, 0, 1)


def test_a_stale_version_or_no_reason_changes_nothing(drive_id):
    [visit_id] = ready_visits(db.session)
    donation_id = record(db.session, visit_id, "B-0001")["donation_id"]
    common = dict(donation_id=donation_id, staff_id=nurse_id(db.session), volume_ml=250, bag_number="B-0001",
                  outcome="completed", reaction="none", reaction_note="")
    with pytest.raises(DonationError) as error:
        correct_donation(db.session, expected_version=0, reason="x", nonce=nonce(), **common)
    assert error.value.code == "version_conflict"
    with pytest.raises(DonationError) as error:
        correct_donation(db.session, expected_version=1, reason="   ", nonce=nonce(), **common)
    assert error.value.code == "reason_required"
    with pytest.raises(DonationError) as error:
        void_donation(db.session, donation_id=donation_id, staff_id=nurse_id(db.session), expected_version=3,
                      reason="x", nonce=nonce())
    assert error.value.code == "version_conflict"
    assert db.session.get(Donation, donation_id).volume_ml == 350
    assert figures(db.session, drive_id)["volume_ml"] == 350


def test_a_void_uncounts_the_bag_and_lets_the_donor_donate_again(drive_id):
    [visit_id] = ready_visits(db.session)
    donation_id = record(db.session, visit_id, "B-0001")["donation_id"]
    result = void_donation(db.session, donation_id=donation_id, staff_id=nurse_id(db.session), expected_version=1,
                           reason="Ghi nhầm người hiến", nonce=nonce())
    assert result["version"] == 2
    assert db.session.get(Visit, visit_id).status == VisitStatus.CLEARED
    assert figures(db.session, drive_id)["bags"] == 0
    entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "donation_voided")).one()
    assert entry.old_values["voided"] is False and entry.new_values["voided"] is True
    with pytest.raises(DonationError) as error:  # voided once is voided
        void_donation(db.session, donation_id=donation_id, staff_id=nurse_id(db.session), expected_version=2,
                      reason="lại", nonce=nonce())
    assert error.value.code == "not_found"
    record(db.session, visit_id, "B-0002")  # the same bag number could not be reused: it stays on record
    assert figures(db.session, drive_id)["bags"] == 1


def test_a_closed_drive_is_changed_only_from_the_organisers_console(drive_id):
    first, second = ready_visits(db.session, 2)
    donation_id = record(db.session, first, "B-0001")["donation_id"]
    db.session.get(Drive, drive_id).status = DriveStatus.CLOSED
    db.session.commit()
    with pytest.raises(DonationError) as error:
        record(db.session, second, "B-0002")
    assert error.value.code == "drive_closed"
    with pytest.raises(DonationError) as error:
        void_donation(db.session, donation_id=donation_id, staff_id=nurse_id(db.session), expected_version=1,
                      reason="x", nonce=nonce())
    assert error.value.code == "drive_closed"
    void_donation(db.session, donation_id=donation_id, staff_id=nurse_id(db.session), expected_version=1,
                  reason="Kiểm tra sau đợt", nonce=nonce(), allow_closed_drive=True)
    assert figures(db.session, drive_id)["bags"] == 0
