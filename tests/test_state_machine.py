"""A donor's whole way as a state machine (Issue 7, point 4): check-in at the kiosk (answers
given there, or on the phone before), screening decisions, donations, retries with the same
nonce, corrections and voids of both, in any order hypothesis finds, through the domain
functions (kiosk.checkin, kiosk.screenings, kiosk.donations) on a real migrated SQLite database
(PostgreSQL in that pass). After every step: one visit per donor per drive, at most one live
donation (so at most one completed) per visit, queue numbers 1..n without a gap or a repeat,
each visit's status agrees with its records, and the display's counters equal a count from the
rows. A plain model says what each call must answer."""
from __future__ import annotations

import datetime as dt
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from kiosk import checkin, tally
from kiosk.screening import decisions as screenings
from kiosk.donations import DonationError, correct_donation, record_donation, void_donation
from kiosk.extensions import db
from kiosk.idempotency import run_once
from kiosk.models import (Donation, Donor, Drive, DriveStatus, Screening, Site, Staff, StaffRole, Visit,
                          VisitStatus)
from kiosk.screening.questionnaire import load_questionnaire
from kiosk.screening.rules import load_rules
from kiosk.screening.decisions import ScreeningError
from tests.conftest import make_app_on_copy

DONORS = 5
BAGS = ("T-1", "T-2", "T-3", "T-4")


def _nonce() -> str:
    return secrets.token_urlsafe(18)


