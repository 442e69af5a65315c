"""Donations: recording a bag, correcting it, voiding it. Every one counts once.

A donation is a domain function, not a view (like pretix's check-in): it decides, records,
keeps the live tally in the same transaction, and raises DonationError with a machine-readable
code that the views translate. It reads and checks everything before its write transaction
and, inside it, runs only prebuilt Core statements: an UPDATE conditional on the version and
status it checked (whatever changed meanwhile makes it match nothing, and it reads and decides
again), an INSERT ... RETURNING, the tally's, the audit's and the receipt's statements; so
SQLite's writer queue is held for those few statements only (issue 14). Each write carries a
client nonce (kiosk.idempotency.run_checked_once), so a retried request or a double tap answers
the same without recording twice; the visit's status and the unique index on completed
donations stop a second nurse from recording the same donor again."""
from __future__ import annotations

from typing import Any, Callable, Optional

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, scoped_session

from kiosk.errors import DomainError
from kiosk import tally
from kiosk.audit import insert_audit
from kiosk.database import expire_rows, note_written, write_checked
from kiosk.idempotency import run_checked_once
from kiosk.models import (Donation, DonationOutcome, Donor, Drive, DriveStatus, Reaction, Visit, VisitStatus,
                          utcnow)

REACTIONS = frozenset(r.value for r in Reaction)
OUTCOMES = frozenset(o.value for o in DonationOutcome)
MAX_VOLUME_ML = 500  # the table's CHECK constraint says the same
MAX_BAG_NUMBER_LENGTH = 40
MAX_CERTIFICATE_SERIAL_LENGTH = 40  # the official certificate's serial number (Donation.certificate_serial)

ERROR_CODES = ("not_found", "not_cleared", "already_donated", "bag_number_taken", "invalid_bag_number",
               "invalid_volume", "invalid_outcome", "invalid_reaction", "reason_required", "version_conflict",
               "drive_closed", "invalid_certificate_serial")


class DonationError(DomainError):
    CODES = ERROR_CODES


def contribution(outcome: str, volume_ml: int, voided: bool) -> dict[str, int]:
    """What one donation adds to the tally: a bag and its volume when completed, an
    'incomplete' when not; nothing once voided."""
    if voided:
        return {"bags": 0, "volume_ml": 0, "incomplete": 0}
    if outcome == DonationOutcome.COMPLETED:
        return {"bags": 1, "volume_ml": volume_ml, "incomplete": 0}
    return {"bags": 0, "volume_ml": 0, "incomplete": 1}


def _check_values(volume_ml: Any, bag_number: Any, outcome: Any, reaction: Any) -> tuple[int, str]:
    if outcome not in OUTCOMES:
        raise DonationError("invalid_outcome")
    if reaction not in REACTIONS:
        raise DonationError("invalid_reaction")
    if isinstance(volume_ml, bool) or not isinstance(volume_ml, int) or not 0 < volume_ml <= MAX_VOLUME_ML:
        raise DonationError("invalid_volume", max=MAX_VOLUME_ML)
    bag = normalise_bag_number(bag_number) if isinstance(bag_number, str) else ""
    if not bag or len(bag) > MAX_BAG_NUMBER_LENGTH:
        raise DonationError("invalid_bag_number", max=MAX_BAG_NUMBER_LENGTH)
    return volume_ml, bag


def normalise_bag_number(text: str) -> str:
    """A bag number as stored and compared: no spaces, upper case. The label's "HM26-0001" is
    typed "hm26-0001" or "HM 26-0001" on a tablet; stored as typed, both could exist in one
    drive and the hospital's count would not match. The drive's unique constraint on the
    stored number then holds for the number as normalised."""
    return "".join(text.split()).upper()


def clean_certificate_serial(serial: Any) -> str:
    """The official certificate's serial as stored: trimmed, inner spaces collapsed, upper case (so
    a search finds it however it is typed); "" for none. Refused (invalid_certificate_serial) when
    longer than the column."""
    text = " ".join(serial.split()).upper() if isinstance(serial, str) else ""
    if len(text) > MAX_CERTIFICATE_SERIAL_LENGTH:
        raise DonationError("invalid_certificate_serial", max=MAX_CERTIFICATE_SERIAL_LENGTH)
    return text


