"""The nurse's decisions at screening: accepting or deferring a donor (record_decision).

Plain domain code (no Flask): the views translate `ScreeningError.code` into messages. Every
write runs once per client nonce, checks the version the nurse saw, moves the live tally in the
same transaction, and leaves an audit entry with the old and new values. Nothing is deleted: a
voided decision stays, marked voided. The nurse's other writes live beside this module and are
importable from it: the claim on a donor (claims.open_visit) and the corrections of a decision
(corrections.correct_decision, void_decision).

A decision follows kiosk.idempotency's `write_once`: `_check` reads the visit and works out the
rules engine's suggestion before the write; `_decide_visit` is the one conditional UPDATE (the
visit at the version checked, undecided, its drive open); `_record_screening` inserts the
decision, moves the tally and writes the audit."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk import tally
from kiosk.audit import insert_audit
from kiosk.database import expire_rows, note_written
from kiosk.idempotency import write_once
from kiosk.models import DriveStatus, Screening, Visit, VisitStatus, utcnow
from kiosk.screening import desk
from kiosk.screening.claims import CLAIM_MINUTES, OpenResult, open_visit  # noqa: F401 (importable from here)
from kiosk.screening.corrections import correct_decision, void_decision  # noqa: F401 (importable from here)
from kiosk.screening.decision_checks import (DECISIONS, IDENTITY_DOCUMENTS, PRE_ACCEPT_CHECKS,  # noqa: F401
                                             SCREENINGS, UNDECIDED, VISITS, VISITS_DRIVE_OPEN, CheckedVisit,
                                             ScreeningError, check_decision, decision_columns, decision_values,
                                             is_override, missing_checks, status_after, tally_deltas, vitals_values)
from kiosk.screening.questionnaire import Questionnaire
from kiosk.screening.rules import Rules, Vitals

# The statements, built once.
DECIDE_VISIT = (
    sa.update(VISITS)
    .where(VISITS.c.id == sa.bindparam("v_id"), VISITS.c.version == sa.bindparam("v_version"),
           VISITS.c.status.in_(UNDECIDED), VISITS_DRIVE_OPEN)
    .values(status=sa.bindparam("new_status"), screened_at=sa.bindparam("now"), version=VISITS.c.version + 1)
)
INSERT_SCREENING = sa.insert(SCREENINGS).returning(SCREENINGS.c.id)


def current_screening(session: Session, visit_id: int) -> Optional[Screening]:
    """The decision that counts: the latest one not voided."""
    return session.scalars(sa.select(Screening).where(Screening.visit_id == visit_id, Screening.voided.is_(False))
                           .order_by(Screening.id.desc()).limit(1)).first()


@dataclass(frozen=True)
class _Decision:
    """What the nurse decided, about which visit, at which version of it (reasons stripped)."""
    visit_id: int
    nurse_id: int
    expected_version: int
    vitals: Optional[Vitals]
    decision: str
    volume_ml: Optional[int]
    deferral_until: Optional[dt.date]
    reason: str
    override_reason: str
    identity_document: Optional[str]  # None: none seen
    checks_reason: str
    rules: Rules
    questionnaire: Questionnaire
    nonce: str
    now: dt.datetime

    @property
    def haemoglobin_g_l(self) -> Optional[float]:
        return self.vitals.haemoglobin_g_l if self.vitals is not None else None

    @property
    def status(self) -> VisitStatus:
        return status_after(self.decision)


@dataclass(frozen=True)
class _Checked:
    visit: CheckedVisit
    suggestion: dict[str, Any]  # the rules engine's, worked out from the visit as read


def record_decision(session: Session, *, visit_id: int, nurse_id: int, expected_version: int,
                    vitals: Optional[Vitals], decision: str, volume_ml: Optional[int],
                    deferral_until: Optional[dt.date], reason: str, override_reason: str, rules: Rules,
                    questionnaire: Questionnaire, nonce: str, identity_document: Optional[str] = None,
                    checks_reason: str = "") -> dict[str, Any]:
    """Accept (with a volume) or defer a donor. Returns {"screening_id", "version", "status", "replayed"}.

    `identity_document` is the IdentityDocument value of the document the nurse saw (None: none);
    accepting without one, or without a haemoglobin in `vitals`, needs `checks_reason`.

    The suggestion the decision is checked against (and stored with) is worked out here, from the
    donor, the drive date, the latest answers, the last donation and these vitals, right before
    the write (which records it only if the visit is still the version it was worked out for):
    what the nurse's page showed is not taken on trust."""
    asked = _Decision(visit_id, nurse_id, expected_version, vitals, decision, volume_ml, deferral_until,
                      (reason or "").strip(), (override_reason or "").strip(), identity_document or None,
                      (checks_reason or "").strip(), rules, questionnaire, nonce, now=utcnow())
    done = write_once(
        session, nonce, "record_decision",
        check=lambda: _check(session, asked),
        update=lambda checked: _decide_visit(session, asked, checked),
        conflict=lambda checked: ScreeningError("version_conflict", current_version=checked.visit.version),
        write=lambda checked: _record_screening(session, asked, checked))
    # The objects the request loaded are not expired at the commit: tell them what changed.
    if done.replayed:
        expire_rows(session, Visit, [visit_id])
    else:
        note_written(session, Visit, visit_id, {"status": asked.status, "screened_at": asked.now,
                                                "version": done.result["version"]})
    return {**done.result, "replayed": done.replayed}


