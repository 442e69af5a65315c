"""The nurse's decisions at screening: opening a donor, accepting or deferring, corrections.

Plain domain code (no Flask): the views translate `ScreeningError.code` into messages.
Every write runs once per client nonce (kiosk.idempotency.run_once), checks the version the
nurse saw, moves the live tally in the same transaction, and leaves an audit entry with the
old and new values. Nothing is deleted: a voided decision stays, marked voided."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.errors import DomainError
from kiosk import tally
from kiosk.audit import record_audit
from kiosk.database import begin_write
from kiosk.idempotency import run_once
from kiosk.models import (Donation, Donor, DriveStatus, IdentityDocument, Screening, Staff, Visit, VisitStatus,
                          utcnow)
from kiosk.screening import desk
from kiosk.screening.questionnaire import Questionnaire
from kiosk.screening.rules import VITAL_FIELDS, Rules, Vitals, load_rules

DECISIONS = ("accepted", "deferred_temporary", "deferred_permanent")
# Another nurse's claim on a donor counts for this long after she last opened the page.
CLAIM_MINUTES = 10
# A visit in these states is waiting for (or in) screening: a decision can be recorded.
UNDECIDED = (VisitStatus.CHECKED_IN, VisitStatus.IN_SCREENING)
IDENTITY_DOCUMENTS = tuple(d.value for d in IdentityDocument)
# What must be done before "accept" (TT 26/2013 Art. 7.1 and NIHBT practice): an identity
# document seen and haemoglobin measured. Accepting without either needs a written reason.
PRE_ACCEPT_CHECKS = ("identity_document", "haemoglobin_g_l")


class ScreeningError(DomainError):
    # checks_reason_required's params: missing, the PRE_ACCEPT_CHECKS not done.
    CODES = ("not_found", "not_checked_in", "already_decided", "already_donated", "invalid_decision",
             "invalid_volume", "invalid_return_date", "reason_required", "override_reason_required",
             "invalid_identity_document", "checks_reason_required", "version_conflict", "drive_closed", "voided")


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
    if claim:
        begin_write(session)
    visit = session.get(Visit, visit_id)
    if visit is None:
        session.rollback()
        raise ScreeningError("not_found")
    other_id, other_name, other_at = None, "", None
    claimed = (visit.opened_by_id is not None and visit.opened_by_id != nurse_id and visit.opened_at is not None
               and now - visit.opened_at < dt.timedelta(minutes=CLAIM_MINUTES))
    if claimed:
        other = session.get(Staff, visit.opened_by_id)
        other_id, other_name, other_at = visit.opened_by_id, other.display_name if other else "", visit.opened_at
    if not claim:
        return OpenResult(visit_id=visit.id, status=visit.status, version=visit.version,
                          other_nurse_id=other_id, other_nurse_name=other_name, other_opened_at=other_at)
    changed = False
    if not claimed:
        changed = visit.opened_by_id != nurse_id
        visit.opened_by_id, visit.opened_at = nurse_id, now
    if visit.status == VisitStatus.CHECKED_IN:
        visit.status = VisitStatus.IN_SCREENING
        changed = True
    if changed:  # the queue shows the status and who has the donor
        tally.touch_drive(session, visit.drive_id)
    result = OpenResult(visit_id=visit.id, status=visit.status, version=visit.version,
                        other_nurse_id=other_id, other_nurse_name=other_name, other_opened_at=other_at)
    session.commit()
    return result


def current_screening(session: Session, visit_id: int) -> Optional[Screening]:
    """The decision that counts: the latest one not voided."""
    return session.scalars(sa.select(Screening).where(Screening.visit_id == visit_id, Screening.voided.is_(False))
                           .order_by(Screening.id.desc()).limit(1)).first()


def is_override(decision: str, volume_ml: Optional[int], suggestion: dict[str, Any]) -> bool:
    """Does this decision go against the rules engine's suggestion?"""
    eligible = bool(suggestion.get("eligible"))
    allowed = tuple(suggestion.get("allowed_volumes") or ())
    if decision == "accepted":
        return not eligible or volume_ml not in allowed
    if eligible:
        return True
    # Softening a suggested permanent deferral into a temporary one goes against it too.
    return decision == "deferred_temporary" and bool(suggestion.get("permanent"))


