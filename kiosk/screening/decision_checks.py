"""What every decision write checks and records: the decision's values, the checks before
"accept", and the statements' shared conditions (kiosk.screening.decisions, corrections, claims)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Optional

import sqlalchemy as sa

from kiosk.errors import DomainError
from kiosk.enums import Decision, is_deferral
from kiosk.models import Donation, Drive, DriveStatus, IdentityDocument, Screening, Visit, VisitStatus
from kiosk.screening.rules import VITAL_FIELDS, Vitals

DECISIONS = tuple(member.value for member in Decision)
# A visit in these states is waiting for (or in) screening: a decision can be recorded.
UNDECIDED = (VisitStatus.CHECKED_IN, VisitStatus.IN_SCREENING)
IDENTITY_DOCUMENTS = tuple(d.value for d in IdentityDocument)
# What must be done before "accept" (TT 26/2013 Art. 7.1 and NIHBT practice): an identity
# document seen and haemoglobin measured. Accepting without either needs a written reason.
PRE_ACCEPT_CHECKS = ("identity_document", "haemoglobin_g_l")

VISITS, SCREENINGS, DRIVES, DONATIONS = Visit.__table__, Screening.__table__, Drive.__table__, Donation.__table__
# Closing a drive does not change its visits' versions: the UPDATEs check the drive too.
VISITS_DRIVE_OPEN = sa.exists().where(DRIVES.c.id == VISITS.c.drive_id, DRIVES.c.status != DriveStatus.CLOSED)


class ScreeningError(DomainError):
    # checks_reason_required's params: missing, the PRE_ACCEPT_CHECKS not done.
    CODES = ("not_found", "not_checked_in", "already_decided", "already_donated", "invalid_decision",
             "invalid_volume", "invalid_return_date", "reason_required", "override_reason_required",
             "invalid_identity_document", "checks_reason_required", "version_conflict", "drive_closed", "voided")


@dataclass(frozen=True)
class CheckedVisit:
    """What a write needs of the visit it read and checked."""
    id: int
    drive_id: int
    site_id: Optional[int]
    status: VisitStatus
    version: int
    department_id: Optional[int]

    @classmethod
    def of(cls, visit: Visit) -> "CheckedVisit":
        return cls(visit.id, visit.drive_id, visit.site_id, visit.status, visit.version, visit.donor.department_id)


def is_override(decision: str, volume_ml: Optional[int], suggestion: dict[str, Any]) -> bool:
    """Does this decision go against the rules engine's suggestion?"""
    eligible = bool(suggestion.get("eligible"))
    allowed = tuple(suggestion.get("allowed_volumes") or ())
    if decision == Decision.ACCEPTED:
        return not eligible or volume_ml not in allowed
    if eligible:
        return True
    # Softening a suggested permanent deferral into a temporary one goes against it too.
    return decision == Decision.DEFERRED_TEMPORARY and bool(suggestion.get("permanent"))


def missing_checks(identity_document: Optional[str], haemoglobin_g_l: Optional[float]) -> list[str]:
    """The checks before "accept" not done: no identity document seen, no haemoglobin measured."""
    missing = []
    if not identity_document:
        missing.append("identity_document")
    if haemoglobin_g_l is None:
        missing.append("haemoglobin_g_l")
    return missing


def check_decision(decision: str, volume_ml: Optional[int], deferral_until: Optional[dt.date], reason: str,
                   override_reason: str, suggestion: dict[str, Any], drive_date: dt.date, bag_sizes: tuple[int, ...],
                   identity_document: Optional[str] = None, haemoglobin_g_l: Optional[float] = None,
                   checks_reason: str = "") -> None:
    """Raise the ScreeningError that refuses this decision, if any."""
    if identity_document and identity_document not in IDENTITY_DOCUMENTS:
        raise ScreeningError("invalid_identity_document")
    if decision not in DECISIONS:
        raise ScreeningError("invalid_decision")
    if decision == Decision.ACCEPTED:
        if volume_ml not in bag_sizes:
            raise ScreeningError("invalid_volume")
    else:
        if not reason.strip():
            raise ScreeningError("reason_required")
        if decision == Decision.DEFERRED_TEMPORARY and (deferral_until is None or deferral_until <= drive_date):
            raise ScreeningError("invalid_return_date")
    if is_override(decision, volume_ml, suggestion) and not override_reason.strip():
        raise ScreeningError("override_reason_required")
    if decision == Decision.ACCEPTED:
        missing = missing_checks(identity_document, haemoglobin_g_l)
        if missing and not checks_reason.strip():
            raise ScreeningError("checks_reason_required", missing=missing)


def decision_columns(decision: str, volume_ml: Optional[int], deferral_until: Optional[dt.date], reason: str,
                     override_reason: str, suggestion: dict[str, Any], identity_document: Optional[str],
                     haemoglobin_g_l: Optional[float], checks_reason: str) -> dict[str, Any]:
    """A checked decision's columns as recorded: a volume only with "accepted", a return date only
    with a temporary deferral, an override's reason only where it overrides, and the checks'
    reason only where it explains something (an acceptance without a check)."""
    return dict(decision=decision, volume_ml=volume_ml if decision == Decision.ACCEPTED else None,
                deferral_until=deferral_until if decision == Decision.DEFERRED_TEMPORARY else None, reason=reason,
                override_reason=override_reason if is_override(decision, volume_ml, suggestion) else "",
                identity_document=identity_document,
                checks_reason=checks_reason if decision == Decision.ACCEPTED and missing_checks(
                    identity_document, haemoglobin_g_l) else "")


def decision_values(screening: Any) -> dict[str, Any]:
    """What the audit keeps of a decision (a Screening, a row, or a dict of its columns)."""
    get = screening.get if isinstance(screening, dict) else lambda name: getattr(screening, name)
    deferral_until = get("deferral_until")
    return {"decision": get("decision"), "volume_ml": get("volume_ml"),
            "deferral_until": deferral_until.isoformat() if deferral_until else None,
            "reason": get("reason"), "override_reason": get("override_reason"),
            "identity_document": get("identity_document"), "checks_reason": get("checks_reason"),
            "voided": get("voided")}


def tally_deltas(decision: str, sign: int) -> dict[str, int]:
    return {"screened": sign, "deferred": sign if is_deferral(decision) else 0}


def status_after(decision: str) -> VisitStatus:
    return VisitStatus.CLEARED if decision == Decision.ACCEPTED else VisitStatus.DEFERRED


def vitals_values(vitals: Optional[Vitals]) -> dict[str, Any]:
    if vitals is None:
        return {}
    return {name: getattr(vitals, name, None) for name in VITAL_FIELDS}
