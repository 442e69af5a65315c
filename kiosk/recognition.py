"""Repeat donors: each donor's count of donations, the donors who reach a recognition threshold
at a drive, and the on-call list by blood group ("ngân hàng máu sống").

A donor's count is what the roster said they gave before the app (Donor.prior_donations, the
roster's "Số lần hiến") plus the completed, not voided donations the app recorded. Plain domain
code (no Flask): the thresholds are passed in from the app's configuration."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.donor_search import donor_history
from kiosk.screening.rules import IntervalRule
from kiosk.models import Decision, Department, Donation, DonationOutcome, Donor, Screening, Visit

# One provincial rule under QĐ 122/QĐ-BCĐQG; provinces set their own (a drive's recognition_steps).
DEFAULT_THRESHOLDS = (5, 10, 15, 20, 30, 40, 50, 70, 100)
# The ABO groups in the order a blood bank calls them, within each Rh group.
ABO_ORDER = ("O", "A", "B", "AB")


def thresholds_from(setting: object) -> tuple[int, ...]:
    """The configured thresholds, sorted: a sequence of numbers or a string "5,10,20"; the
    defaults when unset or unreadable."""
    if isinstance(setting, str):
        parts: Iterable[object] = setting.replace(";", ",").split(",")
    elif isinstance(setting, (list, tuple)):
        parts = setting
    else:
        return DEFAULT_THRESHOLDS
    try:
        values = sorted({int(str(p).strip()) for p in parts if str(p).strip()})
    except ValueError:
        return DEFAULT_THRESHOLDS
    return tuple(v for v in values if v > 0) or DEFAULT_THRESHOLDS


def _recorded(session: Session, donor_ids: Optional[Sequence[int]] = None) -> dict[int, int]:
    query = (sa.select(Visit.donor_id, sa.func.count(Donation.id))
             .join(Donation, Donation.visit_id == Visit.id)
             .where(Donation.outcome == DonationOutcome.COMPLETED.value, Donation.voided.is_(False))
             .group_by(Visit.donor_id))
    if donor_ids is not None:
        query = query.where(Visit.donor_id.in_(list(donor_ids)))
    return {donor_id: count for donor_id, count in session.execute(query)}


def recorded_donation_counts(session: Session, donor_ids: Sequence[int]) -> dict[int, int]:
    """Completed donations the app has recorded, by donor (not the roster's count before it)."""
    return _recorded(session, donor_ids)


def donation_counts(session: Session, donors: Sequence[Donor]) -> dict[int, int]:
    """Times donated, by donor: before the app (the roster's count) and recorded since."""
    recorded = _recorded(session, [donor.id for donor in donors])
    return {donor.id: (donor.prior_donations or 0) + recorded.get(donor.id, 0) for donor in donors}


def donation_count(session: Session, donor: Donor) -> int:
    """Times donated: before the app (the roster's count) and recorded since."""
    return (donor.prior_donations or 0) + _recorded(session, [donor.id]).get(donor.id, 0)


@dataclass(frozen=True)
class Recognition:
    donor_id: int
    full_name: str
    department: str
    phone: str
    blood_group: str
    count: int  # after this drive's donation
    threshold: int  # the threshold reached at this drive


def reached_at_drive(session: Session, drive_id: int, thresholds: Sequence[int]) -> list[Recognition]:
    """The donors whose completed donation at this drive took their count to (or past) a
    threshold they had not reached before it; the highest such threshold, by name."""
    thresholds = sorted(thresholds)
    here = (sa.select(Visit.donor_id, sa.func.count(Donation.id).label("here"))
            .join(Donation, Donation.visit_id == Visit.id)
            .where(Donation.drive_id == drive_id, Donation.outcome == DonationOutcome.COMPLETED.value,
                   Donation.voided.is_(False))
            .group_by(Visit.donor_id)).subquery()
    rows = session.execute(sa.select(Donor, Department.name, here.c.here)
                           .join(here, here.c.donor_id == Donor.id)
                           .outerjoin(Department, Donor.department_id == Department.id)
                           .order_by(Donor.name_search, Donor.id)).all()
    recorded = _recorded(session, [donor.id for donor, _d, _h in rows])
    found = []
    for donor, department, at_drive in rows:
        after = (donor.prior_donations or 0) + recorded.get(donor.id, 0)
        before = after - at_drive
        reached = [t for t in thresholds if before < t <= after]
        if reached:
            found.append(Recognition(donor.id, donor.full_name, department or "", donor.phone,
                                     donor.blood_group, after, reached[-1]))
    return found


def is_rh_negative(blood_group: str) -> bool:
    return (blood_group or "").strip().endswith("-")


def blood_group_order(blood_group: str) -> tuple[int, int, str]:
    """Rh-negative first, then O, A, B, AB."""
    group = (blood_group or "").strip().upper()
    abo = group.rstrip("+-")
    return (0 if is_rh_negative(group) else 1, ABO_ORDER.index(abo) if abo in ABO_ORDER else len(ABO_ORDER),
            group)


@dataclass(frozen=True)
class OnCallDonor:
    donor_id: int
    blood_group: str
    full_name: str
    phone: str
    department: str
    count: int


def on_call(session: Session, drive_id: int) -> list[OnCallDonor]:
    """The drive's donors with a known blood group, to call when blood is short: by blood group,
    Rh-negative first, then by name. A donor deferred permanently at this drive is left out."""
    deferred = (sa.select(Visit.donor_id).join(Screening, Screening.visit_id == Visit.id)
                .where(Visit.drive_id == drive_id, Screening.voided.is_(False),
                       Screening.decision == Decision.DEFERRED_PERMANENT.value))
    rows = session.execute(
        sa.select(Donor, Department.name).join(Visit, Visit.donor_id == Donor.id)
        .outerjoin(Department, Donor.department_id == Department.id)
        .where(Visit.drive_id == drive_id, Donor.blood_group != "", Donor.id.not_in(deferred))
        .distinct()).all()
    recorded = _recorded(session, [donor.id for donor, _d in rows])
    donors = [OnCallDonor(donor.id, donor.blood_group, donor.full_name, donor.phone, department or "",
                          (donor.prior_donations or 0) + recorded.get(donor.id, 0)) for donor, department in rows]
    return sorted(donors, key=lambda d: (blood_group_order(d.blood_group), d.full_name, d.donor_id))


# ----- the donor's own page (issue 21, item 8) -----

@dataclass(frozen=True)
class OwnDonation:
    day: dt.date  # the drive's date
    volume_ml: int
    drive_name: str


@dataclass(frozen=True)
class OwnRecord:
    """What the donor's pass page shows the donor: no health detail (no answer, no reason, no vitals)."""
    donations: list[OwnDonation]  # completed, not voided, newest first
    may_donate_from: Optional[dt.date]  # the first day the donor may give again; None: any day
    count: int  # the roster's count before the app, plus the donations recorded
    next_step: Optional[int]  # the next recognition step, None past the last


def own_record(session: Session, donor_id: int, today: dt.date, thresholds: Sequence[int],
               interval: Optional[IntervalRule] = None) -> OwnRecord:
    """The donor's donations (date, volume, drive), the day they may give again (the interval, or a
    temporary deferral's date, whichever is later; a date already past is no date), their count and
    the next recognition step."""
    history = donor_history(session, donor_id, today, interval)
    donations = [OwnDonation(visit.drive_date, donation.volume_ml, visit.drive_name)
                 for visit in history.visits for donation in visit.donations
                 if donation.outcome == DonationOutcome.COMPLETED and not donation.voided]
    deferred_to = [s.deferral_until for visit in history.visits for s in visit.screenings
                   if not s.voided and s.decision == Decision.DEFERRED_TEMPORARY.value and s.deferral_until]
    dates = [day for day in [history.next_eligible, *deferred_to] if day is not None and day > today]
    count = (history.donor.prior_donations or 0) + history.completed_donations
    return OwnRecord(donations=donations, may_donate_from=max(dates) if dates else None, count=count,
                     next_step=next((step for step in sorted(thresholds) if step > count), None))


def recognition_steps(drive=None, setting: object = None) -> tuple[int, ...]:
    """The recognition steps that apply: the drive's own (Drive.recognition_steps, as its province
    or campaign sets them), else the instance's setting (RECOGNITION_THRESHOLDS), else the default."""
    own = getattr(drive, "recognition_steps", "") or ""
    if own.strip():
        return thresholds_from(own)
    return thresholds_from(setting)
