"""A nurse opens a donor: the claim that tells the other nurses she has them (CLAIM_MINUTES).

Like a decision, the claim reads before its write transaction and, inside it, runs one UPDATE
conditional on the claim and status it read (and the drive's touch): a claim taken meanwhile
makes it match nothing, and it reads and decides again. It needs no nonce: claiming twice is
claiming once."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk import tally
from kiosk.database import note_written, write_checked, write_transaction
from kiosk.models import Staff, Visit, VisitStatus, utcnow
from kiosk.screening.decision_checks import VISITS, ScreeningError

# Another nurse's claim on a donor counts for this long after she last opened the page.
CLAIM_MINUTES = 10

CLAIM_READ = sa.select(VISITS.c.id, VISITS.c.drive_id, VISITS.c.status, VISITS.c.version, VISITS.c.opened_by_id,
                       VISITS.c.opened_at).where(VISITS.c.id == sa.bindparam("v_id"))
# A claim changes the visit only while its claim and status are as they were read.
CLAIM_VISIT = (
    sa.update(VISITS)
    .where(VISITS.c.id == sa.bindparam("v_id"), VISITS.c.status == sa.bindparam("old_status"),
           VISITS.c.opened_by_id.is_not_distinct_from(sa.bindparam("old_opened_by_id")),
           VISITS.c.opened_at.is_not_distinct_from(sa.bindparam("old_opened_at")))
    .values(opened_by_id=sa.bindparam("new_opened_by_id"), opened_at=sa.bindparam("new_opened_at"),
            status=sa.bindparam("new_status"))
)


@dataclass(frozen=True)
class OpenResult:
    visit_id: int
    status: VisitStatus
    version: int
    # Another nurse who had this donor open in the last CLAIM_MINUTES, if any.
    other_nurse_id: Optional[int] = None
    other_nurse_name: str = ""
    other_opened_at: Optional[dt.datetime] = None

    @property
    def taken_by_other(self) -> bool:
        return self.other_nurse_id is not None


def open_visit(session: Session, *, visit_id: int, nurse_id: int, now: Optional[dt.datetime] = None,
               claim: bool = True) -> OpenResult:
    """A nurse claims a donor (a POST): unless another nurse has the donor open, the donor is hers,
    and a donor waiting in the queue moves to "in screening". Commits.

    With claim=False, only what a claim would find (the donor's page, a GET): nothing is written."""
    now = now or utcnow()
    seen = _claim_before_the_write(session, visit_id)
    if claim:
        with write_transaction(session, expire=False):
            # Inside the write, a second read is by Core, and sees the row as it is now.
            seen = write_checked(lambda: _read_claim(session, visit_id), seen,
                                 lambda claim_seen: _claim(session, claim_seen, nurse_id, now))
            if seen is None:  # only where writers do not queue (PostgreSQL): taken and given back 5 times
                raise ScreeningError("version_conflict")
    other_id, other_at = (seen.opened_by_id, seen.opened_at) if seen.claimed_by_other(nurse_id, now) else (None, None)
    status = seen.status_after_claim if claim else seen.status
    if claim:
        note_written(session, Visit, visit_id, {"status": status} if other_id is not None else
                     {"status": status, "opened_by_id": nurse_id, "opened_at": now})
    other = session.get(Staff, other_id) if other_id is not None else None
    return OpenResult(visit_id=visit_id, status=status, version=seen.version, other_nurse_id=other_id,
                      other_nurse_name=other.display_name if other else "", other_opened_at=other_at)


@dataclass(frozen=True)
class _ClaimSeen:
    """A visit's claim and status as read (CLAIM_READ)."""
    id: int
    drive_id: int
    status: VisitStatus
    version: int
    opened_by_id: Optional[int]
    opened_at: Optional[dt.datetime]

    def claimed_by_other(self, nurse_id: int, now: dt.datetime) -> bool:
        return (self.opened_by_id is not None and self.opened_by_id != nurse_id and self.opened_at is not None
                and now - self.opened_at < dt.timedelta(minutes=CLAIM_MINUTES))

    @property
    def status_after_claim(self) -> VisitStatus:
        return VisitStatus.IN_SCREENING if self.status == VisitStatus.CHECKED_IN else self.status


def _claim_before_the_write(session: Session, visit_id: int) -> _ClaimSeen:
    """The claim as the request's own object has it (the nurse's views load the visit first, so
    no query): if it is stale, the conditional UPDATE matches nothing and the claim reads again."""
    visit = session.get(Visit, visit_id)
    if visit is None:
        session.rollback()
        raise ScreeningError("not_found")
    return _ClaimSeen(visit.id, visit.drive_id, visit.status, visit.version, visit.opened_by_id, visit.opened_at)


def _read_claim(session: Session, visit_id: int) -> _ClaimSeen:
    row = session.execute(CLAIM_READ, {"v_id": visit_id}).first()
    if row is None:
        raise ScreeningError("not_found")
    return _ClaimSeen(*row)


def _claim(session: Session, seen: _ClaimSeen, nurse_id: int, now: dt.datetime) -> bool:
    """The claim's UPDATE, if it changes anything; False when the visit changed since `seen`."""
    take = not seen.claimed_by_other(nurse_id, now)
    if not take and seen.status_after_claim == seen.status:
        return True  # another nurse has the donor, already in screening: nothing to write
    opened_by_id, opened_at = (nurse_id, now) if take else (seen.opened_by_id, seen.opened_at)
    matched = session.execute(CLAIM_VISIT, {
        "v_id": seen.id, "old_status": seen.status, "old_opened_by_id": seen.opened_by_id,
        "old_opened_at": seen.opened_at, "new_opened_by_id": opened_by_id, "new_opened_at": opened_at,
        "new_status": seen.status_after_claim}).rowcount
    if not matched:
        return False
    if (take and seen.opened_by_id != nurse_id) or seen.status_after_claim != seen.status:
        tally.touch_drive(session, seen.drive_id)  # the queue shows the status and who has the donor
    return True
