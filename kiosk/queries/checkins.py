"""What the kiosk tablet and the donor's phone show: the donor a kiosk session asks "is this you?"
about, the ticket, and the pass page a link names. The writes are kiosk.checkin's."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.checkin import answered_today
from kiosk.models import Drive, DriveStatus, KioskSession, Site, Visit
from kiosk.tokens import TOKEN_PATTERN


def kiosk_session(session: Session, kiosk_session_id: str) -> Optional[KioskSession]:
    """The kiosk session a scan, a look-up or a walk-in has just opened: its visit's donor is who
    "is this you?" shows."""
    return session.get(KioskSession, kiosk_session_id)


@dataclass(frozen=True)
class Ticket:
    visit: Visit
    drive: Drive


def ticket(session: Session, visit_id: int) -> Ticket:
    """What the ticket shows once a donor has checked in: the visit (its queue number, its pass)
    and its drive."""
    visit = session.get(Visit, visit_id)
    return Ticket(visit, session.get(Drive, visit.drive_id))


def visit_for_pass(session: Session, token: str) -> Optional[Visit]:
    """The visit a pass link (/p/<token>) is for; None for a token no pass could have."""
    if not TOKEN_PATTERN.match(token):
        return None
    return session.scalars(sa.select(Visit).where(Visit.token == token)).first()


def is_drive_day(drive: Drive, today: dt.date) -> bool:
    """The pass's drive is open today: the questionnaire may be answered on the phone."""
    return drive.drive_date == today and drive.status == DriveStatus.OPEN


@dataclass(frozen=True)
class PassPage:
    drive: Drive
    site: Optional[Site]  # where the donor is expected: the visit's site, else the drive's first
    is_drive_day: bool
    answered: bool  # the questionnaire was answered today


def pass_page(session: Session, visit: Visit, today: dt.date, today_start_utc: dt.datetime) -> PassPage:
    """What the donor's pass page shows besides the pass itself."""
    drive = visit.drive
    site = visit.site or (drive.sites[0] if drive.sites else None)
    return PassPage(drive, site, is_drive_day(drive, today), answered_today(session, visit, today_start_utc))
