"""The live tally's read side: the counters the display shows always equal a count made
straight from the rows, whatever sequence of donations, retries, corrections and voids."""
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

from kiosk import tally
from kiosk.donations import DonationError, correct_donation, record_donation, void_donation
from kiosk.extensions import db
from kiosk.idempotency import NonceUsedElsewhere
from kiosk.models import Department, Donor, Drive, DriveStatus, Site, Staff, StaffRole, TallyCounter, Visit
from kiosk.queries.display import PRIVATE_FIGURES
from tests.conftest import make_app_on_copy
from tests.support.donations import check_in, ready_visits, record, screen


def test_snapshot_of_a_fresh_drive_lists_its_sites_with_zeros(drive_id):
    shown = tally.snapshot(db.session, drive_id)
    assert shown == tally.count_from_rows(db.session, drive_id)
    assert [site["code"] for site in shown["by_site"]] == ["CSCD", "XNC"]
    assert shown["bags"] == 0 and shown["target_bags"] == 200 and shown["by_department"] == []


def test_a_site_snapshot_counts_that_site_and_knows_the_drive_total(drive_id):
    xnc = ready_visits(db.session, 2, site_code="XNC")
    cscd = ready_visits(db.session, 1, site_code="CSCD")
    record(db.session, xnc[0], "B-1", volume=250)
    record(db.session, xnc[1], "B-2", volume=350)
    record(db.session, cscd[0], "B-3", volume=450)
    site_id = db.session.scalar(sa.select(Site.id).where(Site.code == "XNC"))
    shown = tally.snapshot(db.session, drive_id, site_id)
    assert shown == tally.count_from_rows(db.session, drive_id, site_id)
    assert (shown["bags"], shown["volume_ml"], shown["drive_bags"]) == (2, 600, 3)
    assert [site["code"] for site in shown["by_site"]] == ["XNC"]
    assert shown["equivalent_250"] == 2.4
    whole = tally.snapshot(db.session, drive_id)
    assert (whole["bags"], whole["volume_ml"], whole["equivalent_250"]) == (3, 1050, 4.2)
    assert {site["code"]: site["bags"] for site in whole["by_site"]} == {"XNC": 2, "CSCD": 1}


def test_departments_are_ranked_by_bags(drive_id):
    visits = ready_visits(db.session, 12)
    for number, visit_id in enumerate(visits):
        record(db.session, visit_id, f"B-{number}")
    shown = tally.snapshot(db.session, drive_id)
    bags = [department["bags"] for department in shown["by_department"]]
    assert bags == sorted(bags, reverse=True) and sum(bags) == 12
    assert all(department["name"] for department in shown["by_department"])


def test_deferred_donors_count_as_screened_and_deferred(drive_id):
    ready_visits(db.session, 2, decision="deferred_temporary")
    shown = tally.snapshot(db.session, drive_id)
    assert (shown["checked_in"], shown["screened"], shown["deferred"], shown["bags"]) == (2, 2, 2, 0)
    assert shown == tally.count_from_rows(db.session, drive_id)


def test_a_counter_out_of_step_with_the_rows_is_seen(drive_id):
    # The comparison can fail: a bag counted without a donation row shows as a difference.
    [visit_id] = ready_visits(db.session)
    record(db.session, visit_id, "B-1")
    tally.bump(db.session, drive_id, None, None, bags=1)
    db.session.commit()
    assert tally.snapshot(db.session, drive_id)["bags"] == 2
    assert tally.count_from_rows(db.session, drive_id)["bags"] == 1


def test_bump_refuses_an_unknown_counter(drive_id):
    with pytest.raises(ValueError):
        tally.bump(db.session, drive_id, None, None, litres=1)


def test_snapshot_of_an_unknown_drive(drive_id):
    with pytest.raises(LookupError):
        tally.snapshot(db.session, 999)


# --- The property: random sequences through kiosk.donations, checked after every step. ---

VISITS = 6
VOLUMES = (250, 350, 450, 120)
BAGS = tuple(f"B-{n:03d}" for n in range(1, 9))


def _new_nonce() -> str:
    return secrets.token_urlsafe(18)


