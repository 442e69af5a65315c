"""Who did what, as the console reads it from the audit log: the sign-in and staff activity page,
and a drive's own log, each a page at a time, newest first (the entries are written by
kiosk.audit)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional, Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.orm import Session

from kiosk.models import AuditLog, Staff

AUDIT_PAGE_SIZE = 50


def day_start_utc(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """Midnight of a local day, as the naive UTC the log stores."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=zone).astimezone(dt.timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditLog]
    total: int  # entries matching the filter
    page: int
    pages: int


def _page_within(page: int, total: int, size: int) -> tuple[int, int]:
    """The page to show (a page past the last shows the last) and the number of pages."""
    pages = max(1, -(-total // size))
    return min(max(1, page), pages), pages


# ---------------------------------------------------------------- sign-ins and staff activity

@dataclass(frozen=True)
class ActivityFilter:
    """What the activity page narrows to: an action, a person, a window of time (as UTC)."""
    action: str = ""
    person: Optional[int] = None  # entries by the person, and sign-in attempts at their account
    since: Optional[dt.datetime] = None
    until: Optional[dt.datetime] = None


@dataclass(frozen=True)
class StaffActivity:
    found: AuditPage
    people: list[Staff]  # every account, to filter by


def staff_activity(session: Session, actions: Sequence[str], chosen: ActivityFilter, page: int = 1,
                   size: int = AUDIT_PAGE_SIZE) -> StaffActivity:
    """The entries of these actions that match the filter, a page of them, and everyone to filter by."""
    query = sa.select(AuditLog).where(AuditLog.action.in_(actions))
    if chosen.action:
        query = query.where(AuditLog.action == chosen.action)
    if chosen.person:
        query = query.where(sa.or_(AuditLog.staff_id == chosen.person,
                                   sa.and_(AuditLog.entity == "staff", AuditLog.entity_id == chosen.person)))
    if chosen.since:
        query = query.where(AuditLog.at >= chosen.since)
    if chosen.until:
        query = query.where(AuditLog.at < chosen.until)
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    page, pages = _page_within(page, total, size)
    entries = list(session.scalars(query.order_by(AuditLog.at.desc(), AuditLog.id.desc())
                                   .offset((page - 1) * size).limit(size)))
    people = list(session.scalars(sa.select(Staff).order_by(Staff.username)))
    return StaffActivity(AuditPage(entries, total, page, pages), people)


# ---------------------------------------------------------------- a drive's log

@dataclass(frozen=True)
class AuditFilter:
    """What the console's audit page narrows to: an action, a staff member or a device (never a
    donor: the filters travel in URLs), and a window of time (a local day, as UTC)."""
    action: str = ""
    staff_id: Optional[int] = None
    device: str = ""  # AuditLog.actor of an entry without staff, e.g. "kiosk:XNC"
    since: Optional[dt.datetime] = None
    until: Optional[dt.datetime] = None


@dataclass(frozen=True)
class DriveLog:
    found: AuditPage
    size: int  # every entry of the drive, whatever the filter


def _filtered(query, drive_id: int, chosen: AuditFilter):
    query = query.where(AuditLog.drive_id == drive_id)
    if chosen.action:
        query = query.where(AuditLog.action == chosen.action)
    if chosen.staff_id is not None:
        query = query.where(AuditLog.staff_id == chosen.staff_id)
    if chosen.device:
        query = query.where(AuditLog.staff_id.is_(None), AuditLog.actor == chosen.device)
    if chosen.since is not None:
        query = query.where(AuditLog.at >= chosen.since)
    if chosen.until is not None:
        query = query.where(AuditLog.at < chosen.until)
    return query


def audit_page(session: Session, drive_id: int, chosen: AuditFilter, page: int = 1,
               size: int = AUDIT_PAGE_SIZE) -> AuditPage:
    """The drive's entries that match the filter, newest first; a page past the last shows the last."""
    total = session.scalar(_filtered(sa.select(sa.func.count(AuditLog.id)), drive_id, chosen)) or 0
    page, pages = _page_within(page, total, size)
    entries = list(session.scalars(
        _filtered(sa.select(AuditLog), drive_id, chosen)
        .options(so.joinedload(AuditLog.staff))
        .order_by(AuditLog.at.desc(), AuditLog.id.desc()).offset((page - 1) * size).limit(size)))
    return AuditPage(entries, total, page, pages)


def drive_log(session: Session, drive_id: int, chosen: AuditFilter, page: int = 1) -> DriveLog:
    """What the drive's audit page shows: a page of the entries that match, and how many it has in all."""
    found = audit_page(session, drive_id, chosen, page)
    size = session.scalar(sa.select(sa.func.count(AuditLog.id)).where(AuditLog.drive_id == drive_id))
    return DriveLog(found, size)


def audit_choices(session: Session, drive_id: int) -> tuple[list[str], list[Staff], list[str]]:
    """What the drive's log holds to filter by: its actions, its staff and its devices."""
    actions = list(session.scalars(sa.select(AuditLog.action).where(AuditLog.drive_id == drive_id)
                                   .distinct().order_by(AuditLog.action)))
    staff = list(session.scalars(sa.select(Staff).where(Staff.id.in_(
        sa.select(AuditLog.staff_id).where(AuditLog.drive_id == drive_id, AuditLog.staff_id.is_not(None))))
        .order_by(Staff.display_name)))
    devices = list(session.scalars(sa.select(AuditLog.actor).where(
        AuditLog.drive_id == drive_id, AuditLog.staff_id.is_(None), AuditLog.actor != "")
        .distinct().order_by(AuditLog.actor)))
    return actions, staff, devices
