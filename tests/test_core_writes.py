"""The tablet's and the nurse's writes read and check before their write transaction and, inside
it, run Core statements whose first is conditional on what was read (issue 14). These tests put
another write between the check and the write, and see the write decide again, as it would have
had it read inside; and they check what a Core-only write leaves the session's objects."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from kiosk import donations, idempotency, tally
from kiosk.checkin import CheckinOutcome, ScanOutcome, check_in, confirm, scan, scan_pass
from kiosk.database import begin_write, commit, expire_rows, note_written, read_again, write_checked
from kiosk.donations import DonationError
from kiosk.extensions import db
from kiosk.formatting import local_today
from kiosk.models import AuditLog, Donation, Site, TallyCounter, Visit, VisitStatus, utcnow
from kiosk.screening import claims, corrections, decisions
from kiosk.screening.decisions import ScreeningError
from kiosk.screening.questionnaire import load_questionnaire
from kiosk.screening.rules import load_rules
from kiosk.tokens import new_nonce
from tests.support.decisions import ELIGIBLE
from tests.support.donations import figures, nurse_id, ready_visits, record

QUESTIONNAIRE = load_questionnaire()
DAY_START = dt.datetime(2000, 1, 1)


def between_check_and_write(monkeypatch, module, other_write) -> None:
    """The next write through the module's write helper (kiosk.idempotency's `write_once`, or
    `run_checked_once` in kiosk.donations) is checked, then `other_write()` commits, then the write
    runs with what its check read before."""
    pending = [other_write]

    def other_write_after(check):
        if not pending:
            return check
        checked = check()
        pending.pop()()
        return lambda: checked

    if hasattr(module, "write_once"):
        real = module.write_once
        # Inside the write, a check that missed runs again for real (as write_once's default does).
        monkeypatch.setattr(module, "write_once", lambda session, nonce, action, *, check, **steps: real(
            session, nonce, action, check=other_write_after(check),
            **{"check_again": read_again(session, check), **steps}))
    else:
        real = module.run_checked_once
        monkeypatch.setattr(module, "run_checked_once", lambda session, nonce, action, check, *rest: real(
            session, nonce, action, other_write_after(check), *rest))


def test_a_donation_recorded_between_the_check_and_the_write_is_not_recorded_twice(monkeypatch, drive_id):  # noqa: F811
    [visit_id] = ready_visits(db.session)
    between_check_and_write(monkeypatch, donations, lambda: record(db.session, visit_id, "B-0001"))
    with pytest.raises(DonationError) as refused:
        record(db.session, visit_id, "B-0002")
    assert refused.value.code == "already_donated"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Donation)) == 1
    assert figures(db.session, drive_id)["bags"] == 1


def test_a_donation_voided_between_the_check_and_a_correction_refuses_the_correction(monkeypatch, drive_id):  # noqa: F811
    [visit_id] = ready_visits(db.session)
    recorded = record(db.session, visit_id, "B-0001")
    staff_id = nurse_id(db.session)

    def void() -> None:
        donations.void_donation(db.session, donation_id=recorded["donation_id"], staff_id=staff_id,
                                expected_version=1, reason="wrong donor", nonce=new_nonce())

    between_check_and_write(monkeypatch, donations, void)
    with pytest.raises(DonationError) as refused:
        donations.correct_donation(db.session, donation_id=recorded["donation_id"], staff_id=staff_id,
                                   expected_version=1, volume_ml=250, bag_number="B-0001", outcome="completed",
                                   reaction="none", reaction_note="", reason="wrong volume", nonce=new_nonce())
    assert refused.value.code == "not_found"
    shown = figures(db.session, drive_id)
    assert (shown["bags"], shown["volume_ml"]) == (0, 0)
    assert db.session.get(Visit, visit_id).status == VisitStatus.CLEARED


def test_a_decision_made_by_another_nurse_meanwhile_is_a_version_conflict(monkeypatch, setup):  # noqa: F811
    visit = db.session.get(Visit, setup["visit_id"])
    arguments = dict(visit_id=visit.id, expected_version=visit.version, vitals=ELIGIBLE, decision="accepted",
                     volume_ml=350, deferral_until=None, reason="", override_reason="", rules=load_rules(),
                     questionnaire=QUESTIONNAIRE, identity_document="cccd")
    db.session.rollback()
    between_check_and_write(monkeypatch, decisions, lambda: decisions.record_decision(
        db.session, nurse_id=setup["other_id"], nonce=new_nonce(), **arguments))
    with pytest.raises(ScreeningError) as refused:
        decisions.record_decision(db.session, nurse_id=setup["nurse_id"], nonce=new_nonce(), **arguments)
    assert refused.value.code == "version_conflict"
    counts = tally.count_from_rows(db.session, setup["drive_id"])
    assert counts["screened"] == 1 and counts == tally.snapshot(db.session, setup["drive_id"])


def test_a_donation_recorded_meanwhile_stops_a_correction_into_a_deferral(monkeypatch, setup):  # noqa: F811
    visit = db.session.get(Visit, setup["visit_id"])
    accepted = decisions.record_decision(
        db.session, visit_id=visit.id, nurse_id=setup["nurse_id"], expected_version=visit.version, vitals=ELIGIBLE,
        decision="accepted", volume_ml=350, deferral_until=None, reason="", override_reason="", rules=load_rules(),
        questionnaire=QUESTIONNAIRE, nonce=new_nonce(), identity_document="cccd")
    between_check_and_write(monkeypatch, corrections, lambda: donations.record_donation(
        db.session, visit_id=visit.id, nurse_id=setup["nurse_id"], volume_ml=350, bag_number="B-1",
        outcome="completed", nonce=new_nonce()))
    with pytest.raises(ScreeningError) as refused:
        decisions.void_decision(db.session, screening_id=accepted["screening_id"], staff_id=setup["nurse_id"],
                                expected_version=1, reason="wrong donor", nonce=new_nonce())
    assert refused.value.code == "already_donated"
    assert db.session.get(Visit, visit.id).status == VisitStatus.DONE


def test_a_donor_claimed_by_another_nurse_meanwhile_stays_hers(monkeypatch, setup):  # noqa: F811
    # The other nurse took the donor 20 minutes ago (her claim has lapsed, the donor is in screening),
    # and opens the donor again between this nurse's read and her write.
    lapsed = utcnow() - dt.timedelta(minutes=decisions.CLAIM_MINUTES * 2)
    decisions.open_visit(db.session, visit_id=setup["visit_id"], nurse_id=setup["other_id"], now=lapsed)
    real_read, others_claim = claims._claim_before_the_write, [
        lambda: decisions.open_visit(db.session, visit_id=setup["visit_id"], nurse_id=setup["other_id"])]

    def read_then_the_other_nurse_claims(session, visit_id):
        seen = real_read(session, visit_id)
        if others_claim:
            others_claim.pop()()
        return seen

    monkeypatch.setattr(claims, "_claim_before_the_write", read_then_the_other_nurse_claims)
    revision = tally.snapshot(db.session, setup["drive_id"])["revision"]
    mine = decisions.open_visit(db.session, visit_id=setup["visit_id"], nurse_id=setup["nurse_id"])
    assert mine.taken_by_other and mine.other_nurse_id == setup["other_id"]
    db.session.expire_all()
    visit = db.session.get(Visit, setup["visit_id"])
    assert (visit.opened_by_id, visit.status) == (setup["other_id"], VisitStatus.IN_SCREENING)
    assert visit.opened_at > lapsed
    # Nothing the queue shows changed: the same nurse has the donor, in screening.
    assert tally.snapshot(db.session, setup["drive_id"])["revision"] == revision


def _site_and_visit():
    site = db.session.scalars(sa.select(Site).where(Site.code == "XNC")).one()
    visit = db.session.scalars(sa.select(Visit).where(Visit.site_id == site.id, Visit.checked_in_at.is_(None))
                               .order_by(Visit.id).limit(1)).one()
    return site, visit


def _arrive(site, kiosk_session_id, sex):
    answers = {item.id: False for item in QUESTIONNAIRE.items_for(sex)} | {"consent": True}
    return check_in(db.session, kiosk_session_id=kiosk_session_id, site=site, questionnaire=QUESTIONNAIRE,
                    answers=answers, today_start_utc=DAY_START,
                    nonce=new_nonce())


def test_a_check_in_at_another_tablet_meanwhile_answers_already_checked_in(monkeypatch, app, demo):
    with app.app_context():
        site, visit = _site_and_visit()
        sex = visit.donor.sex
        first, second = (scan_pass(db.session, scanned_text=visit.token, site=site, today=local_today(),
                                   nonce=new_nonce()).kiosk_session_id for _tablet in range(2))
        between_check_and_write(monkeypatch, confirm, lambda: _arrive(site, first, sex))
        answer = _arrive(site, second, sex)
        assert answer["outcome"] == CheckinOutcome.ALREADY_CHECKED_IN.value and answer["queue_number"] == 1
        assert db.session.scalar(sa.select(sa.func.sum(TallyCounter.checked_in))) == 1
        assert db.session.get(Visit, visit.id).queue_number == 1


def test_a_check_in_that_keeps_losing_its_race_is_made_under_the_visits_lock(monkeypatch, app, demo):
    """Where writers do not queue, five lost races in a row are possible: the donor is still checked
    in (the visit's row held, the check made again under it), never shown an error."""
    with app.app_context():
        site, visit = _site_and_visit()
        sex = visit.donor.sex
        opened = scan_pass(db.session, scanned_text=visit.token, site=site, today=local_today(), nonce=new_nonce())
        real, calls = idempotency.write_checked, []
        monkeypatch.setattr(idempotency, "write_checked",
                            lambda check, checked, update: calls.append(1) or (
                                None if len(calls) == 1 else real(check, checked, update)))
        answer = _arrive(site, opened.kiosk_session_id, sex)
        assert len(calls) == 2
        assert answer["outcome"] == CheckinOutcome.CHECKED_IN.value and answer["queue_number"] == 1
        assert db.session.scalar(sa.select(sa.func.sum(TallyCounter.checked_in))) == 1


def test_a_scan_checked_in_meanwhile_opens_no_kiosk_session(monkeypatch, app, demo):
    with app.app_context():
        site, visit = _site_and_visit()
        token, sex = visit.token, visit.donor.sex
        first = scan_pass(db.session, scanned_text=token, site=site, today=local_today(), nonce=new_nonce())
        between_check_and_write(monkeypatch, scan, lambda: _arrive(site, first.kiosk_session_id, sex))
        again = scan_pass(db.session, scanned_text=token, site=site, today=local_today(), nonce=new_nonce())
        assert (again.outcome, again.queue_number, again.kiosk_session_id) == (
            ScanOutcome.ALREADY_CHECKED_IN, 1, None)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog)
                                 .where(AuditLog.action == "kiosk_scan")) == 1


