"""Queue numbers for offline tablets: a block of BLOCK_SIZE numbers is taken from the site's
count in one UPDATE ... RETURNING (the same counter online check-ins use), so no other tablet and
no online check-in can ever give them; a new block is set aside when fewer than half are left."""
from __future__ import annotations

import datetime as dt
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.database import write_transaction
from kiosk.models import QueueNumberBlock, drive_site, utcnow
from kiosk.queries import offline as queries

BLOCK_SIZE = 20

TAKE_BLOCK = (
    sa.update(drive_site).where(drive_site.c.drive_id == sa.bindparam("q_drive_id"),
                                drive_site.c.site_id == sa.bindparam("q_site_id"))
    .values(last_queue_number=drive_site.c.last_queue_number + BLOCK_SIZE).returning(drive_site.c.last_queue_number)
)


def numbers_for_tablet(session: Session, device_id: int, drive_id: int, site_id: int,
                       now: Optional[dt.datetime] = None) -> list[int]:
    """The numbers this tablet may give while offline; a block is added first when fewer than half
    of BLOCK_SIZE are left (commits then)."""
    free = queries.free_numbers(session, device_id, drive_id, site_id)
    if len(free) >= BLOCK_SIZE // 2:
        return free
    with write_transaction(session, expire=False):
        last = session.execute(TAKE_BLOCK, {"q_drive_id": drive_id, "q_site_id": site_id}).scalar()
        if last is None:  # the site is not part of this drive
            return free
        session.add(QueueNumberBlock(drive_id=drive_id, site_id=site_id, device_id=device_id,
                                     first_number=last - BLOCK_SIZE + 1, last_number=last, created_at=now or utcnow()))
    return queries.free_numbers(session, device_id, drive_id, site_id)