class DonationSequences(RuleBasedStateMachine):
    """A small drive (two sites, two units and donors without one), six cleared donors; nurses
    record, retry, correct and void at random. A plain Python model says what should happen,
    and after each step the display's figures (the counters, and the poll's JSON) must equal
    a count from the rows."""

    template: Path  # or, on PostgreSQL, the template database's name

    def __init__(self):
        super().__init__()
        # In memory when the machine has it: forty databases with synchronous=FULL commits at
        # every step would spend most of the test waiting for the disk.
        memory = "/dev/shm" if Path("/dev/shm").is_dir() else None
        self.directory = Path(tempfile.mkdtemp(prefix="tally-", dir=memory))
        self.app = make_app_on_copy(self.template, self.directory)
        self.context = self.app.app_context()
        self.context.push()
        self.client = self.app.test_client()
        self._make_drive()
        self.live: dict[int, dict] = {}  # visit index -> the donation counting for it
        self.versions: dict[int, int] = {}  # donation id -> version
        self.voided: set[int] = set()
        self.bag_of: dict[int, str] = {}  # donation id -> its bag number, voided ones included
        self.receipts: dict[str, dict] = {}  # nonce -> the answer of its first, successful, call
        self.actions: dict[str, str] = {}  # nonce -> the action that wrote its receipt

    def _make_drive(self):
        session = db.session
        sites = [Site(code=code, name=f"Điểm {code}") for code in ("A", "B")]
        drive = Drive(name="Đợt thử", drive_date=dt.date.today(), target_bags=5, status=DriveStatus.OPEN, sites=sites)
        departments = [Department(name="Phòng Một"), Department(name="Phòng Hai")]
        session.add_all([drive, *departments])
        session.add(Staff(username="yta", display_name="Y tá", role=StaffRole.NURSE, password_hash="x"))
        session.flush()
        for number in range(VISITS):
            department = departments[number % 3] if number % 3 < 2 else None
            donor = Donor(full_name=f"Người Hiến {number}", name_search=f"nguoi hien {number}",
                          date_of_birth=dt.date(1990, 1, 1), sex="M", id_number=f"{number:012d}",
                          department_id=department.id if department else None)
            session.add(donor)
            session.flush()
            session.add(Visit(drive_id=drive.id, donor_id=donor.id, site_id=sites[number % 2].id,
                              token=secrets.token_urlsafe(24)))
        session.commit()
        self.drive_id = drive.id
        self.site_ids = [site.id for site in sites]
        self.visit_ids = list(session.scalars(sa.select(Visit.id).order_by(Visit.id)))
        for visit in session.scalars(sa.select(Visit).order_by(Visit.id)):
            check_in(session, visit)
            screen(session, visit)
        session.commit()
        self.nurse_id = session.scalar(sa.select(Staff.id))

    def teardown(self):
        db.session.remove()
        db.engine.dispose()
        self.context.pop()
        shutil.rmtree(self.directory, ignore_errors=True)

    @property
    def bags_used(self) -> set[str]:
        return set(self.bag_of.values())

    def _nonce(self, reuse: bool, data) -> str:
        if reuse and self.receipts:
            return data.draw(st.sampled_from(sorted(self.receipts)))
        return _new_nonce()

    def _replayed(self, key: str, result: dict, action: str) -> bool:
        if key in self.receipts:
            assert self.actions[key] == action  # a receipt answers only its own action
            assert result == self.receipts[key] | {"replayed": True}
            return True
        assert result["replayed"] is False
        self.receipts[key] = {k: v for k, v in result.items() if k != "replayed"}
        self.actions[key] = action
        return False

    def _refused_elsewhere(self, key: str, action: str) -> None:
        """Another action's nonce is refused (NonceUsedElsewhere), and changes nothing."""
        assert key in self.receipts and self.actions[key] != action

    @rule(visit=st.integers(0, VISITS - 1), volume=st.sampled_from(VOLUMES), bag=st.sampled_from(BAGS),
          outcome=st.sampled_from(("completed", "completed", "incomplete")), reuse=st.booleans(), data=st.data())
    def record(self, visit, volume, bag, outcome, reuse, data):
        key = self._nonce(reuse, data)
        try:
            result = record_donation(db.session, visit_id=self.visit_ids[visit], nurse_id=self.nurse_id,
                                     volume_ml=volume, bag_number=bag, outcome=outcome, nonce=key)
        except NonceUsedElsewhere:
            return self._refused_elsewhere(key, "record")
        except DonationError as error:
            expected = "already_donated" if visit in self.live else "bag_number_taken"
            assert key not in self.receipts and error.code == expected
            assert visit in self.live or bag in self.bags_used
            return
        if self._replayed(key, result, "record"):
            return
        assert visit not in self.live and bag not in self.bags_used
        self.live[visit] = {"id": result["donation_id"], "outcome": outcome, "volume": volume, "bag": bag}
        self.versions[result["donation_id"]] = result["version"]
        self.bag_of[result["donation_id"]] = bag

    @precondition(lambda self: self.versions)
    @rule(data=st.data(), volume=st.sampled_from(VOLUMES), new_bag=st.booleans(), bag=st.sampled_from(BAGS),
          outcome=st.sampled_from(("completed", "incomplete")), stale=st.sampled_from((0, 0, 0, -1, 1)),
          reuse=st.booleans())
    def correct(self, data, volume, new_bag, bag, outcome, stale, reuse):
        donation_id = data.draw(st.sampled_from(sorted(self.versions)))
        current = next((entry for entry in self.live.values() if entry["id"] == donation_id), None)
        key = self._nonce(reuse, data)
        bag = bag if new_bag or current is None else current["bag"]
        try:
            result = correct_donation(db.session, donation_id=donation_id, staff_id=self.nurse_id,
                                      expected_version=self.versions[donation_id] + stale, volume_ml=volume,
                                      bag_number=bag, outcome=outcome, reaction="none", reaction_note="",
                                      reason="Sửa lại", nonce=key)
        except NonceUsedElsewhere:
            return self._refused_elsewhere(key, "correct")
        except DonationError as error:
            assert key not in self.receipts
            if donation_id in self.voided:
                assert error.code == "not_found"
            elif stale:
                assert error.code == "version_conflict"
            else:
                assert error.code == "bag_number_taken" and bag in self.bags_used and bag != current["bag"]
            return
        if self._replayed(key, result, "correct"):
            return
        assert current is not None and not stale
        self.bag_of[donation_id] = bag
        current.update(outcome=outcome, volume=volume, bag=bag)
        self.versions[donation_id] = result["version"]

    @precondition(lambda self: self.versions)
    @rule(data=st.data(), stale=st.sampled_from((0, 0, 0, 1)), reuse=st.booleans())
    def void(self, data, stale, reuse):
        donation_id = data.draw(st.sampled_from(sorted(self.versions)))
        key = self._nonce(reuse, data)
        try:
            result = void_donation(db.session, donation_id=donation_id, staff_id=self.nurse_id,
                                   expected_version=self.versions[donation_id] + stale, reason="Hủy", nonce=key)
        except NonceUsedElsewhere:
            return self._refused_elsewhere(key, "void")
        except DonationError as error:
            assert key not in self.receipts
            assert error.code == ("not_found" if donation_id in self.voided else "version_conflict")
            return
        if self._replayed(key, result, "void"):
            return
        visit = next(index for index, entry in self.live.items() if entry["id"] == donation_id)
        del self.live[visit]
        self.voided.add(donation_id)
        self.versions[donation_id] = result["version"]

    @invariant()
    def display_equals_a_count_from_the_rows(self):
        counted = tally.count_from_rows(db.session, self.drive_id)
        assert tally.snapshot(db.session, self.drive_id) == counted
        polled = self.client.get("/display/data").get_json()
        public = {name: value for name, value in counted.items() if name not in PRIVATE_FIGURES}
        public["by_site"] = [{name: value for name, value in site.items() if name not in PRIVATE_FIGURES}
                             for site in counted["by_site"]]
        # less what a public screen must not show; with the units' arrival windows (none set here)
        assert polled == public | {"drive_id": self.drive_id, "arrivals": []}
        for site_id, site in zip(self.site_ids, counted["by_site"]):
            one_site = tally.snapshot(db.session, self.drive_id, site_id)
            assert one_site["by_site"] == [site]
            assert {name: one_site[name] for name in tally.SITE_FIGURES} == {name: site[name] for name in tally.SITE_FIGURES}
        # and the model: each donor's live donation counts once, as a bag or apart
        completed = [entry for entry in self.live.values() if entry["outcome"] == "completed"]
        assert counted["bags"] == len(completed) == counted["drive_bags"]
        assert counted["volume_ml"] == sum(entry["volume"] for entry in completed)
        assert counted["incomplete"] == len(self.live) - len(completed)
        unchanged = self.client.get(f"/display/data?drive={self.drive_id}&rev={counted['revision']}")
        assert unchanged.status_code == 204


@pytest.mark.slow
def test_display_figures_always_equal_a_count_from_the_rows(migrated_template):
    DonationSequences.template = migrated_template
    run_state_machine_as_test(DonationSequences, settings=settings(
        max_examples=40, stateful_step_count=12, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))


def test_counter_rows_are_few_whatever_the_number_of_donations(drive_id):
    for number, visit_id in enumerate(ready_visits(db.session, 30)):
        record(db.session, visit_id, f"B-{number}")
    rows = db.session.scalar(sa.select(sa.func.count()).select_from(TallyCounter))
    assert rows <= 2 * 6  # sites x departments, not one per donation
