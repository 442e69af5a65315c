"""Finding donors across drives, their history, and the last donation the interval counts from."""
import datetime as dt
import secrets

import sqlalchemy as sa

from kiosk.donor_search import donor_history, last_donation_for, next_eligible_date, search_donors
from kiosk.extensions import db
from kiosk.models import Department, Donation, Donor, Drive, DriveStatus, Site, Staff, Visit, VisitStatus
from kiosk.inputs import fold_diacritics


def _donor(full_name="Nguyễn Văn Hùng", id_number="001090000001", phone="0912345678", **extra) -> Donor:
    donor = Donor(full_name=full_name, name_search=fold_diacritics(full_name), date_of_birth=dt.date(1990, 5, 1),
                  sex="M", id_number=id_number, phone=phone, **extra)
    db.session.add(donor)
    db.session.flush()
    return donor


def test_a_name_is_found_with_or_without_diacritics(app_ctx):
    hung = _donor()
    _donor("Nguyễn Thị Hương", "001090000002", "0987654321")
    _donor("Trần Đức Hưng", "001090000003", "0311111111")
    db.session.commit()
    for query in ("nguyen van hung", "Nguyễn Văn Hùng", "NGUYEN VAN HUNG", "nguyen hung", "  van   hung "):
        assert [hit.id for hit in search_donors(db.session, query)] == [hung.id], query
    assert {h.full_name for h in search_donors(db.session, "nguyen")} == {"Nguyễn Văn Hùng", "Nguyễn Thị Hương"}
    assert [h.full_name for h in search_donors(db.session, "duc hung")] == ["Trần Đức Hưng"]  # đ folds to d
    assert search_donors(db.session, "%") == [] and search_donors(db.session, "") == []


def test_id_numbers_and_phones_are_found_by_their_first_digits(app_ctx):
    hung = _donor()
    db.session.commit()
    assert [h.id for h in search_donors(db.session, "001090000001")] == [hung.id]
    assert [h.id for h in search_donors(db.session, "0010900")] == [hung.id]
    assert [h.id for h in search_donors(db.session, "0912 345 678")] == [hung.id]
    assert [h.id for h in search_donors(db.session, "+84912345678")] == [hung.id]
    assert search_donors(db.session, "12") == []  # too short to mean anything


def test_full_width_digits_find_the_same_id_number_and_phone(app_ctx):
    # The kiosk and the roster read "００１…" as "001…"; the console's search found nobody.
    hung = _donor()
    db.session.commit()
    assert [h.id for h in search_donors(db.session, "００１０９００００００１")] == [hung.id]
    assert [h.id for h in search_donors(db.session, "０９１２ ３４５ ６７８")] == [hung.id]


def _drive(name: str, day: dt.date, status=DriveStatus.CLOSED) -> Drive:
    site = db.session.scalars(sa.select(Site)).first() or Site(code="HQ", name="Trụ sở")
    drive = Drive(name=name, drive_date=day, status=status, hospital="Bệnh viện 19-8", sites=[site])
    db.session.add(drive)
    db.session.flush()
    return drive


def _donation(drive: Drive, donor: Donor, nurse: Staff, volume=350, voided=False, outcome="completed") -> Donation:
    visit = Visit(drive_id=drive.id, donor_id=donor.id, token=secrets.token_urlsafe(24), status=VisitStatus.DONE,
                  site_id=drive.sites[0].id)
    db.session.add(visit)
    db.session.flush()
    donation = Donation(visit_id=visit.id, drive_id=drive.id, volume_ml=volume, bag_number=f"B{visit.id}",
                        outcome=outcome, nurse_id=nurse.id, voided=voided, nonce=secrets.token_urlsafe(16))
    db.session.add(donation)
    db.session.flush()
    return donation


def _nurse() -> Staff:
    nurse = Staff(username="yta2", display_name="Y tá", role="nurse", password_hash="x")
    db.session.add(nurse)
    db.session.flush()
    return nurse