VISITS, DONATIONS, DRIVES, DONORS = Visit.__table__, Donation.__table__, Drive.__table__, Donor.__table__
# A visit in these states can have its donation recorded.
DONATABLE = (VisitStatus.CLEARED, VisitStatus.DONATING)

# The statements, built once. The reads run before the write transaction (and again inside it
# only when a conditional UPDATE finds the row changed); the rest inside it.
READ_VISIT = (
    sa.select(VISITS.c.id, VISITS.c.drive_id, VISITS.c.site_id, VISITS.c.status, VISITS.c.version,
              DONORS.c.department_id, DRIVES.c.status.label("drive_status"))
    .join(DONORS, DONORS.c.id == VISITS.c.donor_id).join(DRIVES, DRIVES.c.id == VISITS.c.drive_id)
    .where(VISITS.c.id == sa.bindparam("visit_id"))
)
READ_DONATION = (
    sa.select(DONATIONS.c.id, DONATIONS.c.visit_id, DONATIONS.c.drive_id, DONATIONS.c.volume_ml,
              DONATIONS.c.bag_number, DONATIONS.c.outcome, DONATIONS.c.reaction, DONATIONS.c.reaction_note,
              DONATIONS.c.certificate_serial, DONATIONS.c.voided, DONATIONS.c.version, VISITS.c.site_id,
              DONORS.c.department_id, DRIVES.c.status.label("drive_status"))
    .join(VISITS, VISITS.c.id == DONATIONS.c.visit_id).join(DONORS, DONORS.c.id == VISITS.c.donor_id)
    .join(DRIVES, DRIVES.c.id == DONATIONS.c.drive_id)
    .where(DONATIONS.c.id == sa.bindparam("donation_id"))
)
BAG_TAKEN = (
    sa.select(DONATIONS.c.id).where(DONATIONS.c.drive_id == sa.bindparam("drive_id"),
                                    DONATIONS.c.bag_number == sa.bindparam("bag"),
                                    DONATIONS.c.id != sa.bindparam("except_id")).limit(1)
)
# Closing a drive does not change its visits' versions: the UPDATEs check the drive too.
_VISITS_DRIVE_OPEN = sa.exists().where(DRIVES.c.id == VISITS.c.drive_id, DRIVES.c.status != DriveStatus.CLOSED)
_DONATIONS_DRIVE_OPEN = sa.exists().where(DRIVES.c.id == DONATIONS.c.drive_id, DRIVES.c.status != DriveStatus.CLOSED)
FINISH_VISIT = (
    sa.update(VISITS)
    .where(VISITS.c.id == sa.bindparam("v_id"), VISITS.c.version == sa.bindparam("v_version"),
           VISITS.c.status.in_(DONATABLE), _VISITS_DRIVE_OPEN)
    .values(status=VisitStatus.DONE, finished_at=sa.bindparam("now"), version=VISITS.c.version + 1)
)
REOPEN_VISIT = (
    sa.update(VISITS).where(VISITS.c.id == sa.bindparam("v_id"), VISITS.c.status == VisitStatus.DONE)
    .values(status=VisitStatus.CLEARED, finished_at=None, version=VISITS.c.version + 1)
    .returning(VISITS.c.id, VISITS.c.version)
)
INSERT_DONATION = sa.insert(DONATIONS).returning(DONATIONS.c.id, DONATIONS.c.version)
_SAME_DONATION = (DONATIONS.c.id == sa.bindparam("d_id"), DONATIONS.c.version == sa.bindparam("d_version"),
                  DONATIONS.c.voided.is_(False),
                  sa.or_(sa.bindparam("allow_closed_drive", type_=sa.Boolean), _DONATIONS_DRIVE_OPEN))
