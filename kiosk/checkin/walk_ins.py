"""Walk-ins: the rules a walk-in's details follow wherever they were typed (the kiosk, a phone, a
tablet that queued them offline), and what a walk-in record is worth.

- normalise_walk_in: the rank in its proper case, the phone's lost 0 put back (as the roster
  does), a department only from the drive's list; departments_for_walk_in gives that list.

Anyone can type anyone's ID number into the walk-in form, so a
donor made by a walk-in is *unverified* until a nurse has seen an identity document (a screening
that records one), or an office's roster has listed them. Plain module: no Flask.

- unverified_walk_ins: which of some donors are still unverified walk-ins.
- remove_unverified_walk_ins: at a drive's close, the unverified walk-ins who never came (their
  visit never checked in) are removed, visit and donor: the open phone form leaves no permanent
  records behind.
The roster importer asks unverified_walk_ins: a roster row that matches one gives the visit a new
pass token and is flagged to the organiser, never merged silently."""
from __future__ import annotations

import dataclasses
from typing import Iterable, Optional, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from kiosk.audit import insert_audit
from kiosk.inputs import clean_text, fold_diacritics, phone_digits
from kiosk.models import Department, Donor, KioskSession, QuestionnaireResponse, Screening, Visit, drive_site
from kiosk.roster.rows import MOBILE_WITHOUT_ZERO

# The ranks of the People's Public Security, as written: "đại úy" or "ĐẠI UÝ" is stored "Đại úy".
RANKS = ("Binh nhì", "Binh nhất", "Hạ sĩ", "Trung sĩ", "Thượng sĩ", "Thiếu úy", "Trung úy", "Thượng úy", "Đại úy",
         "Thiếu tá", "Trung tá", "Thượng tá", "Đại tá", "Thiếu tướng", "Trung tướng", "Thượng tướng", "Đại tướng")
_RANK_BY_KEY = {fold_diacritics(rank): rank for rank in RANKS}

WalkInLike = TypeVar("WalkInLike")


def proper_rank(text: str) -> str:
    """A rank as it is written: a known rank (whatever its case or its "uý"/"úy" accent) in its own
    spelling; anything else with single spaces and its first letter capital."""
    text = clean_text(text)
    known = _RANK_BY_KEY.get(fold_diacritics(text))
    if known:
        return known
    return text[:1].upper() + text[1:]


def repair_phone(text: str) -> str:
    """A mobile number as the roster repairs it: +84 made 0, and a 9-digit number that lost its 0
    (3, 5, 7, 8 or 9 first) given it back."""
    phone = phone_digits(text)
    return "0" + phone if MOBILE_WITHOUT_ZERO.match(phone) else phone


def departments_for_walk_in(session: Session, drive_id: Optional[int] = None) -> list[Department]:
    """The departments a walk-in chooses from: the drive's (those donating at its sites, or with a
    donor on its list); every department when the drive has none of its own."""
    if drive_id is not None:
        of_drive = list(session.scalars(
            sa.select(Department).where(sa.or_(
                Department.default_site_id.in_(sa.select(drive_site.c.site_id).where(drive_site.c.drive_id == drive_id)),
                Department.id.in_(sa.select(Donor.department_id).join(Visit, Visit.donor_id == Donor.id)
                                  .where(Visit.drive_id == drive_id)))).order_by(Department.name)))
        if of_drive:
            return of_drive
    return list(session.scalars(sa.select(Department).order_by(Department.name)))


def normalise_walk_in(session: Session, walk_in: WalkInLike, drive_id: Optional[int]) -> WalkInLike:
    """The walk-in as stored: rank and phone as above, and a department not in the drive's list
    dropped (a form tampered with, an offline queue from before a change)."""
    department_id = walk_in.department_id
    if department_id is not None and department_id not in {d.id for d in departments_for_walk_in(session, drive_id)}:
        department_id = None
    return dataclasses.replace(walk_in, rank=proper_rank(walk_in.rank), phone=repair_phone(walk_in.phone),
                               department_id=department_id)

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
