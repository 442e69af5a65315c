"""Donations: recording a bag, correcting it, voiding it. Every one counts once.

A donation is a domain function, not a view (like pretix's check-in): it locks the visit,
decides, records, keeps the live tally in the same transaction, and raises DonationError
with a machine-readable code that the views translate. Each write carries a client nonce
(kiosk.idempotency.run_once), so a retried request or a double tap answers the same without
recording twice; the visit's status and the unique index on completed donations stop a
second nurse from recording the same donor again."""
from __future__ import annotations

from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, scoped_session

from kiosk.errors import DomainError
from kiosk import tally
from kiosk.audit import record_audit
from kiosk.idempotency import run_once
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
    bag = bag_number.strip() if isinstance(bag_number, str) else ""
    if not bag or len(bag) > MAX_BAG_NUMBER_LENGTH:
        raise DonationError("invalid_bag_number", max=MAX_BAG_NUMBER_LENGTH)
    return volume_ml, bag


def clean_certificate_serial(serial: Any) -> str:
    """The official certificate's serial as stored: trimmed, inner spaces collapsed, upper case (so
    a search finds it however it is typed); "" for none. Refused (invalid_certificate_serial) when
    longer than the column."""
    text = " ".join(serial.split()).upper() if isinstance(serial, str) else ""
    if len(text) > MAX_CERTIFICATE_SERIAL_LENGTH:
        raise DonationError("invalid_certificate_serial", max=MAX_CERTIFICATE_SERIAL_LENGTH)
    return text


def _bag_number_taken(session: Session, drive_id: int, bag_number: str, except_id: Optional[int] = None) -> bool:
    query = sa.select(Donation.id).where(Donation.drive_id == drive_id, Donation.bag_number == bag_number)
    if except_id is not None:
        query = query.where(Donation.id != except_id)
    return session.scalars(query.limit(1)).first() is not None


def _check_drive_open(session: Session, drive_id: int, allow_closed_drive: bool) -> None:
    status = session.scalar(sa.select(Drive.status).where(Drive.id == drive_id))
    if status == DriveStatus.CLOSED and not allow_closed_drive:
        raise DonationError("drive_closed")


def _lock_visit(session: Session, visit_id: int) -> Optional[Visit]:
    # FOR UPDATE matters on PostgreSQL (two nurses on one donor queue here); SQLite's
    # BEGIN IMMEDIATE already serialises writers and ignores the clause.
    return session.scalars(sa.select(Visit).where(Visit.id == visit_id).with_for_update()).first()


def _lock_donation(session: Session, donation_id: int) -> Optional[Donation]:
    return session.scalars(sa.select(Donation).where(Donation.id == donation_id).with_for_update()).first()


def _department_of(session: Session, visit: Visit) -> Optional[int]:
    return session.scalar(sa.select(Donor.department_id).where(Donor.id == visit.donor_id))


def _flush_or_bag_taken(session: Session) -> None:
    # On PostgreSQL another drive's writer may take the same bag number between our check
    # and our insert: the unique constraint answers, inside a savepoint so we can say why.
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as error:
        text = str(error.orig).lower()
        if "bag_number" in text:
            raise DonationError("bag_number_taken") from None
        if "one_completed_per_visit" in text or "donation.visit_id" in text:
            raise DonationError("already_donated") from None
        raise


def _values(donation: Donation) -> dict[str, Any]:
    return {"volume_ml": donation.volume_ml, "bag_number": donation.bag_number, "outcome": donation.outcome,
            "reaction": donation.reaction, "reaction_note": donation.reaction_note,
            "certificate_serial": donation.certificate_serial, "voided": donation.voided}


def record_donation(session: Session | scoped_session, *, visit_id: int, nurse_id: int, volume_ml: int,
                    bag_number: str, outcome: str, reaction: str = "none", reaction_note: str = "",
                    nonce: str, certificate_serial: str = "") -> dict[str, Any]:
    """Record the donation of a cleared donor, once per nonce, and commit. `certificate_serial`:
    the serial number of the official certificate handed over, if it is known already.

    Returns {"donation_id", "version" (the donation's), "visit_version", "replayed"}."""

    def write() -> dict[str, Any]:
        volume, bag = _check_values(volume_ml, bag_number, outcome, reaction)
        serial = clean_certificate_serial(certificate_serial)
        visit = _lock_visit(session, visit_id)
        if visit is None:
            raise DonationError("not_found")
        _check_drive_open(session, visit.drive_id, allow_closed_drive=False)
        if visit.status == VisitStatus.DONE:
            raise DonationError("already_donated")
        if visit.status not in (VisitStatus.CLEARED, VisitStatus.DONATING):
            raise DonationError("not_cleared")
        if _bag_number_taken(session, visit.drive_id, bag):
            raise DonationError("bag_number_taken")
        donation = Donation(visit_id=visit.id, drive_id=visit.drive_id, volume_ml=volume, bag_number=bag,
                            outcome=outcome, reaction=reaction, reaction_note=(reaction_note or "").strip(),
                            certificate_serial=serial, nurse_id=nurse_id, nonce=nonce)
        session.add(donation)
        _flush_or_bag_taken(session)
        visit.status = VisitStatus.DONE
        visit.finished_at = utcnow()
        visit.version += 1
        tally.bump(session, visit.drive_id, visit.site_id, _department_of(session, visit),
                   **contribution(outcome, volume, voided=False))
        record_audit(session, "donation_recorded", staff_id=nurse_id, entity="donation", entity_id=donation.id,
                     drive_id=visit.drive_id, new=_values(donation) | {"visit_id": visit.id})
        session.flush()
        return {"donation_id": donation.id, "version": donation.version, "visit_version": visit.version}

    result, replayed = run_once(session, nonce, "record_donation", write)
    return result | {"replayed": replayed}


