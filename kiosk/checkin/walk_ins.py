"""What a walk-in record is worth: anyone can type anyone's ID number into the walk-in form, so a
donor made by a walk-in is *unverified* until a nurse has seen an identity document (a screening
that records one), or an office's roster has listed them. Plain module: no Flask.

- unverified_walk_ins: which of some donors are still unverified walk-ins.
- remove_unverified_walk_ins: at a drive's close, the unverified walk-ins who never came (their
  visit never checked in) are removed, visit and donor: the open phone form leaves no permanent
  records behind.
The roster importer asks unverified_walk_ins: a roster row that matches one gives the visit a new
pass token and is flagged to the organiser, never merged silently."""
from __future__ import annotations

from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from kiosk.audit import insert_audit
from kiosk.models import Donor, KioskSession, QuestionnaireResponse, Screening, Visit

# A donor is verified by a roster's visit or by a screening that recorded an identity document.
# (Visits under an alias of their own: the queries below select visits too, which must not correlate.)
_ANY_VISIT = aliased(Visit)
_VERIFIED = sa.or_(
    sa.exists().where(_ANY_VISIT.donor_id == Donor.id, _ANY_VISIT.registered_via == "roster"),
    sa.exists().where(_ANY_VISIT.donor_id == Donor.id, Screening.visit_id == _ANY_VISIT.id,
                      Screening.identity_document.is_not(None), Screening.identity_document != ""),
)
_WALKED_IN = sa.exists().where(_ANY_VISIT.donor_id == Donor.id, _ANY_VISIT.registered_via == "walk_in")


def unverified_walk_ins(session: Session, donor_ids: Iterable[int]) -> set[int]:
    """The donors among `donor_ids` made by a walk-in whose identity no one has checked yet."""
    ids, found = list(donor_ids), set()
    for start in range(0, len(ids), 5000):
        found |= set(session.scalars(sa.select(Donor.id).where(
            Donor.id.in_(ids[start:start + 5000]), _WALKED_IN, sa.not_(_VERIFIED))))
    return found


def remove_unverified_walk_ins(session: Session, drive_id: int, *, staff_id: int | None = None) -> int:
    """In the caller's transaction: the unverified walk-ins of this drive who never checked in lose
    their visit, and their donor record when it has no other visit. Returns how many visits went."""
    candidates = session.execute(
        sa.select(Visit.id, Visit.donor_id).join(Donor, Donor.id == Visit.donor_id)
        .where(Visit.drive_id == drive_id, Visit.registered_via == "walk_in", Visit.checked_in_at.is_(None),
               sa.not_(_VERIFIED))).all()
    if not candidates:
        return 0
    visit_ids = [row.id for row in candidates]
    session.execute(sa.delete(KioskSession).where(KioskSession.visit_id.in_(visit_ids)))
    session.execute(sa.delete(QuestionnaireResponse).where(QuestionnaireResponse.visit_id.in_(visit_ids)))
    session.execute(sa.delete(Visit).where(Visit.id.in_(visit_ids)))
    donor_ids = {row.donor_id for row in candidates}
    still_visiting = set(session.scalars(sa.select(Visit.donor_id).where(Visit.donor_id.in_(donor_ids))))
    session.execute(sa.delete(Donor).where(Donor.id.in_(donor_ids - still_visiting)))
    insert_audit(session, "unverified_walk_ins_removed", staff_id=staff_id, entity="drive", entity_id=drive_id,
                 drive_id=drive_id, new={"count": len(visit_ids)})
    return len(visit_ids)