def missing_checks(identity_document: Optional[str], haemoglobin_g_l: Optional[float]) -> list[str]:
    """The checks before "accept" not done: no identity document seen, no haemoglobin measured."""
    missing = []
    if not identity_document:
        missing.append("identity_document")
    if haemoglobin_g_l is None:
        missing.append("haemoglobin_g_l")
    return missing


def _check_decision(decision: str, volume_ml: Optional[int], deferral_until: Optional[dt.date], reason: str,
                    override_reason: str, suggestion: dict[str, Any], drive_date: dt.date, bag_sizes: tuple[int, ...],
                    identity_document: Optional[str] = None, haemoglobin_g_l: Optional[float] = None,
                    checks_reason: str = "") -> None:
    if identity_document and identity_document not in IDENTITY_DOCUMENTS:
        raise ScreeningError("invalid_identity_document")
    if decision not in DECISIONS:
        raise ScreeningError("invalid_decision")
    if decision == "accepted":
        if volume_ml not in bag_sizes:
            raise ScreeningError("invalid_volume")
    else:
        if not reason.strip():
            raise ScreeningError("reason_required")
        if decision == "deferred_temporary" and (deferral_until is None or deferral_until <= drive_date):
            raise ScreeningError("invalid_return_date")
    if is_override(decision, volume_ml, suggestion) and not override_reason.strip():
        raise ScreeningError("override_reason_required")
    if decision == "accepted":
        missing = missing_checks(identity_document, haemoglobin_g_l)
        if missing and not checks_reason.strip():
            raise ScreeningError("checks_reason_required", missing=missing)


def _checks_reason_kept(decision: str, identity_document: Optional[str], haemoglobin_g_l: Optional[float],
                        checks_reason: str) -> str:
    """The reason is kept only where it explains something: an acceptance without a check."""
    if decision == "accepted" and missing_checks(identity_document, haemoglobin_g_l):
        return checks_reason
    return ""


def _decision_values(screening: Screening) -> dict[str, Any]:
    return {"decision": screening.decision, "volume_ml": screening.volume_ml,
            "deferral_until": screening.deferral_until.isoformat() if screening.deferral_until else None,
            "reason": screening.reason, "override_reason": screening.override_reason,
            "identity_document": screening.identity_document, "checks_reason": screening.checks_reason,
            "voided": screening.voided}


def _tally_deltas(decision: str, sign: int) -> dict[str, int]:
    return {"screened": sign, "deferred": sign if decision.startswith("deferred") else 0}


def _status_after(decision: str) -> VisitStatus:
    return VisitStatus.CLEARED if decision == "accepted" else VisitStatus.DEFERRED


def _vitals_values(vitals: Optional[Vitals]) -> dict[str, Any]:
    if vitals is None:
        return {}
    return {name: getattr(vitals, name, None) for name in VITAL_FIELDS}


def _live_donation(session: Session, visit_id: int) -> Optional[Donation]:
    return session.scalars(sa.select(Donation).where(Donation.visit_id == visit_id, Donation.voided.is_(False))
                           .limit(1)).first()


