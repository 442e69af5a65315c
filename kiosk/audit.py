"""The append-only audit log, and what the console's edits share: a record's fingerprint (the
check that no one changed it meanwhile) and the fields an edit changed."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable, Optional

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.orm import Session

from kiosk.models import AuditLog, Staff


def record_audit(session: Session, action: str, *, staff_id: Optional[int] = None, actor: str = "",
                 entity: str = "", entity_id: Optional[int] = None, drive_id: Optional[int] = None,
                 old: Optional[dict[str, Any]] = None, new: Optional[dict[str, Any]] = None,
                 reason: str = "") -> AuditLog:
    entry = AuditLog(action=action, staff_id=staff_id, actor=actor, entity=entity, entity_id=entity_id,
                     drive_id=drive_id, old_values=old, new_values=new, reason=reason)
    session.add(entry)
    return entry


# Where an entry comes from (the request's address): kiosk.security, which knows Flask, sets
# this; outside a request (the CLI, tests) it is "".
source_address: Callable[[], str] = lambda: ""

# Built once: the short write transactions (kiosk.donations, kiosk.checkin, the screening
# decisions) add their entry with this one statement instead of through the ORM's unit of work.
INSERT_AUDIT = sa.insert(AuditLog.__table__)


def insert_audit(session: Session, action: str, *, staff_id: Optional[int] = None, actor: str = "",
                 entity: str = "", entity_id: Optional[int] = None, drive_id: Optional[int] = None,
                 old: Optional[dict[str, Any]] = None, new: Optional[dict[str, Any]] = None,
                 reason: str = "") -> None:
    """The same entry as `record_audit`, written now as one Core INSERT."""
    session.execute(INSERT_AUDIT, dict(action=action, staff_id=staff_id, actor=actor, entity=entity,
                                       entity_id=entity_id, drive_id=drive_id, old_values=old, new_values=new,
                                       reason=reason, source_address=source_address()))


def record_access(session: Session, action: str, *, staff_id: Optional[int], entity: str = "",
                  entity_id: Optional[int] = None, drive_id: Optional[int] = None,
                  details: Optional[dict[str, Any]] = None) -> None:
    """Someone looked at or took away personal data (a donor's page, an export, pass sheets): one
    entry, committed on its own, so a read leaves its trace even when nothing else is written.

    The entry is one prebuilt INSERT in a write of its own, which neither expires nor reloads what
    the request read before it (the nurse's donor page, the most viewed, is drawn from those rows)."""
    from kiosk.database import write_transaction

    with write_transaction(session, expire=False):
        insert_audit(session, action, staff_id=staff_id, entity=entity, entity_id=entity_id, drive_id=drive_id,
                     new=details)


def fingerprint(values: dict[str, Any]) -> str:
    """What a record looked like when its form was shown. Saving compares it with the record as it
    is now: if someone else changed it meanwhile, the save is refused instead of overwriting."""
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:32]


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> frozenset[str]:
    return frozenset(key for key in new if new[key] != old[key])


def record_changes(session: Session, action: str, *, staff_id: int, entity: str, entity_id: int,
                   old: dict[str, Any], new: dict[str, Any], changed: frozenset[str], **extra: Any) -> None:
    """The audit entry of an edit: the changed fields only, before and after."""
    record_audit(session, action, staff_id=staff_id, entity=entity, entity_id=entity_id,
                 old={k: old[k] for k in changed}, new={k: new[k] for k in changed}, **extra)


# ---------------------------------------------------------------- reading a drive's log, a page at a time

AUDIT_PAGE_SIZE = 50


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
class AuditPage:
    entries: list[AuditLog]
    total: int  # entries matching the filter
    page: int
    pages: int


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
    """The newest entries first; a page past the last shows the last."""
    total = session.scalar(_filtered(sa.select(sa.func.count(AuditLog.id)), drive_id, chosen)) or 0
    pages = max(1, -(-total // size))
    page = min(max(1, page), pages)
    entries = list(session.scalars(
        _filtered(sa.select(AuditLog), drive_id, chosen)
        .options(so.joinedload(AuditLog.staff))
        .order_by(AuditLog.at.desc(), AuditLog.id.desc()).offset((page - 1) * size).limit(size)))
    return AuditPage(entries, total, page, pages)


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
