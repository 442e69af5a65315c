"""Drives: looking up the drive a screen works on, and creating and editing one (the console's
writes, as domain functions: each checks, applies, audits and commits, or raises DriveError
with a machine-readable code that the views translate)."""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session, scoped_session

from kiosk.database import write_transaction
from kiosk.errors import DomainError
from kiosk import tally
from kiosk.checkin.walk_ins import remove_unverified_walk_ins
from kiosk.audit import changed_fields, fingerprint, record_audit, record_changes
from kiosk.extensions import db
from kiosk.letters import DEFAULT_SALUTATION, SALUTATIONS
from kiosk.models import Drive, DriveStatus, Site, drive_site
from kiosk.queries import drives as drives_query

ERROR_CODES = ("not_found", "changed_meanwhile", "open_elsewhere", "reason_required", "date_out_of_range")
# The years a drive may be dated: 31/12/9999 is a date to Python, but a drive then has no "next
# donation" (its date + 84 days overflows) and every screen that computes one would fail.
DRIVE_YEARS = range(2000, 2101)


class DriveError(DomainError):
    CODES = ERROR_CODES


def current_drive(session: Optional[Session | scoped_session] = None) -> Optional[Drive]:
    """The open drive; else the next planned one; else the most recent (kiosk.queries.drives)."""
    return drives_query.current_drive(db.session if session is None else session)


def site_by_code(code: str) -> Optional[Site]:
    return db.session.scalars(sa.select(Site).where(Site.code == code)).first()


def drive_at_site(site: Site, session: Optional[Session | scoped_session] = None) -> Optional[Drive]:
    """The open drive at a site, else its next planned one (kiosk.queries.drives)."""
    return drives_query.drive_at_site(db.session if session is None else session, site)


def drive_values(drive: Drive) -> dict[str, Any]:
    """A drive as its audit entries and its fingerprint see it."""
    return {"name": drive.name, "drive_date": drive.drive_date.isoformat(), "target_bags": drive.target_bags,
            "status": drive.status.value, "hospital": drive.hospital, "organiser": drive.organiser,
            "campaign": drive.campaign or "", "salutation": drive.salutation or DEFAULT_SALUTATION,
            "recognition_steps": drive.recognition_steps or "",
            "sites": sorted(s.code for s in drive.sites)}


def drive_fingerprint(drive: Drive) -> str:
    return fingerprint(drive_values(drive))


def open_clash(session: Session, drive_id: Optional[int], site_ids: Iterable[int]) -> Optional[tuple[str, str]]:
    """Another open drive at one of these sites: (its name, the site's code)."""
    site_ids = list(site_ids or [])
    if not site_ids:
        return None
    query = (sa.select(Drive.name, Site.code).join(drive_site, drive_site.c.drive_id == Drive.id)
             .join(Site, Site.id == drive_site.c.site_id)
             .where(Drive.status == DriveStatus.OPEN, drive_site.c.site_id.in_(site_ids)))
    if drive_id is not None:
        query = query.where(Drive.id != drive_id)
    row = session.execute(query.limit(1)).first()
    return (row[0], row[1]) if row else None


def _check_no_clash(session: Session, drive_id: Optional[int], status: DriveStatus, site_ids: list[int]) -> None:
    clash = open_clash(session, drive_id, site_ids) if status == DriveStatus.OPEN else None
    if clash:
        raise DriveError("open_elsewhere", drive=clash[0], site=clash[1])


def _check_date(drive_date: dt.date) -> None:
    if drive_date.year not in DRIVE_YEARS:
        raise DriveError("date_out_of_range", first=DRIVE_YEARS.start, last=DRIVE_YEARS.stop - 1)


def _salutation(salutation: str) -> str:
    return salutation if salutation in SALUTATIONS else DEFAULT_SALUTATION


def _sites(session: Session, site_ids: list[int]) -> list[Site]:
    return list(session.scalars(sa.select(Site).where(Site.id.in_(site_ids))))


def create_drive(session: Session | scoped_session, *, staff_id: int, name: str, drive_date: dt.date,
                 target_bags: int, status: DriveStatus | str, hospital: str = "", organiser: str = "",
                 site_ids: Iterable[int] = (), campaign: str = "", salutation: str = DEFAULT_SALUTATION,
                 recognition_steps: str = "") -> int:
    """Add a drive, and commit. Returns its id. One open drive per site: `open_elsewhere`."""
    status, site_ids = DriveStatus(status), list(site_ids or [])
    _check_date(drive_date)
    with write_transaction(session):
        _check_no_clash(session, None, status, site_ids)
        drive = Drive(name=name.strip(), drive_date=drive_date, target_bags=target_bags, status=status,
                      hospital=(hospital or "").strip(), organiser=(organiser or "").strip(),
                      campaign=(campaign or "").strip(), salutation=_salutation(salutation),
                      recognition_steps=(recognition_steps or "").strip(),
                      sites=_sites(session, site_ids))
        session.add(drive)
        session.flush()
        record_audit(session, "drive_created", staff_id=staff_id, entity="drive", entity_id=drive.id,
                     drive_id=drive.id, new=drive_values(drive))
        drive_id = drive.id
    return drive_id


def update_drive(session: Session | scoped_session, *, drive_id: int, staff_id: int, expected_fingerprint: str,
                 name: str, drive_date: dt.date, target_bags: int, status: DriveStatus | str, hospital: str = "",
                 organiser: str = "", site_ids: Iterable[int] = (), reason: str = "",
                 campaign: Optional[str] = None, salutation: Optional[str] = None,
                 recognition_steps: Optional[str] = None) -> frozenset[str]:
    """Change a drive as its form showed it, and commit. Returns the names of the changed fields.

    Refuses with `changed_meanwhile` if the drive is no longer what the form showed,
    `open_elsewhere` if it would open at a site where another drive is open, and
    `reason_required` for a closed drive changed without a reason, `date_out_of_range` for a date
    outside DRIVE_YEARS."""
    status, site_ids, reason = DriveStatus(status), list(site_ids or []), (reason or "").strip()
    _check_date(drive_date)
    with write_transaction(session):
        drive = session.get(Drive, drive_id)
        if drive is None:
            raise DriveError("not_found")
        old = drive_values(drive)
        if fingerprint(old) != expected_fingerprint:
            raise DriveError("changed_meanwhile")
        _check_no_clash(session, drive.id, status, site_ids)
        if drive.status == DriveStatus.CLOSED and not reason:
            raise DriveError("reason_required")
        drive.name = name.strip()
        drive.drive_date = drive_date
        drive.target_bags = target_bags
        drive.status = status
        drive.hospital = (hospital or "").strip()
        drive.organiser = (organiser or "").strip()
        if campaign is not None:  # None: the caller does not show it, keep it
            drive.campaign = campaign.strip()
        if salutation is not None:
            drive.salutation = _salutation(salutation)
        if recognition_steps is not None:
            drive.recognition_steps = recognition_steps.strip()
        drive.sites = _sites(session, site_ids)
        new = drive_values(drive)
        changed = changed_fields(old, new)
        if changed:
            action = "drive_closed" if "status" in changed and new["status"] == "closed" else "drive_updated"
            record_changes(session, action, staff_id=staff_id, entity="drive", entity_id=drive.id,
                           drive_id=drive.id, old=old, new=new, changed=changed, reason=reason)
            if action == "drive_closed":
                # The open walk-in form leaves no permanent records of people no one has seen.
                remove_unverified_walk_ins(session, drive.id, staff_id=staff_id)
            # A status or site change moves the kiosks, nurse pages and displays to another drive.
            tally.touch_drive(session, drive.id)
    return changed
