"""What the pages about passes show: how many passes a drive holds (by site, by department, in
all), and one donor's pass. The sheets themselves are read by kiosk.passes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.models import Department, Donor, Drive, Site, Visit


@dataclass(frozen=True)
class PassCounts:
    """A drive's passes, in the piles the console prints them in."""
    by_site: list[tuple[Site, int]]  # sites with passes, by code
    by_department: list[tuple[Department, int]]  # departments with passes, by name
    total: int


def pass_counts(session: Session, drive_id: int) -> PassCounts:
    by_site = session.execute(
        sa.select(Site, sa.func.count(Visit.id)).join(Visit, Visit.site_id == Site.id)
        .where(Visit.drive_id == drive_id).group_by(Site.id).order_by(Site.code)).all()
    by_department = session.execute(
        sa.select(Department, sa.func.count(Visit.id)).join(Donor, Donor.department_id == Department.id)
        .join(Visit, Visit.donor_id == Donor.id).where(Visit.drive_id == drive_id)
        .group_by(Department.id).order_by(Department.name)).all()
    total = session.scalar(sa.select(sa.func.count(Visit.id)).where(Visit.drive_id == drive_id))
    return PassCounts(by_site, by_department, total)


def pass_of_visit(session: Session, visit_id: int) -> Optional[tuple[Visit, Donor, Drive]]:
    """A visit with its donor and drive, for the donor's own pass; None if there is no such visit."""
    row = session.execute(
        sa.select(Visit, Donor, Drive).join(Donor, Visit.donor_id == Donor.id).join(Drive, Visit.drive_id == Drive.id)
        .where(Visit.id == visit_id)).first()
    return None if row is None else (row[0], row[1], row[2])