def _load_for_change(session: Session, donation_id: int, expected_version: int, reason: str,
                     allow_closed_drive: bool) -> Donation:
    donation = _lock_donation(session, donation_id)
    if donation is None or donation.voided:
        raise DonationError("not_found")
    _check_drive_open(session, donation.drive_id, allow_closed_drive)
    if donation.version != expected_version:
        raise DonationError("version_conflict", current_version=donation.version)
    if not (reason or "").strip():
        raise DonationError("reason_required")
    return donation


def _bump_difference(session: Session, visit: Visit, before: dict[str, int], after: dict[str, int]) -> None:
    tally.bump(session, visit.drive_id, visit.site_id, _department_of(session, visit),
               **{name: after[name] - before[name] for name in before})


def correct_donation(session: Session | scoped_session, *, donation_id: int, staff_id: int,
                     expected_version: int, volume_ml: int, bag_number: str, outcome: str, reaction: str,
                     reaction_note: str, reason: str, nonce: str, allow_closed_drive: bool = False,
                     certificate_serial: Optional[str] = None) -> dict[str, Any]:
    """Change a recorded donation (a wrong volume, bag number or outcome). The tally follows the
    difference; the audit log keeps the old and new values. Returns {"donation_id", "version", "replayed"}.
    `certificate_serial` None keeps the recorded serial."""

    def write() -> dict[str, Any]:
        donation = _load_for_change(session, donation_id, expected_version, reason, allow_closed_drive)
        volume, bag = _check_values(volume_ml, bag_number, outcome, reaction)
        serial = donation.certificate_serial if certificate_serial is None else clean_certificate_serial(
            certificate_serial)
        if bag != donation.bag_number and _bag_number_taken(session, donation.drive_id, bag, except_id=donation.id):
            raise DonationError("bag_number_taken")
        visit = _lock_visit(session, donation.visit_id)
        old = _values(donation)
        before = contribution(donation.outcome, donation.volume_ml, donation.voided)
        donation.volume_ml, donation.bag_number, donation.outcome = volume, bag, outcome
        donation.reaction, donation.reaction_note = reaction, (reaction_note or "").strip()
        donation.certificate_serial = serial
        donation.version += 1
        _flush_or_bag_taken(session)
        _bump_difference(session, visit, before, contribution(outcome, volume, voided=False))
        record_audit(session, "donation_corrected", staff_id=staff_id, entity="donation", entity_id=donation.id,
                     drive_id=donation.drive_id, old=old, new=_values(donation), reason=reason.strip())
        return {"donation_id": donation.id, "version": donation.version}

    result, replayed = run_once(session, nonce, "correct_donation", write)
    return result | {"replayed": replayed}


def void_donation(session: Session | scoped_session, *, donation_id: int, staff_id: int, expected_version: int,
                  reason: str, nonce: str, allow_closed_drive: bool = False) -> dict[str, Any]:
    """Cancel a donation recorded by mistake: it stops counting and the donor is back to
    cleared, so the right donation can be recorded. Returns {"donation_id", "version", "replayed"}."""

    def write() -> dict[str, Any]:
        donation = _load_for_change(session, donation_id, expected_version, reason, allow_closed_drive)
        visit = _lock_visit(session, donation.visit_id)
        old = _values(donation)
        before = contribution(donation.outcome, donation.volume_ml, donation.voided)
        donation.voided = True
        donation.void_reason = reason.strip()
        donation.version += 1
        if visit.status == VisitStatus.DONE:
            visit.status = VisitStatus.CLEARED
            visit.finished_at = None
            visit.version += 1
        _bump_difference(session, visit, before, contribution(donation.outcome, donation.volume_ml, voided=True))
        record_audit(session, "donation_voided", staff_id=staff_id, entity="donation", entity_id=donation.id,
                     drive_id=donation.drive_id, old=old, new=_values(donation), reason=reason.strip())
        session.flush()
        return {"donation_id": donation.id, "version": donation.version}

    result, replayed = run_once(session, nonce, "void_donation", write)
    return result | {"replayed": replayed}


def record_certificate_serial(session: Session | scoped_session, *, donation_id: int, staff_id: int,
                              expected_version: int, certificate_serial: str, nonce: str,
                              allow_closed_drive: bool = True) -> dict[str, Any]:
    """Record (or change) the serial number of the official certificate handed over for a
    donation: the certificate often comes after the drive, so a closed drive allows it. Not a
    correction: no reason asked; audited with the old and new serial."""

    def write() -> dict[str, Any]:
        serial = clean_certificate_serial(certificate_serial)
        donation = _lock_donation(session, donation_id)
        if donation is None or donation.voided:
            raise DonationError("not_found")
        _check_drive_open(session, donation.drive_id, allow_closed_drive)
        if donation.version != expected_version:
            raise DonationError("version_conflict", current_version=donation.version)
        old = {"certificate_serial": donation.certificate_serial}
        donation.certificate_serial = serial
        donation.version += 1
        session.flush()
        record_audit(session, "certificate_serial_recorded", staff_id=staff_id, entity="donation",
                     entity_id=donation.id, drive_id=donation.drive_id, old=old,
                     new={"certificate_serial": serial})
        return {"donation_id": donation.id, "version": donation.version}

    result, replayed = run_once(session, nonce, "record_certificate_serial", write)
    return result | {"replayed": replayed}
