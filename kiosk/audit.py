"""The append-only audit log, and what the console's edits share: a record's fingerprint (the
check that no one changed it meanwhile) and the fields an edit changed. The console reads the log
through kiosk.queries.activity."""
from __future__ import annotations

import hashlib
import json
from typing import Any, Callable, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.models import AuditLog


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

