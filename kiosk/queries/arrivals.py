"""Arrival windows as the screens read them: the drive's units with a window (the display, the
console), and per unit how many are expected, arrived, in screening and donated (the console)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.arrivals import Window, called_today, window_text
from kiosk.models import Department, Donation, DonationOutcome, Donor, Visit, VisitStatus

WAITING_FOR_SCREENING = (VisitStatus.CHECKED_IN, VisitStatus.IN_SCREENING)


def drive_windows(session: Session, drive_id: int, zone: ZoneInfo, today: dt.date,
                  site_id: Optional[int] = None) -> list[Window]:
    """The units with donors on this drive (at this site) and an arrival window, by start. Every
    changed display poll asks: a drive whose units have no window costs one small read."""
    rows = session.execute(sa.select(Department.id, Department.name, Department.arrival_start,
                                     Department.arrival_end, Department.called_at)
                           .where(Department.arrival_start.is_not(None))
                           .order_by(Department.arrival_start, Department.name)).all()
    if not rows:
        return []
    here = sa.select(Donor.department_id).join(Visit, Visit.donor_id == Donor.id).where(
        Visit.drive_id == drive_id, Donor.department_id.in_([row.id for row in rows]))
    if site_id is not None:
        here = here.where(Visit.site_id == site_id)
    with_donors = set(session.scalars(here.distinct()))
    return [Window(row.id, row.name, row.arrival_start, row.arrival_end, called_today(row.called_at, zone, today))
            for row in rows if row.id in with_donors]


@dataclass(frozen=True)
class UnitProgress:
    department_id: Optional[int]
    name: str
    window: str
    expected: int
    arrived: int
    in_screening: int
    donated: int


def unit_progress(session: Session, drive_id: int) -> list[UnitProgress]:
    """Per unit (department) of the drive: its window and how far its donors have come, by window."""
    completed = (sa.select(Donation.visit_id).where(Donation.drive_id == drive_id, Donation.voided.is_(False),
                                                    Donation.outcome == DonationOutcome.COMPLETED.value))
    rows = session.execute(
        sa.select(Department.id, Department.name, Department.arrival_start, Department.arrival_end,
                  sa.func.count(Visit.id).label("expected"),
                  sa.func.count(Visit.checked_in_at).label("arrived"),
                  sa.func.sum(sa.case((Visit.status.in_(WAITING_FOR_SCREENING), 1), else_=0)).label("in_screening"),
                  sa.func.sum(sa.case((Visit.id.in_(completed), 1), else_=0)).label("donated"))
        .select_from(Visit).join(Donor, Donor.id == Visit.donor_id)
        .outerjoin(Department, Department.id == Donor.department_id)
        .where(Visit.drive_id == drive_id)
        .group_by(Department.id, Department.name, Department.arrival_start, Department.arrival_end)).all()
    progress = [UnitProgress(row.id, row.name or "", window_text(row.arrival_start, row.arrival_end),
                             row.expected, row.arrived, int(row.in_screening or 0), int(row.donated or 0))
                for row in rows]
    return sorted(progress, key=lambda p: (p.window == "", p.window, p.name))