CHANGE_DONATION = (
    sa.update(DONATIONS).where(*_SAME_DONATION)
    .values(volume_ml=sa.bindparam("new_volume"), bag_number=sa.bindparam("new_bag"),
            outcome=sa.bindparam("new_outcome"), reaction=sa.bindparam("new_reaction"),
            reaction_note=sa.bindparam("new_note"), certificate_serial=sa.bindparam("new_serial"),
            version=DONATIONS.c.version + 1)
)
VOID_DONATION = (
    sa.update(DONATIONS).where(*_SAME_DONATION)
    .values(voided=True, void_reason=sa.bindparam("reason"), version=DONATIONS.c.version + 1)
)
CHANGE_SERIAL = (
    sa.update(DONATIONS).where(*_SAME_DONATION)
    .values(certificate_serial=sa.bindparam("new_serial"), version=DONATIONS.c.version + 1)
)


def _bag_number_taken(session: Session, drive_id: int, bag_number: str, except_id: Optional[int] = None) -> bool:
    return session.execute(BAG_TAKEN, {"drive_id": drive_id, "bag": bag_number,
                                       "except_id": -1 if except_id is None else except_id}).first() is not None


def _refusal_of(error: IntegrityError) -> DonationError:
    # A check made before the write can be overtaken (on PostgreSQL another drive's writer may
    # take the same bag number between our check and our insert): the unique constraints answer,
    # and the whole write is rolled back with the reason.
    text = str(error.orig).lower()
    if "bag_number" in text:
        return DonationError("bag_number_taken")
    if "one_completed_per_visit" in text or "donation.visit_id" in text:
        return DonationError("already_donated")
    raise error


def _values(row: Any) -> dict[str, Any]:
    return {"volume_ml": row.volume_ml, "bag_number": row.bag_number, "outcome": row.outcome,
            "reaction": row.reaction, "reaction_note": row.reaction_note,
            "certificate_serial": row.certificate_serial, "voided": row.voided}


def _write_failed(row: sa.Row) -> DonationError:
    """The row kept changing under the write (only where writers do not queue): as if the nurse
    had seen an old version."""
    return DonationError("version_conflict", current_version=row.version)


def record_donation(session: Session | scoped_session, *, visit_id: int, nurse_id: int, volume_ml: int,
                    bag_number: str, outcome: str, reaction: str = "none", reaction_note: str = "",
                    nonce: str, certificate_serial: str = "") -> dict[str, Any]:
    """Record the donation of a cleared donor, once per nonce, and commit. `certificate_serial`:
    the serial number of the official certificate handed over, if it is known already.

    Returns {"donation_id", "version" (the donation's), "visit_version", "replayed"}."""
    note = (reaction_note or "").strip()
    finished_at = utcnow()

    def check() -> tuple[sa.Row, int, str, str]:
        volume, bag = _check_values(volume_ml, bag_number, outcome, reaction)
        serial = clean_certificate_serial(certificate_serial)
        visit = session.execute(READ_VISIT, {"visit_id": visit_id}).first()
        if visit is None:
            raise DonationError("not_found")
        if visit.drive_status == DriveStatus.CLOSED:
            raise DonationError("drive_closed")
        if visit.status == VisitStatus.DONE:
            raise DonationError("already_donated")
        if visit.status not in DONATABLE:
            raise DonationError("not_cleared")
        if _bag_number_taken(session, visit.drive_id, bag):
            raise DonationError("bag_number_taken")
        return visit, volume, bag, serial

    def finish(checked: tuple[sa.Row, int, str, str]) -> bool:
        visit = checked[0]
        return bool(session.execute(FINISH_VISIT, {"v_id": visit.id, "v_version": visit.version,
                                                   "now": finished_at}).rowcount)

    def write(checked: tuple[sa.Row, int, str, str]) -> dict[str, Any]:
        matched = write_checked(check, checked, finish)
        if matched is None:
            raise _write_failed(checked[0])
        visit, volume, bag, serial = matched
        values = {"volume_ml": volume, "bag_number": bag, "outcome": outcome, "reaction": reaction,
                  "reaction_note": note, "certificate_serial": serial, "voided": False}
        try:
            donation = session.execute(INSERT_DONATION, values | {
                "visit_id": visit.id, "drive_id": visit.drive_id, "nurse_id": nurse_id, "nonce": nonce}).one()
        except IntegrityError as error:
            raise _refusal_of(error) from None
        tally.bump(session, visit.drive_id, visit.site_id, visit.department_id,
                   **contribution(outcome, volume, voided=False))
        insert_audit(session, "donation_recorded", staff_id=nurse_id, entity="donation", entity_id=donation.id,
                     drive_id=visit.drive_id, new=values | {"visit_id": visit.id})
        return {"donation_id": donation.id, "version": donation.version, "visit_version": visit.version + 1}

    result, replayed = run_checked_once(session, nonce, "record_donation", check, write)
    if replayed:
        expire_rows(session, Visit, [visit_id])
    else:
        note_written(session, Visit, visit_id, {"status": VisitStatus.DONE, "finished_at": finished_at,
                                                "version": result["visit_version"]})
    return result | {"replayed": replayed}


