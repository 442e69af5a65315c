"""Donors ready for the nurse's donation record, for the in-process tests of donations, the tally,
the display, letters and reports: checked in and screened as far as the tally is concerned (the
visit's fields and the counters, written directly), then recorded through kiosk.donations itself.

tests.support.donors checks a donor in through kiosk.checkin instead, questionnaire and all: use it
where the check-in itself matters."""
from __future__ import annotations

import sqlalchemy as sa

from kiosk import tally
from kiosk.donations import record_donation
from kiosk.models import Screening, Site, Staff, StaffRole, Visit, VisitStatus, utcnow
from kiosk.tokens import new_nonce as nonce


def nurse_id(session) -> int:
    return session.scalars(sa.select(Staff.id).where(Staff.role == StaffRole.NURSE)).first()


def check_in(session, visit: Visit) -> None:
    """What the kiosk does on arrival, as far as the tally is concerned (kiosk.checkin owns the real thing)."""
    visit.checked_in_at = utcnow()
    visit.status = VisitStatus.CHECKED_IN
    visit.version += 1
    tally.bump(session, visit.drive_id, visit.site_id, visit.donor.department_id, checked_in=1)


def screen(session, visit: Visit, decision: str = "accepted") -> None:
    """What the nurse's decision does to the visit and the tally (kiosk.screening.decisions owns the real thing)."""
    session.add(Screening(visit_id=visit.id, decision=decision, volume_ml=350 if decision == "accepted" else None,
                          nurse_id=nurse_id(session), suggestion={}, nonce=nonce()))
    visit.status = VisitStatus.CLEARED if decision == "accepted" else VisitStatus.DEFERRED
    visit.screened_at = utcnow()
    visit.version += 1
    deferred = 0 if decision == "accepted" else 1
    tally.bump(session, visit.drive_id, visit.site_id, visit.donor.department_id, screened=1, deferred=deferred)


def ready_visits(session, count: int = 1, site_code: str | None = None, decision: str = "accepted") -> list[int]:
    """`count` registered donors of the open drive, checked in and screened; committed. Returns visit ids."""
    query = sa.select(Visit).where(Visit.status == VisitStatus.REGISTERED).order_by(Visit.id)
    if site_code:
        query = query.join(Site, Site.id == Visit.site_id).where(Site.code == site_code)
    visits = list(session.scalars(query.limit(count)))
    assert len(visits) == count
    for visit in visits:
        check_in(session, visit)
        screen(session, visit, decision)
    session.commit()
    return [visit.id for visit in visits]


def record(session, visit_id: int, bag: str, volume: int = 350, outcome: str = "completed", key: str | None = None):
    return record_donation(session, visit_id=visit_id, nurse_id=nurse_id(session), volume_ml=volume,
                           bag_number=bag, outcome=outcome, nonce=key or nonce())


def figures(session, drive_id: int) -> dict:
    """The display's figures, checked against a count from the rows on the way."""
    shown = tally.snapshot(session, drive_id)
    assert shown == tally.count_from_rows(session, drive_id)
    return shown