def test_the_last_donation_comes_from_earlier_drives(app_ctx):
    nurse, donor = _nurse(), _donor(last_donation_date=dt.date(2024, 1, 10), last_donation_type="whole_blood")
    spring = _drive("Xuân 2025", dt.date(2025, 3, 1))
    autumn = _drive("Thu 2025", dt.date(2025, 9, 1))
    _donation(spring, donor, nurse)
    _donation(autumn, donor, nurse, voided=True)  # voided: not a donation
    db.session.commit()
    last = last_donation_for(db.session, donor, before=dt.date(2025, 12, 1))
    assert (last.date, last.type, last.source) == (dt.date(2025, 3, 1), "whole_blood", "record")
    assert next_eligible_date(last) == dt.date(2025, 3, 1) + dt.timedelta(days=84)
    # A drive's own donations are not "last" for that drive; the roster's date is used instead.
    last = last_donation_for(db.session, donor, before=dt.date(2025, 3, 1))
    assert (last.date, last.source) == (dt.date(2024, 1, 10), "roster")
    assert last_donation_for(db.session, _donor("Lê Lan", "001090000009", ""), dt.date(2026, 1, 1)) is None


def test_the_roster_date_wins_when_it_is_later(app_ctx):
    nurse, donor = _nurse(), _donor(last_donation_date=dt.date(2025, 6, 1), last_donation_type="platelets")
    _donation(_drive("Xuân 2025", dt.date(2025, 3, 1)), donor, nurse)
    db.session.commit()
    last = last_donation_for(db.session, donor, before=dt.date(2025, 7, 1))
    assert (last.date, last.type, last.source) == (dt.date(2025, 6, 1), "platelets", "roster")
    assert next_eligible_date(last) == dt.date(2025, 6, 15)


def test_history_lists_every_visit_newest_first(app_ctx):
    nurse = _nurse()
    donor = _donor(department=Department(name="Cục Cảnh sát giao thông"))
    _donation(_drive("Xuân 2025", dt.date(2025, 3, 1)), donor, nurse)
    _donation(_drive("Thu 2025", dt.date(2025, 9, 1)), donor, nurse, outcome="incomplete", volume=250)
    db.session.commit()
    history = donor_history(db.session, donor.id, today=dt.date(2026, 1, 1))
    assert [v.drive_name for v in history.visits] == ["Thu 2025", "Xuân 2025"]
    assert history.visits[0].donations[0].outcome == "incomplete"
    assert history.completed_donations == 1 and history.last_donation.date == dt.date(2025, 3, 1)
    assert history.department == "Cục Cảnh sát giao thông"
    assert donor_history(db.session, 99999, today=dt.date(2026, 1, 1)) is None


def test_an_incomplete_donation_starts_the_interval_only_when_set(app_ctx):
    """Issue 21, item 7: a half-filled bag was never a "last donation"; whether it starts the
    12 weeks is the collecting hospital's call (interval.incomplete_starts_interval, off by default)."""
    from kiosk.screening.rules import load_rules

    nurse, donor = _nurse(), _donor()
    _donation(_drive("Xuân 2025", dt.date(2025, 3, 1)), donor, nurse)
    _donation(_drive("Thu 2025", dt.date(2025, 9, 1)), donor, nurse, outcome="incomplete", volume=250)
    db.session.commit()
    before = dt.date(2025, 10, 1)
    assert last_donation_for(db.session, donor, before).date == dt.date(2025, 3, 1)
    counted = load_rules({"interval.incomplete_starts_interval": True}).interval
    assert last_donation_for(db.session, donor, before, counted).date == dt.date(2025, 9, 1)
    history = donor_history(db.session, donor.id, dt.date(2025, 10, 1), counted)
    assert history.next_eligible == dt.date(2025, 9, 1) + dt.timedelta(days=84)