class DonorsThroughTheDay(RuleBasedStateMachine):
    template: Path

    def __init__(self):
        super().__init__()
        memory = "/dev/shm" if Path("/dev/shm").is_dir() else None
        self.directory = Path(tempfile.mkdtemp(prefix="lifecycle-", dir=memory))
        self.app = make_app_on_copy(self.template, self.directory)
        self.context = self.app.app_context()
        self.context.push()
        self.questionnaire = load_questionnaire()
        self.rules = load_rules()
        self.today = dt.date.today()
        session = db.session
        self.site = Site(code="A", name="Điểm A")
        drive = Drive(name="Đợt thử", drive_date=self.today, target_bags=5, status=DriveStatus.OPEN, sites=[self.site])
        nurse = Staff(username="yta", display_name="Y tá", role=StaffRole.NURSE, password_hash="x")
        session.add_all([drive, nurse])
        session.flush()
        self.visits, self.sexes = [], []
        for number in range(DONORS):
            sex = "F" if number % 2 else "M"
            donor = Donor(full_name=f"Người Hiến {number}", name_search=f"nguoi hien {number}", sex=sex,
                          date_of_birth=dt.date(1990, 1, 1), id_number=f"{number:012d}")
            session.add(donor)
            session.flush()
            visit = Visit(drive_id=drive.id, donor_id=donor.id, site_id=self.site.id, token=secrets.token_urlsafe(24))
            session.add(visit)
            session.flush()
            self.visits.append((visit.id, visit.token))
            self.sexes.append(sex)
        session.commit()
        self.drive_id, self.nurse_id = drive.id, nurse.id
        # The model: what each donor has, as the calls were answered.
        self.checked_in: dict[int, int] = {}  # donor index -> queue number
        self.phone_answered: set[int] = set()
        self.decision: dict[int, dict] = {}  # donor index -> {"id", "version", "decision"}
        self.donation: dict[int, dict] = {}  # donor index -> the live donation {"id", "version", "bag"}
        self.bags_used: set[str] = set()
        self.calls: list = []  # (description, call, first answer): successful writes, to retry

    def teardown(self):
        db.session.remove()
        db.engine.dispose()
        self.context.pop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _answers(self, index: int) -> dict[str, bool]:
        return {item.id: item.must_be_yes for item in self.questionnaire.items_for(self.sexes[index])}

    def _visit(self, index: int) -> Visit:
        db.session.expire_all()
        return db.session.get(Visit, self.visits[index][0])

    def _remember(self, description: str, call, answer) -> None:
        self.calls.append((description, call, {k: v for k, v in answer.items() if k != "replayed"}))

    # ----- the kiosk -----

    @rule(index=st.integers(0, DONORS - 1))
    def answer_on_the_phone(self, index):
        visit_id = self.visits[index][0]
        key = _nonce()

        def write():
            visit = db.session.get(Visit, visit_id)
            response = checkin.store_answers(db.session, visit=visit, questionnaire=self.questionnaire,
                                             answers=self._answers(index), channel="phone", nonce=key)
            db.session.flush()
            return {"response_id": response.id}

        run_once(db.session, key, "phone_questionnaire", write)
        self.phone_answered.add(index)

    @rule(index=st.integers(0, DONORS - 1), answers_here=st.booleans())
    def check_in(self, index, answers_here):
        _visit_id, token = self.visits[index]
        scanned = checkin.scan_pass(db.session, scanned_text=token, site=self.site, today=self.today, nonce=_nonce())
        if index in self.checked_in:
            assert scanned.outcome == checkin.ScanOutcome.ALREADY_CHECKED_IN
            assert scanned.queue_number == self.checked_in[index]
            return
        assert scanned.outcome == checkin.ScanOutcome.ACCEPTED
        key = _nonce()
        give = answers_here or index not in self.phone_answered

        def call():
            return checkin.check_in(db.session, kiosk_session_id=scanned.kiosk_session_id, site=self.site,
                                    questionnaire=self.questionnaire, answers=self._answers(index) if give else None,
                                    today_start_utc=dt.datetime.now() - dt.timedelta(days=1), nonce=key)

        result = call()
        assert result["outcome"] == "checked_in", result
        assert result["queue_number"] == len(self.checked_in) + 1
        self.checked_in[index] = result["queue_number"]
        self._remember("check_in", call, result)

    # ----- the nurse -----

    @rule(index=st.integers(0, DONORS - 1), accept=st.booleans(), stale=st.sampled_from((0, 0, 0, 1)))
    def decide(self, index, accept, stale):
        visit_id = self.visits[index][0]
        try:
            screenings.open_visit(db.session, visit_id=visit_id, nurse_id=self.nurse_id)
        except ScreeningError:
            raise AssertionError("every visit exists")
        version = self._visit(index).version + stale
        key = _nonce()
        decision = "accepted" if accept else "deferred_temporary"

        def call():
            return screenings.record_decision(
                db.session, visit_id=visit_id, nurse_id=self.nurse_id, expected_version=version, vitals=None,
                decision=decision, volume_ml=350 if accept else None,
                deferral_until=None if accept else self.today + dt.timedelta(days=30),
                reason="" if accept else "Huyết áp cao", override_reason="Đồng ý" if not accept else "",
                rules=self.rules, questionnaire=self.questionnaire, nonce=key, identity_document="cccd",
                checks_reason="Máy đo Hb hỏng")

        try:
            result = call()
        except ScreeningError as error:
            if stale:
                assert error.code == "version_conflict"
            elif index not in self.checked_in:
                assert error.code == "not_checked_in"
            else:
                assert index in self.decision and error.code == "already_decided"
            return
        assert not stale and index in self.checked_in and index not in self.decision
        self.decision[index] = {"id": result["screening_id"], "version": 1, "decision": decision}
        self._remember("decide", call, result)

    @precondition(lambda self: self.decision)
    @rule(data=st.data(), accept=st.booleans())
    def correct_decision(self, data, accept):
        index = data.draw(st.sampled_from(sorted(self.decision)))
        current = self.decision[index]
        key = _nonce()
        decision = "accepted" if accept else "deferred_temporary"

        def call():
            return screenings.correct_decision(
                db.session, screening_id=current["id"], staff_id=self.nurse_id, expected_version=current["version"],
                decision=decision, volume_ml=450 if accept else None,
                deferral_until=None if accept else self.today + dt.timedelta(days=60),
                reason="" if accept else "Hb thấp", override_reason="" if accept else "Đồng ý",
                correction_reason="Nhập nhầm", nonce=key, checks_reason="Máy đo Hb hỏng")

        try:
            result = call()
        except ScreeningError as error:
            assert error.code == "already_donated" and index in self.donation and not accept
            return
        current.update(version=result["version"], decision=decision)
        self._remember("correct_decision", call, result)

    @precondition(lambda self: self.decision)
    @rule(data=st.data())
    def void_decision(self, data):
        index = data.draw(st.sampled_from(sorted(self.decision)))
        current = self.decision[index]
        key = _nonce()

        def call():
            return screenings.void_decision(db.session, screening_id=current["id"], staff_id=self.nurse_id,
                                            expected_version=current["version"], reason="Nhầm người", nonce=key)

        try:
            result = call()
        except ScreeningError as error:
            assert error.code == "already_donated" and index in self.donation
            return
        del self.decision[index]
        self._remember("void_decision", call, result)

    @rule(index=st.integers(0, DONORS - 1), bag=st.sampled_from(BAGS),
          outcome=st.sampled_from(("completed", "completed", "incomplete")))
    def donate(self, index, bag, outcome):
        key = _nonce()

        def call():
            return record_donation(db.session, visit_id=self.visits[index][0], nurse_id=self.nurse_id, volume_ml=350,
                                   bag_number=bag, outcome=outcome, nonce=key)

        try:
            result = call()
        except DonationError as error:
            if index in self.donation:
                assert error.code == "already_donated"
            elif self.decision.get(index, {}).get("decision") != "accepted":
                assert error.code == "not_cleared"
            else:
                assert error.code == "bag_number_taken" and bag in self.bags_used
            return
        assert index not in self.donation and self.decision[index]["decision"] == "accepted"
        assert bag not in self.bags_used
        self.donation[index] = {"id": result["donation_id"], "version": result["version"], "bag": bag}
        self.bags_used.add(bag)
        self._remember("donate", call, result)

    @precondition(lambda self: self.donation)
    @rule(data=st.data(), volume=st.sampled_from((250, 350, 450)), outcome=st.sampled_from(("completed", "incomplete")))
    def correct_donation(self, data, volume, outcome):
        index = data.draw(st.sampled_from(sorted(self.donation)))
        current = self.donation[index]
        key = _nonce()

        def call():
            return correct_donation(db.session, donation_id=current["id"], staff_id=self.nurse_id,
                                    expected_version=current["version"], volume_ml=volume, bag_number=current["bag"],
                                    outcome=outcome, reaction="none", reaction_note="", reason="Sửa thể tích",
                                    nonce=key)

        result = call()
        current["version"] = result["version"]
        self._remember("correct_donation", call, result)

    @precondition(lambda self: self.donation)
    @rule(data=st.data())
    def void_donation(self, data):
        index = data.draw(st.sampled_from(sorted(self.donation)))
        current = self.donation.pop(index)
        key = _nonce()

        def call():
            return void_donation(db.session, donation_id=current["id"], staff_id=self.nurse_id,
                                 expected_version=current["version"], reason="Ghi nhầm", nonce=key)

        result = call()
        self._remember("void_donation", call, result)

    @precondition(lambda self: self.calls)
    @rule(data=st.data())
    def retry(self, data):
        """A request sent again with its nonce (a lost answer, a double tap): the first answer, nothing new."""
        description, call, first = data.draw(st.sampled_from(self.calls))
        again = call()
        assert {k: v for k, v in again.items() if k != "replayed"} == first, description
        if "replayed" in again:
            assert again["replayed"] is True, description

    # ----- after every step -----

    @invariant()
    def one_visit_per_donor_per_drive(self):
        doubles = db.session.execute(sa.select(Visit.donor_id, Visit.drive_id, sa.func.count()).group_by(
            Visit.donor_id, Visit.drive_id).having(sa.func.count() > 1)).all()
        assert doubles == []

    @invariant()
    def at_most_one_live_donation_per_visit(self):
        doubles = db.session.execute(sa.select(Donation.visit_id, sa.func.count()).where(Donation.voided.is_(False))
                                     .group_by(Donation.visit_id).having(sa.func.count() > 1)).all()
        assert doubles == []
        live = db.session.scalar(sa.select(sa.func.count()).select_from(Donation).where(Donation.voided.is_(False)))
        assert live == len(self.donation)

    @invariant()
    def queue_numbers_run_without_gaps(self):
        numbers = sorted(db.session.scalars(sa.select(Visit.queue_number).where(Visit.queue_number.is_not(None))))
        assert numbers == list(range(1, len(self.checked_in) + 1))

    @invariant()
    def statuses_agree_with_the_records(self):
        db.session.expire_all()
        for index, (visit_id, _token) in enumerate(self.visits):
            visit = db.session.get(Visit, visit_id)
            live_screenings = db.session.scalar(sa.select(sa.func.count()).select_from(Screening).where(
                Screening.visit_id == visit_id, Screening.voided.is_(False)))
            assert live_screenings == (1 if index in self.decision else 0)
            if index in self.donation:
                assert visit.status == VisitStatus.DONE
            elif index in self.decision:
                expected = VisitStatus.CLEARED if self.decision[index]["decision"] == "accepted" else VisitStatus.DEFERRED
                assert visit.status == expected
            elif index in self.checked_in:
                assert visit.status in (VisitStatus.CHECKED_IN, VisitStatus.IN_SCREENING)
            else:
                assert visit.status == VisitStatus.REGISTERED

    @invariant()
    def the_tally_equals_the_rows(self):
        assert tally.snapshot(db.session, self.drive_id) == tally.count_from_rows(db.session, self.drive_id)


@pytest.mark.slow
def test_donors_through_the_day_keep_every_invariant(migrated_template):
    DonorsThroughTheDay.template = migrated_template
    run_state_machine_as_test(DonorsThroughTheDay, settings=settings(
        max_examples=20, stateful_step_count=25, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
