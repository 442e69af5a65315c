"""The visits the nurse's desk finds: by id, by queue number, by the pass's token; and a
decision on one. The desk's view of a visit (answers, decisions, donations, history) is
kiosk.screening.desk's."""
from __future__ import annotations

from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.models import Screening, Visit


def visit_by_id(session: Session, visit_id: int) -> Optional[Visit]:
    return session.get(Visit, visit_id)


def visit_by_queue_number(session: Session, drive_id: int, site_id: int, queue_number: int) -> Optional[Visit]:
    """The visit with this queue number at a site's drive (queue numbers count per site)."""
    return session.scalars(sa.select(Visit).where(Visit.drive_id == drive_id, Visit.site_id == site_id,
                                                  Visit.queue_number == queue_number)).first()


def visit_by_token(session: Session, token: str) -> Optional[Visit]:
    """The visit whose pass carries this token, at whatever drive."""
    return session.scalars(sa.select(Visit).where(Visit.token == token)).first()


def screening_of_visit(session: Session, visit_id: int, screening_id: int) -> Optional[Screening]:
    """The decision, if it was made on this visit."""
    screening = session.get(Screening, screening_id)
    return screening if screening is not None and screening.visit_id == visit_id else None
