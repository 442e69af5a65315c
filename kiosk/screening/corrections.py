"""Corrections of a recorded decision: changing it (correct_decision) or voiding it (void_decision).

The counts follow, the audit keeps the old values, nothing is deleted. Both follow
kiosk.idempotency's `write_once`: the decision is read and checked before the write; the one
conditional UPDATE is of the decision, at the version read, while its visit is as read (a
donation recorded meanwhile moves the visit on) and its drive open (unless a closed drive is
allowed); then the visit, the tally and the audit."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk import tally
from kiosk.audit import insert_audit
from kiosk.database import expire_rows, note_written
from kiosk.idempotency import Done, write_once
from kiosk.enums import Decision
from kiosk.models import DriveStatus, Screening, Visit, VisitStatus
from kiosk.screening.decision_checks import (DONATIONS, SCREENINGS, VISITS, VISITS_DRIVE_OPEN, CheckedVisit,
                                             ScreeningError, check_decision, decision_columns, decision_values,
                                             status_after, tally_deltas)
from kiosk.screening.rules import Rules, load_rules

# The statements, built once.
LIVE_DONATION = sa.select(DONATIONS.c.id).where(DONATIONS.c.visit_id == sa.bindparam("visit_id"),
                                                DONATIONS.c.voided.is_(False)).limit(1)
# A correction or a void changes the decision only while it and its visit are as they were read
# (a donation recorded meanwhile moves the visit on) and its drive is open, unless allowed closed.
_SAME_DECISION = (
    SCREENINGS.c.id == sa.bindparam("s_id"), SCREENINGS.c.version == sa.bindparam("s_version"),
    SCREENINGS.c.voided.is_(False),
    sa.exists().where(VISITS.c.id == SCREENINGS.c.visit_id, VISITS.c.version == sa.bindparam("v_version"),
                      sa.or_(sa.bindparam("allow_closed_drive", type_=sa.Boolean), VISITS_DRIVE_OPEN)),
)
CHANGE_SCREENING = sa.update(SCREENINGS).where(*_SAME_DECISION).values(
    decision=sa.bindparam("new_decision"), volume_ml=sa.bindparam("new_volume_ml"),
    deferral_until=sa.bindparam("new_deferral_until"), reason=sa.bindparam("new_reason"),
    override_reason=sa.bindparam("new_override_reason"), identity_document=sa.bindparam("new_identity_document"),
    checks_reason=sa.bindparam("new_checks_reason"), version=SCREENINGS.c.version + 1)
VOID_SCREENING = sa.update(SCREENINGS).where(*_SAME_DECISION).values(
    voided=True, void_reason=sa.bindparam("new_void_reason"), version=SCREENINGS.c.version + 1)
# After the decision's conditional UPDATE matched, the visit is as it was read: by id.
VISIT_STATUS = sa.update(VISITS).where(VISITS.c.id == sa.bindparam("v_id")).values(
    status=sa.bindparam("new_status"), version=VISITS.c.version + 1)
VISIT_BACK_TO_SCREENING = sa.update(VISITS).where(VISITS.c.id == sa.bindparam("v_id")).values(
    status=VisitStatus.IN_SCREENING, screened_at=None, version=VISITS.c.version + 1)


@dataclass(frozen=True)
class _Decision:
    """What a correction or a void needs of the decision it read and checked."""
    id: int
    version: int
    values: dict[str, Any]  # decision_values
    haemoglobin_g_l: Optional[int]
    suggestion: dict[str, Any]
    visit: CheckedVisit
    drive_date: dt.date
    donated: bool  # a donation stands on the visit
    new: dict[str, Any] = field(default_factory=dict)  # a correction's columns, checked (decision_columns)


def _checked_decision(session: Session, screening_id: int, expected_version: int,
                      allow_closed_drive: bool) -> _Decision:
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
    return _Decision(screening.id, screening.version, decision_values(screening), screening.haemoglobin_g_l,
                     screening.suggestion or {}, CheckedVisit.of(visit), visit.drive.drive_date,
                     donated=session.execute(LIVE_DONATION, {"visit_id": visit.id}).first() is not None)


def _as_read(decision: _Decision, allow_closed_drive: bool) -> dict[str, Any]:
    """The _SAME_DECISION condition's parameters."""
    return {"s_id": decision.id, "s_version": decision.version, "v_version": decision.visit.version,
            "allow_closed_drive": allow_closed_drive}


def _version_conflict(decision: _Decision) -> ScreeningError:
    return ScreeningError("version_conflict", current_version=decision.version)


def _changed(decision: _Decision, status: VisitStatus) -> dict[str, Any]:
    """A correction's or a void's answer."""
    return {"screening_id": decision.id, "version": decision.version + 1, "visit_version": decision.visit.version + 1,
            "status": status.value}


def _tell_the_session(session: Session, done: Done, visit_after: Callable[[_Decision], dict[str, Any]]) -> dict[str, Any]:
    """The objects the request loaded are not expired at the commit: tell them what changed."""
    if done.replayed:
        session.expire_all()  # what the earlier request changed: rare, and read again if used
    else:
        expire_rows(session, Screening, [done.result["screening_id"]])
        note_written(session, Visit, done.checked.visit.id,
                     {**visit_after(done.checked), "version": done.result["visit_version"]})
    return {**done.result, "replayed": done.replayed}


@dataclass(frozen=True)
class _Correction:
    screening_id: int
    staff_id: int
    expected_version: int
    decision: str
    volume_ml: Optional[int]
    deferral_until: Optional[dt.date]
    reason: str
    override_reason: str
    correction_reason: str
    allow_closed_drive: bool
    identity_document: Optional[str]  # None: keep what was recorded; "": none seen
    checks_reason: Optional[str]  # None: keep what was recorded
    bag_sizes: tuple[int, ...]


