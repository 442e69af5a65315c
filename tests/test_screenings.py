"""kiosk.screenings: the nurse's decisions as domain functions, without the web layer."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from kiosk import tally
from kiosk.screening import decisions as screenings
from kiosk.auth import hash_password
from kiosk.extensions import db
from kiosk.models import AuditLog, Drive, DriveStatus, Screening, Staff, StaffRole, Visit, VisitStatus
from kiosk.screening.decisions import ScreeningError
from tests.support.donors import check_in, nonce, pick_donor

ELIGIBLE = {"eligible": True, "allowed_volumes": [250, 350, 450], "reasons": [], "return_date": None,
            "permanent": False, "needs_review": False}
LOW_HB = {"eligible": False, "allowed_volumes": [], "reasons": [{"rule": "haemoglobin", "code": "hb_low"}],
          "return_date": None, "permanent": False, "needs_review": False}
PERMANENT = {"eligible": False, "allowed_volumes": [], "reasons": [], "return_date": None, "permanent": True,
             "needs_review": True}


@pytest.fixture
def setup(app, demo):
    visit_id = pick_donor(app, "XNC")
    check_in(app, visit_id, "XNC")
    with app.app_context():
        nurse_id = db.session.scalars(sa.select(Staff.id).where(Staff.username == "yta")).one()
        other = Staff(username="yta2", display_name="Y tá Lê Thu Hà", role=StaffRole.NURSE,
                      password_hash=hash_password("x" * 12))
        db.session.add(other)
        db.session.commit()
        yield {"visit_id": visit_id, "nurse_id": nurse_id, "other_id": other.id, "drive_id": demo["drive_id"]}


def _decide(setup, **changes):
    visit = db.session.get(Visit, setup["visit_id"])
    arguments = dict(visit_id=setup["visit_id"], nurse_id=setup["nurse_id"], expected_version=visit.version,
                     vitals=None, decision="accepted", volume_ml=350, deferral_until=None, reason="",
                     override_reason="", suggestion=ELIGIBLE, nonce=nonce())
    arguments.update(changes)
    db.session.rollback()
    return screenings.record_decision(db.session, **arguments)


def _counts(setup):
    return tally.count_from_rows(db.session, setup["drive_id"])


def _snapshot(setup):
    return tally.snapshot(db.session, setup["drive_id"])


def test_opening_claims_the_donor_and_reports_another_nurse(setup):
    first = screenings.open_visit(db.session, visit_id=setup["visit_id"], nurse_id=setup["nurse_id"])
    assert first.status == VisitStatus.IN_SCREENING and not first.taken_by_other
    second = screenings.open_visit(db.session, visit_id=setup["visit_id"], nurse_id=setup["other_id"])
    assert second.taken_by_other and second.other_nurse_name == "Y tá Nguyễn Thị Hạnh"
    # the first nurse keeps her claim; after CLAIM_MINUTES it lapses
    assert db.session.get(Visit, setup["visit_id"]).opened_by_id == setup["nurse_id"]
    later = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(minutes=screenings.CLAIM_MINUTES + 1)
    third = screenings.open_visit(db.session, visit_id=setup["visit_id"], nurse_id=setup["other_id"], now=later)
    assert not third.taken_by_other


def test_acceptance_clears_the_donor_and_counts_once(setup):
    result = _decide(setup, nonce="n" * 20)
    assert result["status"] == "cleared" and not result["replayed"]
    again = _decide(setup, nonce="n" * 20, expected_version=result["version"] - 1)
    assert again["replayed"] and again["screening_id"] == result["screening_id"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Screening)) == 1
    assert _counts(setup)["screened"] == _snapshot(setup)["screened"] == 1
    entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "screening_decision")).one()
    assert entry.new_values["decision"] == "accepted" and entry.staff_id == setup["nurse_id"]


def test_a_stale_version_is_refused(setup):
    visit = db.session.get(Visit, setup["visit_id"])
    stale = visit.version - 1
    with pytest.raises(ScreeningError) as error:
        _decide(setup, expected_version=stale)
    assert error.value.code == "version_conflict"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Screening)) == 0


def test_a_second_decision_is_refused(setup):
    _decide(setup)
    with pytest.raises(ScreeningError) as error:
        _decide(setup)
    assert error.value.code == "already_decided"


@pytest.mark.parametrize("decision,volume,suggestion", [
    ("accepted", 350, LOW_HB),  # accepting a donor the rules defer
    ("accepted", 450, {**ELIGIBLE, "allowed_volumes": [250, 350]}),  # a volume the rules do not allow
    ("deferred_permanent", None, ELIGIBLE),  # deferring an eligible donor
    ("deferred_temporary", None, PERMANENT),  # softening a permanent deferral
])
def test_going_against_the_suggestion_needs_a_written_reason(setup, decision, volume, suggestion):
    until = dt.date.today() + dt.timedelta(days=30)
    common = dict(decision=decision, volume_ml=volume, suggestion=suggestion, reason="lý do", deferral_until=until)
    with pytest.raises(ScreeningError) as error:
        _decide(setup, **common)
    assert error.value.code == "override_reason_required"
    _decide(setup, override_reason="Bác sĩ quyết định", **common)
    assert db.session.scalars(sa.select(Screening)).one().override_reason == "Bác sĩ quyết định"


def test_a_deferral_needs_a_reason_and_a_later_return_date(setup):
    drive_date = db.session.get(Drive, setup["drive_id"]).drive_date
    for changes, code in (({"reason": ""}, "reason_required"),
                          ({"reason": "Hb thấp", "deferral_until": drive_date}, "invalid_return_date")):
        with pytest.raises(ScreeningError) as error:
            _decide(setup, decision="deferred_temporary", volume_ml=None, suggestion=LOW_HB,
                    **{"deferral_until": drive_date + dt.timedelta(days=7), **changes})
        assert error.value.code == code
    _decide(setup, decision="deferred_temporary", volume_ml=None, suggestion=LOW_HB, reason="Hb thấp",
            deferral_until=drive_date + dt.timedelta(days=7))
    assert db.session.get(Visit, setup["visit_id"]).status == VisitStatus.DEFERRED
    assert _counts(setup)["deferred"] == _snapshot(setup)["deferred"] == 1


def test_a_correction_moves_the_counts_and_keeps_the_old_values(setup):
    _decide(setup)
    screening = db.session.scalars(sa.select(Screening)).one()
    until = db.session.get(Drive, setup["drive_id"]).drive_date + dt.timedelta(days=14)
    db.session.rollback()
    result = screenings.correct_decision(
        db.session, screening_id=screening.id, staff_id=setup["other_id"], expected_version=1,
        decision="deferred_temporary", volume_ml=None, deferral_until=until, reason="Cảm cúm",
        override_reason="Khai lại", correction_reason="Người hiến báo lại", nonce=nonce())
    assert result["status"] == "deferred"
    for figures in (_counts(setup), _snapshot(setup)):
        assert figures["screened"] == 1 and figures["deferred"] == 1
    entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "screening_corrected")).one()
    assert entry.old_values["decision"] == "accepted" and entry.new_values["decision"] == "deferred_temporary"
    assert entry.staff_id == setup["other_id"] and entry.reason == "Người hiến báo lại"
    with pytest.raises(ScreeningError) as error:  # the same version again is stale now
        screenings.correct_decision(
            db.session, screening_id=screening.id, staff_id=setup["nurse_id"], expected_version=1, decision="accepted",
            volume_ml=350, deferral_until=None, reason="", override_reason="", correction_reason="x", nonce=nonce())
    assert error.value.code == "version_conflict"


def test_voiding_sends_the_donor_back_and_nothing_is_deleted(setup):
    _decide(setup)
    screening = db.session.scalars(sa.select(Screening)).one()
    db.session.rollback()
    with pytest.raises(ScreeningError) as error:
        screenings.void_decision(db.session, screening_id=screening.id, staff_id=setup["nurse_id"],
                                 expected_version=1, reason="  ", nonce=nonce())
    assert error.value.code == "reason_required"
    screenings.void_decision(db.session, screening_id=screening.id, staff_id=setup["nurse_id"], expected_version=1,
                             reason="Nhầm người", nonce=nonce())
    screening = db.session.scalars(sa.select(Screening)).one()
    assert screening.voided and screening.void_reason == "Nhầm người"
    assert db.session.get(Visit, setup["visit_id"]).status == VisitStatus.IN_SCREENING
    assert _counts(setup)["screened"] == _snapshot(setup)["screened"] == 0
    _decide(setup)  # a new decision can be recorded
    assert _counts(setup)["screened"] == 1


def test_a_donation_blocks_turning_the_decision_into_a_deferral(setup):
    from kiosk.donations import record_donation

    _decide(setup)
    screening = db.session.scalars(sa.select(Screening)).one()
    db.session.rollback()
    record_donation(db.session, visit_id=setup["visit_id"], nurse_id=setup["nurse_id"], volume_ml=350,
                    bag_number="B-1", outcome="completed", nonce=nonce())
    for call in (
        lambda: screenings.void_decision(db.session, screening_id=screening.id, staff_id=setup["nurse_id"],
                                         expected_version=1, reason="x", nonce=nonce()),
        lambda: screenings.correct_decision(db.session, screening_id=screening.id, staff_id=setup["nurse_id"],
                                            expected_version=1, decision="deferred_permanent", volume_ml=None,
                                            deferral_until=None, reason="x", override_reason="y",
                                            correction_reason="z", nonce=nonce())):
        with pytest.raises(ScreeningError) as error:
            call()
        assert error.value.code == "already_donated"


def test_a_closed_drive_refuses_changes_unless_the_organiser_allows(setup):
    _decide(setup)
    screening_id = db.session.scalars(sa.select(Screening.id)).one()
    db.session.get(Drive, setup["drive_id"]).status = DriveStatus.CLOSED
    db.session.commit()
    with pytest.raises(ScreeningError) as error:
        screenings.void_decision(db.session, screening_id=screening_id, staff_id=setup["nurse_id"],
                                 expected_version=1, reason="x", nonce=nonce())
    assert error.value.code == "drive_closed"
    screenings.void_decision(db.session, screening_id=screening_id, staff_id=setup["nurse_id"], expected_version=1,
                             reason="x", nonce=nonce(), allow_closed_drive=True)
    assert db.session.get(Screening, screening_id).voided
