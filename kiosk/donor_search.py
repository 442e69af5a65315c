"""Finding donors across drives, and a donor's history of visits, screenings and donations.

Plain module: no Flask. The organiser's console searches and shows the history; the nurse
page asks `last_donation_for` what the 12-week interval should count from."""
from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass, field
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.models import Department, Donation, DonationOutcome, Donor, Drive, Screening, Site, Visit
from kiosk.inputs import fold_diacritics, phone_digits
from kiosk.screening.rules import IntervalRule, load_rules

SEARCH_LIMIT = 50
# Days before the next donation, by the type last donated (TT 26/2013 Art. 6). Shown in the
# history as a hint; the nurse page's rules engine, with the hospital's own figures, decides.
# Every donation recorded by this app is whole blood: the drive's bags are 250/350/450 ml.
RECORDED_DONATION_TYPE = "whole_blood"


@dataclass(frozen=True)
class DonorHit:
    id: int
    full_name: str
    date_of_birth: dt.date
    id_number: str
    phone: str
    department: str
    visits: int


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_donors(session: Session, query: str, limit: int = SEARCH_LIMIT) -> list[DonorHit]:
    """By name (with or without diacritics, every word must appear), ID number, phone, or the
    serial number of an official certificate recorded on one of the donor's donations.

    A query of digits matches the start of an ID number or a phone number; anything else is
    a name: "nguyen hung" finds "Nguyễn Văn Hùng". Either way a certificate serial matches
    exactly (ignoring case)."""
    query = " ".join(unicodedata.normalize("NFKC", query).split())  # full-width digits are digits
    if not query:
        return []
    statement = (
        sa.select(Donor, Department.name, sa.func.count(Visit.id))
        .outerjoin(Department, Donor.department_id == Department.id)
        .outerjoin(Visit, Visit.donor_id == Donor.id)
        .group_by(Donor.id, Department.name)
        .order_by(Donor.name_search, Donor.id)
        .limit(limit)
    )
    by_serial = Donor.id.in_(sa.select(Visit.donor_id).join(Donation, Donation.visit_id == Visit.id)
                             .where(Donation.certificate_serial == query.upper()))
    digits = phone_digits(query)
    if digits.isascii() and digits.isdigit():
        if len(digits) < 3:
            return []
        pattern = _like_escape(digits) + "%"
        statement = statement.where(sa.or_(Donor.id_number.like(pattern, escape="\\"),
                                           Donor.phone.like(pattern, escape="\\"), by_serial))
    else:
        words = fold_diacritics(query).split()
        statement = statement.where(sa.or_(
            sa.and_(*(Donor.name_search.like(f"%{_like_escape(word)}%", escape="\\") for word in words)),
            by_serial))
    return [DonorHit(donor.id, donor.full_name, donor.date_of_birth, donor.id_number, donor.phone,
                     department or "", visits)
            for donor, department, visits in session.execute(statement)]


@dataclass(frozen=True)
class LastDonation:
    date: dt.date
    type: str
    source: str  # "record": a donation recorded at a drive here; "roster": what the roster said


def last_donation_for(session: Session, donor: Donor, before: dt.date,
                      interval: Optional[IntervalRule] = None) -> Optional[LastDonation]:
    """The donor's latest donation before `before` (a drive's date), for the interval rule; the
    one function that says what "last donation" means (the donor's history, the nurse's desk).

    A completed, not voided donation recorded at an earlier drive counts, as does the date
    the roster gave (Donor.last_donation_date); the later of the two wins. Donations at the
    drive of `before` itself are not "last": they are today's. An incomplete donation (the bag
    not filled) counts only where the rules say so (interval.incomplete_starts_interval, off by
    default: the collecting hospital's call)."""
    counted = [DonationOutcome.COMPLETED.value]
    if (interval or load_rules().interval).incomplete_starts_interval:
        counted.append(DonationOutcome.INCOMPLETE.value)
    recorded = session.execute(
        sa.select(Drive.drive_date)
        .select_from(Donation)
        .join(Visit, Donation.visit_id == Visit.id)
        .join(Drive, Donation.drive_id == Drive.id)
        .where(Visit.donor_id == donor.id, Donation.outcome.in_(counted), Donation.voided.is_(False),
               Drive.drive_date < before)
        .order_by(Drive.drive_date.desc())
        .limit(1)
    ).scalar()
    candidates = []
    if recorded is not None:
        candidates.append(LastDonation(recorded, RECORDED_DONATION_TYPE, "record"))
    if donor.last_donation_date is not None and donor.last_donation_date < before:
        candidates.append(LastDonation(donor.last_donation_date, donor.last_donation_type or "whole_blood", "roster"))
    if not candidates:
        return None
    # The later date wins; on the same day, our own record is the better source.
    return max(candidates, key=lambda c: (c.date, c.source == "record"))