def _checked_donation(session: Session, donation_id: int, expected_version: int,
                      allow_closed_drive: bool) -> sa.Row:
    donation = session.execute(READ_DONATION, {"donation_id": donation_id}).first()
    if donation is None or donation.voided:
        raise DonationError("not_found")
    if donation.drive_status == DriveStatus.CLOSED and not allow_closed_drive:
        raise DonationError("drive_closed")
    if donation.version != expected_version:
        raise DonationError("version_conflict", current_version=donation.version)
    return donation


def _change(session: Session | scoped_session, nonce: str, action: str, check: Callable[[], sa.Row],
            update: Callable[[sa.Row], bool], after: Callable[[sa.Row], None]) -> dict[str, Any]:
    """A correction, a void, a certificate serial: checked before the write; inside it `update`
    (a conditional UPDATE, True when it matched) and, once it has, `after` (the tally, the audit)."""

    def conditional_update(donation: sa.Row) -> bool:
        try:
            return update(donation)
        except IntegrityError as error:
            raise _refusal_of(error) from None

    def write(checked: sa.Row) -> dict[str, Any]:
        donation = write_checked(check, checked, conditional_update)
        if donation is None:
            raise _write_failed(checked)
        after(donation)
        return {"donation_id": donation.id, "version": donation.version + 1}

    result, replayed = run_checked_once(session, nonce, action, check, write)
    expire_rows(session, Donation, [result["donation_id"]])
    return result | {"replayed": replayed}


def _bump_difference(session: Session, donation: sa.Row, before: dict[str, int], after: dict[str, int]) -> None:
    tally.bump(session, donation.drive_id, donation.site_id, donation.department_id,
               **{name: after[name] - before[name] for name in before})


def correct_donation(session: Session | scoped_session, *, donation_id: int, staff_id: int,
                     expected_version: int, volume_ml: int, bag_number: str, outcome: str, reaction: str,
                     reaction_note: str, reason: str, nonce: str, allow_closed_drive: bool = False,
                     certificate_serial: Optional[str] = None) -> dict[str, Any]:
    """Change a recorded donation (a wrong volume, bag number or outcome). The tally follows the
    difference; the audit log keeps the old and new values. Returns {"donation_id", "version", "replayed"}.
    `certificate_serial` None keeps the recorded serial."""
    note = (reaction_note or "").strip()
    new: dict[str, Any] = {}

    def check() -> sa.Row:
        donation = _checked_donation(session, donation_id, expected_version, allow_closed_drive)
        if not (reason or "").strip():
            raise DonationError("reason_required")
        volume, bag = _check_values(volume_ml, bag_number, outcome, reaction)
        serial = donation.certificate_serial if certificate_serial is None else clean_certificate_serial(
            certificate_serial)
        if bag != donation.bag_number and _bag_number_taken(session, donation.drive_id, bag, except_id=donation.id):
            raise DonationError("bag_number_taken")
        new.update(volume_ml=volume, bag_number=bag, outcome=outcome, reaction=reaction, reaction_note=note,
                   certificate_serial=serial, voided=False)
        return donation

    def update(donation: sa.Row) -> bool:
        return bool(session.execute(CHANGE_DONATION, {
            "d_id": donation.id, "d_version": donation.version, "allow_closed_drive": allow_closed_drive,
            "new_volume": new["volume_ml"], "new_bag": new["bag_number"], "new_outcome": outcome,
            "new_reaction": reaction, "new_note": note, "new_serial": new["certificate_serial"]}).rowcount)

    def after(donation: sa.Row) -> None:
        _bump_difference(session, donation, contribution(donation.outcome, donation.volume_ml, donation.voided),
                         contribution(outcome, new["volume_ml"], voided=False))
        insert_audit(session, "donation_corrected", staff_id=staff_id, entity="donation", entity_id=donation.id,
                     drive_id=donation.drive_id, old=_values(donation), new=dict(new), reason=reason.strip())

    return _change(session, nonce, "correct_donation", check, update, after)


