"""The live tally: counters kept in the same transaction as the change they count.

Every write that a live screen shows calls `bump` (and so `touch_drive`), so a display poll
answers from a handful of counter rows and one revision number instead of recounting."""
from __future__ import annotations

from typing import Optional

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk.models import Drive, TallyCounter

COUNTERS = ("checked_in", "screened", "deferred", "bags", "volume_ml", "incomplete")


def touch_drive(session: Session, drive_id: int) -> None:
    """Something on the drive's live screens changed (queue, screening, donation)."""
    session.execute(sa.update(Drive).where(Drive.id == drive_id).values(revision=Drive.revision + 1))


def bump(session: Session, drive_id: int, site_id: Optional[int], department_id: Optional[int],
         **deltas: int) -> None:
    """Add `deltas` (say bags=1, volume_ml=350) to the drive's counter row for this site and department."""
    unknown = set(deltas) - set(COUNTERS)
    if unknown:
        raise ValueError(f"unknown counters: {sorted(unknown)}")
    row_filter = (TallyCounter.drive_id == drive_id,
                  TallyCounter.site_id.is_(None) if site_id is None else TallyCounter.site_id == site_id,
                  TallyCounter.department_id.is_(None) if department_id is None
                  else TallyCounter.department_id == department_id)
    values = {name: getattr(TallyCounter, name) + delta for name, delta in deltas.items() if delta}
    if values:
        updated = session.execute(sa.update(TallyCounter).where(*row_filter).values(**values)).rowcount
        if not updated:
            # First change for this site and department. On SQLite writers are serialised, so no
            # one else inserts the row meanwhile; on PostgreSQL a concurrent insert of the same key
            # fails the unique constraint and we add to the row it made. Readers always SUM the
            # rows of a key, so a second row (NULL keys are never equal in SQL) stays correct.
            try:
                with session.begin_nested():
                    session.add(TallyCounter(drive_id=drive_id, site_id=site_id, department_id=department_id,
                                             **({name: 0 for name in COUNTERS} | deltas)))
            except IntegrityError:
                session.execute(sa.update(TallyCounter).where(*row_filter).values(**values))
    touch_drive(session, drive_id)
