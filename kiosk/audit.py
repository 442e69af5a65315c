"""The append-only audit log."""
from __future__ import annotations

from typing import Any, Optional

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