def test_write_checked_reads_again_until_the_update_matches():
    seen = []
    versions = iter([2, 3])
    assert write_checked(lambda: next(versions), 1, lambda v: seen.append(v) or v == 3) == 3
    assert seen == [1, 2, 3]
    assert write_checked(lambda: 1, 1, lambda v: False, tries=3) is None


def _loaded(obj) -> bool:
    return not sa.inspect(obj).expired_attributes


def test_begin_write_and_commit_expire_by_default(app, demo):
    with app.app_context():
        site = db.session.scalars(sa.select(Site)).first()
        begin_write(db.session)
        assert not _loaded(site)
        db.session.get(Site, site.id)
        commit(db.session)
        assert not _loaded(site)


def test_a_core_only_write_keeps_what_was_loaded(app, demo):
    with app.app_context():
        site = db.session.scalars(sa.select(Site)).first()
        begin_write(db.session, expire=False)
        db.session.execute(sa.update(Site.__table__).where(Site.id == site.id).values(address="Số 1"))
        commit(db.session, expire=False)
        assert _loaded(site)
        assert db.session().expire_on_commit  # only that commit was told not to
        expire_rows(db.session, Site, [site.id])
        assert site.address == "Số 1"  # expired, so loaded again


def test_note_written_gives_the_object_the_committed_values(app, demo):
    with app.app_context():
        visit = db.session.scalars(sa.select(Visit)).first()
        new_version = visit.version + 1
        begin_write(db.session, expire=False)
        db.session.execute(sa.update(Visit.__table__).where(Visit.id == visit.id)
                           .values(status=VisitStatus.CHECKED_IN, version=Visit.version + 1))
        commit(db.session, expire=False)
        assert visit.version == new_version - 1  # a Core UPDATE: the object does not know
        note_written(db.session, Visit, visit.id, {"status": VisitStatus.CHECKED_IN, "version": new_version})
        status, version = visit.status, visit.version
        assert (status, version) == (VisitStatus.CHECKED_IN, new_version)
        assert not db.session.dirty  # the values are the row's, not changes to flush
        db.session.expire_all()
        assert (visit.status, visit.version) == (status, version)
        note_written(db.session, Visit, 10**9, {"status": VisitStatus.DONE})  # a row it does not hold: nothing


def test_a_core_audit_entry_carries_the_requests_address(app, demo, drive_id):  # noqa: F811
    [visit_id] = ready_visits(db.session)
    with app.test_request_context(environ_base={"REMOTE_ADDR": "198.51.100.4"}):
        record(db.session, visit_id, "B-0001")
    entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "donation_recorded")).one()
    assert entry.source_address == "198.51.100.4"