def record_decision(session: Session, *, visit_id: int, nurse_id: int, expected_version: int,
                    vitals: Optional[Vitals], decision: str, volume_ml: Optional[int],
                    deferral_until: Optional[dt.date], reason: str, override_reason: str, rules: Rules,
                    questionnaire: Questionnaire, nonce: str, identity_document: Optional[str] = None,
                    checks_reason: str = "") -> dict[str, Any]:
    """Accept (with a volume) or defer a donor. Returns {"screening_id", "version", "status", "replayed"}.

    `identity_document` is the IdentityDocument value of the document the nurse saw (None: none);
    accepting without one, or without a haemoglobin in `vitals`, needs `checks_reason`.

    The suggestion the decision is checked against (and stored with) is worked out here, in the
    write's transaction, from the donor, the drive date, the latest answers, the last donation and
    these vitals: what the nurse's page showed is not taken on trust."""
    reason, override_reason = (reason or "").strip(), (override_reason or "").strip()
    checks_reason = (checks_reason or "").strip()
    identity_document = identity_document or None
    haemoglobin = vitals.haemoglobin_g_l if vitals is not None else None

    def write() -> dict[str, Any]:
        visit = session.get(Visit, visit_id)
        if visit is None:
            raise ScreeningError("not_found")
        if visit.drive.status == DriveStatus.CLOSED:
            raise ScreeningError("drive_closed")
        if visit.version != expected_version:
            raise ScreeningError("version_conflict", current_version=visit.version)
        if visit.status == VisitStatus.REGISTERED:
            raise ScreeningError("not_checked_in")
        if visit.status not in UNDECIDED:
            raise ScreeningError("already_decided")
        suggestion = desk.suggestion_for(session, visit, vitals, rules, questionnaire).to_dict()
        _check_decision(decision, volume_ml, deferral_until, reason, override_reason, suggestion,
                        visit.drive.drive_date, rules.volume.bag_sizes_ml, identity_document, haemoglobin, checks_reason)
        values = _vitals_values(vitals)
        screening = Screening(
            visit_id=visit.id, suggestion=suggestion, decision=decision,
            volume_ml=volume_ml if decision == "accepted" else None,
            deferral_until=deferral_until if decision == "deferred_temporary" else None,
            reason=reason, override_reason=override_reason if is_override(decision, volume_ml, suggestion) else "",
            identity_document=identity_document,
            checks_reason=_checks_reason_kept(decision, identity_document, haemoglobin, checks_reason),
            nurse_id=nurse_id, nonce=nonce, **values)
        session.add(screening)
        visit.status = _status_after(decision)
        visit.screened_at = utcnow()
        visit.version += 1
        department_id = session.scalar(sa.select(Donor.department_id).where(Donor.id == visit.donor_id))
        tally.bump(session, visit.drive_id, visit.site_id, department_id, **_tally_deltas(decision, 1))
        session.flush()
        record_audit(session, "screening_decision", staff_id=nurse_id, entity="screening", entity_id=screening.id,
                     drive_id=visit.drive_id, new={**_decision_values(screening), "visit_id": visit.id, **values},
                     reason=screening.override_reason)
        return {"screening_id": screening.id, "version": visit.version, "status": visit.status.value}

    result, replayed = run_once(session, nonce, "record_decision", write)
    return {**result, "replayed": replayed}


def _load_for_change(session: Session, screening_id: int, expected_version: int,
                     allow_closed_drive: bool) -> tuple[Screening, Visit]:
    screening = session.get(Screening, screening_id)
    if screening is None:
        raise ScreeningError("not_found")
    visit = screening.visit
    if visit.drive.status == DriveStatus.CLOSED and not allow_closed_drive:
        raise ScreeningError("drive_closed")
    if screening.version != expected_version:
        raise ScreeningError("version_conflict", current_version=screening.version)
    if screening.voided:
        raise ScreeningError("voided")
    return screening, visit