def next_eligible_date(last: Optional[LastDonation], interval: Optional[IntervalRule] = None) -> Optional[dt.date]:
    """The first day the donor may give again, by the interval rule (the default rules' when none is given)."""
    if last is None:
        return None
    interval = interval or load_rules().interval
    days = interval.days.get(last.type, interval.days[interval.unknown_type_as])
    return last.date + dt.timedelta(days=days)


@dataclass(frozen=True)
class ScreeningEntry:
    id: int
    decision: str
    volume_ml: Optional[int]
    deferral_until: Optional[dt.date]
    at: dt.datetime
    voided: bool


@dataclass(frozen=True)
class DonationEntry:
    id: int
    volume_ml: int
    bag_number: str
    outcome: str
    reaction: str
    at: dt.datetime
    voided: bool
    certificate_serial: str = ""  # the official certificate's serial, when recorded


@dataclass
class VisitEntry:
    visit_id: int
    drive_id: int
    drive_name: str
    drive_date: dt.date
    site: str
    status: str
    registered_via: str
    checked_in_at: Optional[dt.datetime]
    screenings: list[ScreeningEntry] = field(default_factory=list)
    donations: list[DonationEntry] = field(default_factory=list)


@dataclass
class DonorHistory:
    donor: Donor
    department: str
    visits: list[VisitEntry]
    last_donation: Optional[LastDonation]
    next_eligible: Optional[dt.date]
    completed_donations: int


def donor_history(session: Session, donor_id: int, today: dt.date,
                  interval: Optional[IntervalRule] = None) -> Optional[DonorHistory]:
    """Every visit of the donor, newest drive first, with its screenings and donations.

    Health details (vitals, answers, reasons) are not part of it: the organiser sees what was
    decided and given, the nurse page shows why."""
    donor = session.get(Donor, donor_id)
    if donor is None:
        return None
    rows = session.execute(
        sa.select(Visit, Drive, Site.name)
        .join(Drive, Visit.drive_id == Drive.id)
        .outerjoin(Site, Visit.site_id == Site.id)
        .where(Visit.donor_id == donor_id)
        .order_by(Drive.drive_date.desc(), Visit.id.desc())
    ).all()
    visits: dict[int, VisitEntry] = {}
    for visit, drive, site_name in rows:
        visits[visit.id] = VisitEntry(visit.id, drive.id, drive.name, drive.drive_date, site_name or "",
                                      visit.status.value, visit.registered_via, visit.checked_in_at)
    if visits:
        for screening in session.scalars(sa.select(Screening).where(Screening.visit_id.in_(visits))
                                         .order_by(Screening.created_at, Screening.id)):
            visits[screening.visit_id].screenings.append(ScreeningEntry(
                screening.id, screening.decision, screening.volume_ml, screening.deferral_until,
                screening.created_at, screening.voided))
        for donation in session.scalars(sa.select(Donation).where(Donation.visit_id.in_(visits))
                                        .order_by(Donation.created_at, Donation.id)):
            visits[donation.visit_id].donations.append(DonationEntry(
                donation.id, donation.volume_ml, donation.bag_number, donation.outcome, donation.reaction,
                donation.created_at, donation.voided, donation.certificate_serial or ""))
    # "Before tomorrow": today's donation, once recorded, is the last one for the next drive.
    last = last_donation_for(session, donor, today + dt.timedelta(days=1), interval)
    completed = sum(1 for v in visits.values() for d in v.donations if d.outcome == DonationOutcome.COMPLETED and not d.voided)
    department = donor.department.name if donor.department else ""
    return DonorHistory(donor, department, list(visits.values()), last, next_eligible_date(last, interval), completed)
