"""The console's lists: drives with their passes, sites, departments' donors and staff accounts
(the writes are in kiosk.drives, kiosk.organisation and kiosk.auth)."""
from __future__ import annotations

from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.models import Donor, Drive, Site, Staff, Visit, drive_site

NAV_DRIVES = 8  # the console's menu lists the latest drives only


def recent_drives(session: Session, limit: int = NAV_DRIVES) -> list[Drive]:
    """The latest drives first, for the console's menu."""
    return list(session.scalars(sa.select(Drive).order_by(Drive.drive_date.desc(), Drive.id.desc()).limit(limit)))


def drives_with_pass_counts(session: Session) -> list[tuple[Drive, int]]:
    """Every drive, latest first, with the number of passes (visits) it holds."""
    return session.execute(
        sa.select(Drive, sa.func.count(Visit.id)).outerjoin(Visit, Visit.drive_id == Drive.id)
        .group_by(Drive.id).order_by(Drive.drive_date.desc(), Drive.id.desc())).all()


def all_sites(session: Session) -> list[Site]:
    """Every site, by code: the lists a form chooses sites from."""
    return list(session.scalars(sa.select(Site).order_by(Site.code)))


def sites_with_drive_counts(session: Session) -> list[tuple[Site, int]]:
    """Every site, by code, with the number of drives held there."""
    return session.execute(
        sa.select(Site, sa.func.count(drive_site.c.drive_id)).outerjoin(drive_site, drive_site.c.site_id == Site.id)
        .group_by(Site.id).order_by(Site.code)).all()


def donors_by_department(session: Session) -> dict[Optional[int], int]:
    """How many donors each department has (None: donors of no department)."""
    return dict(session.execute(sa.select(Donor.department_id, sa.func.count(Donor.id))
                                .group_by(Donor.department_id)).all())


def staff_members(session: Session) -> list[Staff]:
    """Every account, the active ones first, then by role and username."""
    return list(session.scalars(sa.select(Staff).order_by(Staff.active.desc(), Staff.role, Staff.username)))