def correct_decision(session: Session, *, screening_id: int, staff_id: int, expected_version: int, decision: str,
                     volume_ml: Optional[int], deferral_until: Optional[dt.date], reason: str,
                     override_reason: str, correction_reason: str, nonce: str,
                     allow_closed_drive: bool = False, identity_document: Optional[str] = None,
                     checks_reason: Optional[str] = None, rules: Optional[Rules] = None) -> dict[str, Any]:
    """Change a recorded decision. The counts follow; the audit log keeps the old values.

    `identity_document` and `checks_reason` None keep what was recorded ("" : none seen, no
    reason); the haemoglobin is the one measured at the decision. A decision cannot become a
    deferral while a donation stands: void the donation first."""
    asked = _Correction(screening_id, staff_id, expected_version, decision, volume_ml, deferral_until,
                        (reason or "").strip(), (override_reason or "").strip(), (correction_reason or "").strip(),
                        allow_closed_drive, identity_document, checks_reason,
                        (rules or load_rules()).volume.bag_sizes_ml)
    done = write_once(
        session, nonce, "correct_decision",
        check=lambda: _check_correction(session, asked),
        update=lambda checked: bool(session.execute(CHANGE_SCREENING, _as_read(checked, allow_closed_drive) | {
            f"new_{name}": value for name, value in checked.new.items()}).rowcount),
        conflict=_version_conflict,
        write=lambda checked: _record_correction(session, asked, checked))
    return _tell_the_session(session, done, lambda checked: {"status": _status_after_correction(checked)})


def _check_correction(session: Session, asked: _Correction) -> _Decision:
    checked = _checked_decision(session, asked.screening_id, asked.expected_version, asked.allow_closed_drive)
    if not asked.correction_reason:
        raise ScreeningError("reason_required")
    identity = (checked.values["identity_document"] if asked.identity_document is None
                else (asked.identity_document or None))
    checks = checked.values["checks_reason"] if asked.checks_reason is None else asked.checks_reason.strip()
    check_decision(asked.decision, asked.volume_ml, asked.deferral_until, asked.reason, asked.override_reason,
                   checked.suggestion, checked.drive_date, asked.bag_sizes, identity, checked.haemoglobin_g_l, checks)
    if checked.donated and asked.decision != Decision.ACCEPTED:
        raise ScreeningError("already_donated")
    return replace(checked, new=decision_columns(asked.decision, asked.volume_ml, asked.deferral_until, asked.reason,
                                                 asked.override_reason, checked.suggestion, identity,
                                                 checked.haemoglobin_g_l, checks))


def _status_after_correction(checked: _Decision) -> VisitStatus:
    # A donation stands (an acceptance corrected): the visit stays done, one version on.
    return checked.visit.status if checked.donated else status_after(checked.new["decision"])


def _record_correction(session: Session, asked: _Correction, checked: _Decision) -> dict[str, Any]:
    visit, status = checked.visit, _status_after_correction(checked)
    session.execute(VISIT_STATUS, {"v_id": visit.id, "new_status": status})
    deltas = {k: tally_deltas(asked.decision, 1)[k] + tally_deltas(checked.values["decision"], -1)[k]
              for k in ("screened", "deferred")}
    tally.bump(session, visit.drive_id, visit.site_id, visit.department_id, **deltas)
    insert_audit(session, "screening_corrected", staff_id=asked.staff_id, entity="screening", entity_id=checked.id,
                 drive_id=visit.drive_id, old=checked.values, new=decision_values({**checked.new, "voided": False}),
                 reason=asked.correction_reason)
    return _changed(checked, status)


def void_decision(session: Session, *, screening_id: int, staff_id: int, expected_version: int, reason: str,
                  nonce: str, allow_closed_drive: bool = False) -> dict[str, Any]:
    """Cancel a decision recorded in error: the donor goes back to screening, the counts follow."""
    reason = (reason or "").strip()
    done = write_once(
        session, nonce, "void_decision",
        check=lambda: _check_void(session, screening_id, expected_version, allow_closed_drive, reason),
        update=lambda checked: bool(session.execute(VOID_SCREENING, _as_read(checked, allow_closed_drive) | {
            "new_void_reason": reason}).rowcount),
        conflict=_version_conflict,
        write=lambda checked: _record_void(session, checked, staff_id, reason))
    return _tell_the_session(session, done, lambda _checked: {"status": VisitStatus.IN_SCREENING, "screened_at": None})


def _check_void(session: Session, screening_id: int, expected_version: int, allow_closed_drive: bool,
                reason: str) -> _Decision:
    checked = _checked_decision(session, screening_id, expected_version, allow_closed_drive)
    if not reason:
        raise ScreeningError("reason_required")
    if checked.donated:
        raise ScreeningError("already_donated")
    return checked


def _record_void(session: Session, checked: _Decision, staff_id: int, reason: str) -> dict[str, Any]:
    visit = checked.visit
    session.execute(VISIT_BACK_TO_SCREENING, {"v_id": visit.id})
    tally.bump(session, visit.drive_id, visit.site_id, visit.department_id,
               **tally_deltas(checked.values["decision"], -1))
    insert_audit(session, "screening_voided", staff_id=staff_id, entity="screening", entity_id=checked.id,
                 drive_id=visit.drive_id, old=checked.values, new=checked.values | {"voided": True}, reason=reason)
    return _changed(checked, VisitStatus.IN_SCREENING)
