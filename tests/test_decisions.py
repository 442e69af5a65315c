"""kiosk.screening.decisions: the nurse's decisions as domain functions, without the web layer."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
import sqlalchemy as sa

from kiosk import tally
from kiosk.screening import decisions
from kiosk.extensions import db
from kiosk.models import AuditLog, Drive, DriveStatus, Screening, Visit, VisitStatus
from kiosk.screening.decisions import ScreeningError
from kiosk.screening.questionnaire import load_questionnaire
from kiosk.screening.rules import load_rules
from tests.support.decisions import ELIGIBLE
from tests.support.donors import check_in, nonce, pick_donor

LOW_HB = replace(ELIGIBLE, haemoglobin_g_l=110)  # the rules defer: Hb below 120 g/L
LIGHT = replace(ELIGIBLE, weight_kg=48.0)  # 9 ml/kg: at most 432 ml, so 250 or 350 ml
PERMANENT = replace(ELIGIBLE, hbsag="positive")  # the rules defer permanently


def _decide(setup, **changes):
    visit = db.session.get(Visit, setup["visit_id"])
    arguments = dict(visit_id=setup["visit_id"], nurse_id=setup["nurse_id"], expected_version=visit.version,
                     vitals=ELIGIBLE, decision="accepted", volume_ml=350, deferral_until=None, reason="",
                     override_reason="", rules=load_rules(), questionnaire=load_questionnaire(), nonce=nonce(),
                     identity_document="cccd")
    arguments.update(changes)
    db.session.rollback()
    return decisions.record_decision(db.session, **arguments)


def _counts(setup):
    return tally.count_from_rows(db.session, setup["drive_id"])


def _snapshot(setup):
    return tally.snapshot(db.session, setup["drive_id"])


def test_opening_claims_the_donor_and_reports_another_nurse(setup):
    first = decisions.open_visit(db.session, visit_id=setup["visit_id"], nurse_id=setup["nurse_id"])
    assert first.status == VisitStatus.IN_SCREENING and not first.taken_by_other
    second = decisions.open_visit(db.session, visit_id=setup["visit_id"], nurse_id=setup["other_id"])
    assert second.taken_by_other and second.other_nurse_name == "Y tá Nguyễn Thị Hạnh"
    # the first nurse keeps her claim; after CLAIM_MINUTES it lapses
    assert db.session.get(Visit, setup["visit_id"]).opened_by_id == setup["nurse_id"]
    later = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(minutes=decisions.CLAIM_MINUTES + 1)
    third = decisions.open_visit(db.session, visit_id=setup["visit_id"], nurse_id=setup["other_id"], now=later)
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


@pytest.mark.parametrize("decision,volume,vitals,suggested", [
    ("accepted", 350, LOW_HB, {"eligible": False}),  # accepting a donor the rules defer
    ("accepted", 450, LIGHT, {"eligible": True, "allowed_volumes": [250, 350]}),  # a volume the rules do not allow
    ("deferred_permanent", None, ELIGIBLE, {"eligible": True}),  # deferring an eligible donor
    ("deferred_temporary", None, PERMANENT, {"eligible": False, "permanent": True}),  # softening a permanent deferral
])
def test_going_against_the_suggestion_needs_a_written_reason(setup, decision, volume, vitals, suggested):
    until = dt.date.today() + dt.timedelta(days=30)
    common = dict(decision=decision, volume_ml=volume, vitals=vitals, reason="lý do", deferral_until=until)
    with pytest.raises(ScreeningError) as error:
        _decide(setup, **common)
    assert error.value.code == "override_reason_required"
    _decide(setup, override_reason="Bác sĩ quyết định", **common)
    screening = db.session.scalars(sa.select(Screening)).one()
    assert screening.override_reason == "Bác sĩ quyết định"
    assert {key: screening.suggestion[key] for key in suggested} == suggested


def test_the_decision_does_not_take_the_callers_word_for_the_suggestion(app, setup):
    # A caller cannot hand in a suggestion any more: the decision works out its own.
    with pytest.raises(TypeError):
        _decide(setup, vitals=LOW_HB, suggestion={"eligible": True, "allowed_volumes": [250, 350, 450]})
    # The page may have shown "eligible" (a stale panel, a forged form): the rules defer, so an
    # accept needs a written reason, and the suggestion stored is the one the rules give.
    with pytest.raises(ScreeningError) as error:
        _decide(setup, vitals=LOW_HB)
    assert error.value.code == "override_reason_required"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Screening)) == 0
    _decide(setup, vitals=LOW_HB, override_reason="Bác sĩ đồng ý")
    screening = db.session.scalars(sa.select(Screening)).one()
    assert not screening.suggestion["eligible"] and screening.override_reason == "Bác sĩ đồng ý"
    assert [r["rule"] for r in screening.suggestion["reasons"]] == ["haemoglobin"]
    assert screening.suggestion["rules_version"] == load_rules().version


def test_the_decisions_suggestion_reads_the_donors_answers(app, setup):
    # Vitals all in range, but the donor answered "yes" to a permanent deferral at the kiosk.
    visit_id = pick_donor(app, "XNC")
    check_in(app, visit_id, "XNC", yes=("q3.listed",))
    db.session.rollback()  # the check-in committed in a session of its own
    with pytest.raises(ScreeningError) as error:
        _decide({**setup, "visit_id": visit_id}, vitals=ELIGIBLE)
    assert error.value.code == "override_reason_required"
    _decide({**setup, "visit_id": visit_id}, decision="deferred_permanent", volume_ml=None, vitals=ELIGIBLE,
            reason="Viêm gan B")
    screening = db.session.scalars(sa.select(Screening).where(Screening.visit_id == visit_id)).one()
    assert screening.suggestion["permanent"] and screening.override_reason == ""


def test_a_deferral_needs_a_reason_and_a_later_return_date(setup):
    drive_date = db.session.get(Drive, setup["drive_id"]).drive_date
    for changes, code in (({"reason": ""}, "reason_required"),
                          ({"reason": "Hb thấp", "deferral_until": drive_date}, "invalid_return_date")):
        with pytest.raises(ScreeningError) as error:
            _decide(setup, decision="deferred_temporary", volume_ml=None, vitals=LOW_HB,
                    **{"deferral_until": drive_date + dt.timedelta(days=7), **changes})
        assert error.value.code == code
    _decide(setup, decision="deferred_temporary", volume_ml=None, vitals=LOW_HB, reason="Hb thấp",
            deferral_until=drive_date + dt.timedelta(days=7))
    assert db.session.get(Visit, setup["visit_id"]).status == VisitStatus.DEFERRED
    assert _counts(setup)["deferred"] == _snapshot(setup)["deferred"] == 1


def test_a_correction_moves_the_counts_and_keeps_the_old_values(setup):
    _decide(setup)
    screening = db.session.scalars(sa.select(Screening)).one()
    until = db.session.get(Drive, setup["drive_id"]).drive_date + dt.timedelta(days=14)
    db.session.rollback()
    result = decisions.correct_decision(
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
        decisions.correct_decision(
            db.session, screening_id=screening.id, staff_id=setup["nurse_id"], expected_version=1, decision="accepted",
            volume_ml=350, deferral_until=None, reason="", override_reason="", correction_reason="x", nonce=nonce())
    assert error.value.code == "version_conflict"


def test_voiding_sends_the_donor_back_and_nothing_is_deleted(setup):
    _decide(setup)
    screening = db.session.scalars(sa.select(Screening)).one()
    db.session.rollback()
    with pytest.raises(ScreeningError) as error:
        decisions.void_decision(db.session, screening_id=screening.id, staff_id=setup["nurse_id"],
                                 expected_version=1, reason="  ", nonce=nonce())
    assert error.value.code == "reason_required"
    decisions.void_decision(db.session, screening_id=screening.id, staff_id=setup["nurse_id"], expected_version=1,
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
        lambda: decisions.void_decision(db.session, screening_id=screening.id, staff_id=setup["nurse_id"],
                                         expected_version=1, reason="x", nonce=nonce()),
        lambda: decisions.correct_decision(db.session, screening_id=screening.id, staff_id=setup["nurse_id"],
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
        decisions.void_decision(db.session, screening_id=screening_id, staff_id=setup["nurse_id"],
                                 expected_version=1, reason="x", nonce=nonce())
    assert error.value.code == "drive_closed"
    decisions.void_decision(db.session, screening_id=screening_id, staff_id=setup["nurse_id"], expected_version=1,
                             reason="x", nonce=nonce(), allow_closed_drive=True)
    assert db.session.get(Screening, screening_id).voided


# --- before "accept": an identity document seen and haemoglobin measured (TT 26/2013 Art. 7.1) ---

@pytest.mark.parametrize("identity, vitals, missing", [
    (None, ELIGIBLE, ["identity_document"]),
    ("passport", replace(ELIGIBLE, haemoglobin_g_l=None), ["haemoglobin_g_l"]),
    (None, replace(ELIGIBLE, haemoglobin_g_l=None), ["identity_document", "haemoglobin_g_l"]),
])
def test_accepting_without_a_check_needs_a_written_reason(setup, identity, vitals, missing):
    with pytest.raises(ScreeningError) as error:
        _decide(setup, identity_document=identity, vitals=vitals, volume_ml=250)
    assert error.value.code == "checks_reason_required" and error.value.params["missing"] == missing
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Screening)) == 0
    _decide(setup, identity_document=identity, vitals=vitals, volume_ml=250, checks_reason="  Máy đo Hb hỏng ")
    screening = db.session.scalars(sa.select(Screening)).one()
    assert screening.identity_document == identity and screening.checks_reason == "Máy đo Hb hỏng"
    entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "screening_decision")).one()
    assert entry.new_values["identity_document"] == identity and entry.new_values["checks_reason"] == "Máy đo Hb hỏng"


def test_with_both_checks_no_reason_is_asked_nor_kept(setup):
    _decide(setup, identity_document="donor_card", checks_reason="không cần")
    screening = db.session.scalars(sa.select(Screening)).one()
    assert screening.identity_document == "donor_card" and screening.checks_reason == ""


def test_a_deferral_needs_no_identity_document(setup):
    drive_date = db.session.get(Drive, setup["drive_id"]).drive_date
    _decide(setup, identity_document=None, decision="deferred_temporary", volume_ml=None, vitals=LOW_HB,
            reason="Hb thấp", deferral_until=drive_date + dt.timedelta(days=7))
    assert db.session.scalars(sa.select(Screening)).one().checks_reason == ""


def test_an_unknown_identity_document_is_refused(setup):
    with pytest.raises(ScreeningError) as error:
        _decide(setup, identity_document="library_card")
    assert error.value.code == "invalid_identity_document"


def test_the_override_reason_is_still_asked_beside_the_checks_reason(setup):
    with pytest.raises(ScreeningError) as error:  # Hb 110 defers: accepting goes against the suggestion
        _decide(setup, vitals=LOW_HB, volume_ml=250, checks_reason="x")
    assert error.value.code == "override_reason_required"


def test_a_correction_to_accept_keeps_the_checks_or_asks_why(setup):
    drive_date = db.session.get(Drive, setup["drive_id"]).drive_date
    _decide(setup, identity_document=None, decision="deferred_temporary", volume_ml=None,
            reason="Mệt", deferral_until=drive_date + dt.timedelta(days=7), override_reason="Người hiến mệt")
    screening = db.session.scalars(sa.select(Screening)).one()
    db.session.rollback()
    arguments = dict(screening_id=screening.id, staff_id=setup["nurse_id"], expected_version=1, decision="accepted",
                     volume_ml=350, deferral_until=None, reason="", override_reason="", correction_reason="Khỏe lại")
    with pytest.raises(ScreeningError) as error:  # no document was recorded as seen
        decisions.correct_decision(db.session, nonce=nonce(), **arguments)
    assert error.value.code == "checks_reason_required"
    result = decisions.correct_decision(db.session, nonce=nonce(), identity_document="cccd", **arguments)
    assert result["status"] == "cleared"
    screening = db.session.get(Screening, screening.id)
    assert screening.identity_document == "cccd" and screening.checks_reason == ""
