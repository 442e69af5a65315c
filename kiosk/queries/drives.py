"""Which drive a screen works on: the open-drive look-up, written once.

A drive is "open" by its status; one drive is open at a site at a time (kiosk.drives refuses a
second), and where two could still match (the hall, or a drive's two days) the latest date wins,
then the latest drive. The kiosk, the nurse's pages, the displays and the display's idle poll
(kiosk.display_poll, before Flask) all ask through these conditions, so they agree."""
from __future__ import annotations

import datetime as dt
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.models import Drive, DriveStatus, Site, drive_site

IS_OPEN = Drive.status == DriveStatus.OPEN
LATEST_FIRST = (Drive.drive_date.desc(), Drive.id.desc())
# A drive held at the site :site_id (its drive_site row joined).
AT_SITE = drive_site.c.site_id == sa.bindparam("site_id")
# Open at :site_id on :today (the kiosk's drive: it checks in only on the drive's day).
_OPEN_TODAY_AT_SITE = (AT_SITE, IS_OPEN, Drive.drive_date == sa.bindparam("today"))

# The statements, built once.
TODAYS_DRIVE_ID = sa.select(Drive.id).join(drive_site).where(*_OPEN_TODAY_AT_SITE).limit(1)
TODAYS_DRIVE = sa.select(Drive).join(drive_site).where(*_OPEN_TODAY_AT_SITE).limit(1)
# The display's idle poll: the open drive's id and revision (the hall's, or a site's by its code).
OPEN_DRIVE_REVISION = (
    sa.select(Drive.id, Drive.revision, sa.null().label("site_id")).where(IS_OPEN).order_by(*LATEST_FIRST).limit(1)
)
OPEN_DRIVE_REVISION_AT_SITE = (
    sa.select(Drive.id, Drive.revision, Site.id.label("site_id")).join(drive_site, drive_site.c.drive_id == Drive.id)
    .join(Site, Site.id == drive_site.c.site_id)
    .where(Site.code == sa.bindparam("code"), IS_OPEN)
    .order_by(*LATEST_FIRST).limit(1)
)


def current_drive(session: Session) -> Optional[Drive]:
    """The open drive; else the next planned one; else the most recent."""
    for condition, order in (
        (IS_OPEN, LATEST_FIRST),
        (Drive.status == DriveStatus.PLANNED, (Drive.drive_date.asc(), Drive.id.desc())),
        (sa.true(), LATEST_FIRST),
    ):
        drive = session.scalars(sa.select(Drive).where(condition).order_by(*order).limit(1)).first()
        if drive is not None:
            return drive
    return None


def drive_at_site(session: Session, site: Site) -> Optional[Drive]:
    """The open drive at a site, else its next planned one."""
    at_site = sa.select(Drive).join(drive_site).where(AT_SITE)
    drive = session.scalars(at_site.where(IS_OPEN).order_by(*LATEST_FIRST).limit(1), {"site_id": site.id}).first()
    if drive is None:
        drive = session.scalars(at_site.where(Drive.status == DriveStatus.PLANNED)
                                .order_by(Drive.drive_date.asc(), Drive.id.desc()).limit(1), {"site_id": site.id}).first()
    return drive


def todays_drive_at(session: Session, site: Site, today: dt.date) -> Optional[Drive]:
    """The drive open at this site today, if any."""
    return session.scalars(TODAYS_DRIVE, {"site_id": site.id, "today": today}).first()


def todays_drive_id(session: Session, site: Site, today: dt.date) -> Optional[int]:
    """todays_drive_at's id only (one column: the kiosk's writes need no more)."""
    return session.execute(TODAYS_DRIVE_ID, {"site_id": site.id, "today": today}).scalar()
