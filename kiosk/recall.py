"""Recall for the next drive: the donors of a drive (or of every drive) who may give again by a
chosen date, with their phone numbers, for the unit's SMS or Zalo, as a list, a CSV or an .xlsx.

"May give again" is the first day after the interval since the last donation (the rules' interval,
by the type last given; an incomplete donation only where the rules count it) and after any
temporary deferral; a donor deferred permanently is never recalled. Plain domain code (no Flask)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk import recognition
from kiosk.audit import record_audit
from kiosk.database import write_transaction
from kiosk.donor_search import RECORDED_DONATION_TYPE
from kiosk.exports import Export
from kiosk.models import (Decision, Department, Donation, DonationOutcome, Donor, Drive, DriveStatus, Screening,
                          Visit, drive_site, utcnow)
from kiosk.screening.rules import IntervalRule
from kiosk.tokens import new_pass_token

COLUMNS = ("Họ và tên", "Số điện thoại", "Đơn vị", "Nhóm máu", "Lần hiến gần nhất", "Được hiến lại từ",
           "Số lần hiến")


@dataclass(frozen=True)
class RecallRow:
    donor_id: int
    full_name: str
    phone: str
    department: str
    blood_group: str
    last_donation: Optional[dt.date]
    may_donate_from: Optional[dt.date]  # None: never donated nor deferred, any day
    count: int


class RecallExport(Export):
    """The recall list as a file: a drive's, or every drive's (drive_id 0)."""

    @property
    def title(self) -> str:
        return "Mời hiến máu lại"

    def filename(self, fmt: str, by: dt.date) -> str:
        scope = f"dot{self.drive_id}" if self.drive_id else "tat-ca"
        return f"moi-hien-lai-{by.isoformat()}-{scope}.{fmt}"


def _donors(session: Session, drive_id: Optional[int]):
    query = (sa.select(Donor, Department.name).outerjoin(Department, Donor.department_id == Department.id)
             .where(Donor.id.in_(sa.select(Visit.donor_id).where(Visit.drive_id == drive_id)
                                 if drive_id else sa.select(Visit.donor_id))))
    return session.execute(query.order_by(Donor.name_search, Donor.id)).all()


def _last_recorded(session: Session, counted: list[str], by: dt.date) -> dict[int, dt.date]:
    rows = session.execute(
        sa.select(Visit.donor_id, sa.func.max(Drive.drive_date)).select_from(Donation)
        .join(Visit, Donation.visit_id == Visit.id).join(Drive, Donation.drive_id == Drive.id)
        .where(Donation.outcome.in_(counted), Donation.voided.is_(False), Drive.drive_date <= by)
        .group_by(Visit.donor_id))
    return dict(rows.all())


def _deferrals(session: Session) -> tuple[dict[int, dt.date], set[int]]:
    """The latest temporary deferral's date by donor, and the donors deferred permanently."""
    until: dict[int, dt.date] = {}
    permanent: set[int] = set()
    rows = session.execute(sa.select(Visit.donor_id, Screening.decision, Screening.deferral_until)
                           .join(Visit, Screening.visit_id == Visit.id)
                           .where(Screening.voided.is_(False),
                                  Screening.decision.in_([Decision.DEFERRED_TEMPORARY.value,
                                                          Decision.DEFERRED_PERMANENT.value])))
    for donor_id, decision, day in rows:
        if decision == Decision.DEFERRED_PERMANENT.value:
            permanent.add(donor_id)
        elif day is not None and day > until.get(donor_id, dt.date.min):
            until[donor_id] = day
    return until, permanent


def recall_list(session: Session, drive_id: Optional[int], by: dt.date, interval: IntervalRule) -> list[RecallRow]:
    """The donors of drive `drive_id` (None: of every drive) who may give again on `by` or before,
    by name. A donor with no phone number is listed too: the unit can reach them otherwise."""
    counted = [DonationOutcome.COMPLETED.value]
    if interval.incomplete_starts_interval:
        counted.append(DonationOutcome.INCOMPLETE.value)
    donors = _donors(session, drive_id)
    recorded = _last_recorded(session, counted, by)
    deferred_until, permanent = _deferrals(session)
    counts = recognition.donation_counts(session, [donor for donor, _department in donors])
    rows = []
    for donor, department in donors:
        if donor.id in permanent:
            continue
        candidates = [(recorded[donor.id], RECORDED_DONATION_TYPE)] if donor.id in recorded else []
        if donor.last_donation_date is not None and donor.last_donation_date <= by:
            candidates.append((donor.last_donation_date, donor.last_donation_type or RECORDED_DONATION_TYPE))
        last, kind = max(candidates) if candidates else (None, None)
        dates = [deferred_until[donor.id]] if donor.id in deferred_until else []
        if last is not None:
            dates.append(last + dt.timedelta(days=interval.days.get(kind, interval.days[interval.unknown_type_as])))
        may_from = max(dates) if dates else None
        if may_from is None or may_from <= by:
            rows.append(RecallRow(donor.id, donor.full_name, donor.phone, department or "", donor.blood_group,
                                  last, may_from, counts[donor.id]))
    return rows


def recall_export(rows: list[RecallRow], drive_id: Optional[int]) -> RecallExport:
    return RecallExport("recall", drive_id or 0, COLUMNS,
                        [[r.full_name, r.phone, r.department, r.blood_group, r.last_donation, r.may_donate_from,
                          r.count] for r in rows])


class RecallError(ValueError):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code  # "not_found", "closed"


def carry_into_drive(session: Session, *, drive_id: int, donor_ids: list[int], staff_id: int,
                     source: str) -> int:
    """A new pass at drive `drive_id` for each of these donors who has none there yet, at their
    department's site (or the drive's only site), and commit; audited. Returns how many.
    `source`: what the list was ("drive 3 by 2027-03-01"), for the audit."""
    with write_transaction(session):
        drive = session.get(Drive, drive_id)
        if drive is None:
            raise RecallError("not_found")
        if drive.status == DriveStatus.CLOSED:
            raise RecallError("closed")
        has_pass = set(session.scalars(sa.select(Visit.donor_id).where(Visit.drive_id == drive.id)))
        sites = list(session.scalars(sa.select(drive_site.c.site_id).where(drive_site.c.drive_id == drive.id)))
        default_sites = dict(session.execute(sa.select(Department.id, Department.default_site_id)
                                             .where(Department.default_site_id.in_(sites))).all())
        only_site = sites[0] if len(sites) == 1 else None
        departments = dict(session.execute(sa.select(Donor.id, Donor.department_id)
                                           .where(Donor.id.in_(donor_ids))).all())
        now = utcnow()
        visits = [{"drive_id": drive.id, "donor_id": donor_id, "token": new_pass_token(), "status": "registered",
                   "registered_via": "roster", "site_id": default_sites.get(department_id, only_site),
                   "created_at": now, "version": 1}
                  for donor_id, department_id in departments.items() if donor_id not in has_pass]
        if visits:
            session.execute(sa.insert(Visit), visits)
        record_audit(session, "recall_carried", staff_id=staff_id, entity="drive", entity_id=drive.id,
                     drive_id=drive.id, new={"source": source, "passes": len(visits)})
    return len(visits)
