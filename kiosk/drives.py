"""Looking up the drive a screen works on."""
from __future__ import annotations

from typing import Optional

import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import Drive, DriveStatus, Site, drive_site


def current_drive() -> Optional[Drive]:
    """The open drive; else the next planned one; else the most recent."""
    for condition, order in (
        (Drive.status == DriveStatus.OPEN, Drive.drive_date.desc()),
        (Drive.status == DriveStatus.PLANNED, Drive.drive_date.asc()),
        (sa.true(), Drive.drive_date.desc()),
    ):
        drive = db.session.scalars(sa.select(Drive).where(condition).order_by(order, Drive.id.desc()).limit(1)).first()
        if drive is not None:
            return drive
    return None


def site_by_code(code: str) -> Optional[Site]:
    return db.session.scalars(sa.select(Site).where(Site.code == code)).first()


def drive_at_site(site: Site) -> Optional[Drive]:
    """The open drive at a site, else its next planned one."""
    base = sa.select(Drive).join(drive_site).where(drive_site.c.site_id == site.id)
    drive = db.session.scalars(base.where(Drive.status == DriveStatus.OPEN).order_by(Drive.drive_date.desc())).first()
    if drive is None:
        drive = db.session.scalars(base.where(Drive.status == DriveStatus.PLANNED).order_by(Drive.drive_date)).first()
    return drive