def void_donation(session: Session | scoped_session, *, donation_id: int, staff_id: int, expected_version: int,
                  reason: str, nonce: str, allow_closed_drive: bool = False) -> dict[str, Any]:
    """Cancel a donation recorded by mistake: it stops counting and the donor is back to
    cleared, so the right donation can be recorded. Returns {"donation_id", "version", "replayed"}."""
    reopened: list[sa.Row] = []

    def check() -> sa.Row:
        donation = _checked_donation(session, donation_id, expected_version, allow_closed_drive)
        if not (reason or "").strip():
            raise DonationError("reason_required")
        return donation

    def update(donation: sa.Row) -> bool:
        return bool(session.execute(VOID_DONATION, {"d_id": donation.id, "d_version": donation.version,
                                                    "allow_closed_drive": allow_closed_drive,
                                                    "reason": reason.strip()}).rowcount)

    def after(donation: sa.Row) -> None:
        reopened[:] = session.execute(REOPEN_VISIT, {"v_id": donation.visit_id}).all()
        _bump_difference(session, donation, contribution(donation.outcome, donation.volume_ml, donation.voided),
                         contribution(donation.outcome, donation.volume_ml, voided=True))
        insert_audit(session, "donation_voided", staff_id=staff_id, entity="donation", entity_id=donation.id,
                     drive_id=donation.drive_id, old=_values(donation), new=_values(donation) | {"voided": True},
                     reason=reason.strip())

    result = _change(session, nonce, "void_donation", check, update, after)
    for visit in reopened if not result["replayed"] else ():
        note_written(session, Visit, visit.id, {"status": VisitStatus.CLEARED, "finished_at": None,
                                                "version": visit.version})
    return result


def record_certificate_serial(session: Session | scoped_session, *, donation_id: int, staff_id: int,
                              expected_version: int, certificate_serial: str, nonce: str,
                              allow_closed_drive: bool = True) -> dict[str, Any]:
    """Record (or change) the serial number of the official certificate handed over for a
    donation: the certificate often comes after the drive, so a closed drive allows it. Not a
    correction: no reason asked; audited with the old and new serial."""
    serial: list[str] = []

    def check() -> sa.Row:
        serial[:] = [clean_certificate_serial(certificate_serial)]
        return _checked_donation(session, donation_id, expected_version, allow_closed_drive)

    def update(donation: sa.Row) -> bool:
        return bool(session.execute(CHANGE_SERIAL, {"d_id": donation.id, "d_version": donation.version,
                                                    "allow_closed_drive": allow_closed_drive,
                                                    "new_serial": serial[0]}).rowcount)

    def after(donation: sa.Row) -> None:
        insert_audit(session, "certificate_serial_recorded", staff_id=staff_id, entity="donation",
                     entity_id=donation.id, drive_id=donation.drive_id,
                     old={"certificate_serial": donation.certificate_serial}, new={"certificate_serial": serial[0]})

    return _change(session, nonce, "record_certificate_serial", check, update, after)