def _check(session: Session, asked: _Decision) -> _Checked:
    """Read the visit, work out the suggestion, and refuse what may not be recorded."""
    visit = session.get(Visit, asked.visit_id)
    if visit is None:
        raise ScreeningError("not_found")
    if visit.drive.status == DriveStatus.CLOSED:
        raise ScreeningError("drive_closed")
    if visit.version != asked.expected_version:
        raise ScreeningError("version_conflict", current_version=visit.version)
    if visit.status == VisitStatus.REGISTERED:
        raise ScreeningError("not_checked_in")
    if visit.status not in UNDECIDED:
        raise ScreeningError("already_decided")
    suggestion = desk.suggestion_for(session, visit, asked.vitals, asked.rules, asked.questionnaire).to_dict()
    check_decision(asked.decision, asked.volume_ml, asked.deferral_until, asked.reason, asked.override_reason,
                   suggestion, visit.drive.drive_date, asked.rules.volume.bag_sizes_ml, asked.identity_document,
                   asked.haemoglobin_g_l, asked.checks_reason)
    return _Checked(CheckedVisit.of(visit), suggestion)


def _decide_visit(session: Session, asked: _Decision, checked: _Checked) -> bool:
    """The conditional UPDATE: False when the visit changed since it was checked."""
    return bool(session.execute(DECIDE_VISIT, {"v_id": checked.visit.id, "v_version": checked.visit.version,
                                               "new_status": asked.status, "now": asked.now}).rowcount)


def _record_screening(session: Session, asked: _Decision, checked: _Checked) -> dict[str, Any]:
    """Once the visit is decided: the decision's row, the tally, the audit."""
    visit, values = checked.visit, vitals_values(asked.vitals)
    screening = dict(
        visit_id=visit.id, suggestion=checked.suggestion,
        **decision_columns(asked.decision, asked.volume_ml, asked.deferral_until, asked.reason, asked.override_reason,
                           checked.suggestion, asked.identity_document, asked.haemoglobin_g_l, asked.checks_reason),
        voided=False, nurse_id=asked.nurse_id, nonce=asked.nonce, **values)
    screening_id = session.execute(INSERT_SCREENING, screening).scalar_one()
    tally.bump(session, visit.drive_id, visit.site_id, visit.department_id, **tally_deltas(asked.decision, 1))
    insert_audit(session, "screening_decision", staff_id=asked.nurse_id, entity="screening", entity_id=screening_id,
                 drive_id=visit.drive_id, new={**decision_values(screening), "visit_id": visit.id, **values},
                 reason=screening["override_reason"])
    return {"screening_id": screening_id, "version": visit.version + 1, "status": asked.status.value}