def correct_decision(session: Session, *, screening_id: int, staff_id: int, expected_version: int, decision: str,
                     volume_ml: Optional[int], deferral_until: Optional[dt.date], reason: str,
                     override_reason: str, correction_reason: str, nonce: str,
                     allow_closed_drive: bool = False, identity_document: Optional[str] = None,
                     checks_reason: Optional[str] = None, rules: Optional[Rules] = None) -> dict[str, Any]:
    """Change a recorded decision. The counts follow; the audit log keeps the old values.

    `identity_document` and `checks_reason` None keep what was recorded ("" : none seen, no
    reason); the haemoglobin is the one measured at the decision. A decision cannot become a
    deferral while a donation stands: void the donation first."""
    reason, override_reason = (reason or "").strip(), (override_reason or "").strip()
    correction_reason = (correction_reason or "").strip()

    def write() -> dict[str, Any]:
        screening, visit = _load_for_change(session, screening_id, expected_version, allow_closed_drive)
        if not correction_reason:
            raise ScreeningError("reason_required")
        identity = screening.identity_document if identity_document is None else (identity_document or None)
        checks = screening.checks_reason if checks_reason is None else checks_reason.strip()
        _check_decision(decision, volume_ml, deferral_until, reason, override_reason, screening.suggestion or {},
                        visit.drive.drive_date, (rules or load_rules()).volume.bag_sizes_ml, identity, screening.haemoglobin_g_l, checks)
        donation = _live_donation(session, visit.id)
        if donation is not None and decision != "accepted":
            raise ScreeningError("already_donated")
        old = _decision_values(screening)
        department_id = session.scalar(sa.select(Donor.department_id).where(Donor.id == visit.donor_id))
        deltas = {k: _tally_deltas(decision, 1)[k] + _tally_deltas(screening.decision, -1)[k] for k in ("screened", "deferred")}
        screening.decision = decision
        screening.volume_ml = volume_ml if decision == "accepted" else None
        screening.deferral_until = deferral_until if decision == "deferred_temporary" else None
        screening.reason = reason
        screening.override_reason = override_reason if is_override(decision, volume_ml, screening.suggestion or {}) else ""
        screening.identity_document = identity
        screening.checks_reason = _checks_reason_kept(decision, identity, screening.haemoglobin_g_l, checks)
        screening.version += 1
        if donation is None:
            visit.status = _status_after(decision)
        visit.version += 1
        tally.bump(session, visit.drive_id, visit.site_id, department_id, **deltas)
        record_audit(session, "screening_corrected", staff_id=staff_id, entity="screening", entity_id=screening.id,
                     drive_id=visit.drive_id, old=old, new=_decision_values(screening), reason=correction_reason)
        return {"screening_id": screening.id, "version": screening.version, "visit_version": visit.version,
                "status": visit.status.value}

    result, replayed = run_once(session, nonce, "correct_decision", write)
    return {**result, "replayed": replayed}


def void_decision(session: Session, *, screening_id: int, staff_id: int, expected_version: int, reason: str,
                  nonce: str, allow_closed_drive: bool = False) -> dict[str, Any]:
    """Cancel a decision recorded in error: the donor goes back to screening, the counts follow."""
    reason = (reason or "").strip()

    def write() -> dict[str, Any]:
        screening, visit = _load_for_change(session, screening_id, expected_version, allow_closed_drive)
        if not reason:
            raise ScreeningError("reason_required")
        if _live_donation(session, visit.id) is not None:
            raise ScreeningError("already_donated")
        old = _decision_values(screening)
        department_id = session.scalar(sa.select(Donor.department_id).where(Donor.id == visit.donor_id))
        screening.voided = True
        screening.void_reason = reason
        screening.version += 1
        visit.status = VisitStatus.IN_SCREENING
        visit.screened_at = None
        visit.version += 1
        tally.bump(session, visit.drive_id, visit.site_id, department_id, **_tally_deltas(screening.decision, -1))
        record_audit(session, "screening_voided", staff_id=staff_id, entity="screening", entity_id=screening.id,
                     drive_id=visit.drive_id, old=old, new=_decision_values(screening), reason=reason)
        return {"screening_id": screening.id, "version": screening.version, "visit_version": visit.version,
                "status": visit.status.value}

    result, replayed = run_once(session, nonce, "void_decision", write)
    return {**result, "replayed": replayed}
