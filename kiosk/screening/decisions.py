"""The nurse's decisions at screening: opening a donor, accepting or deferring, corrections.

Plain domain code (no Flask): the views translate `ScreeningError.code` into messages.
Every write runs once per client nonce (kiosk.idempotency), checks the version the nurse saw,
moves the live tally in the same transaction, and leaves an audit entry with the old and new
values. Nothing is deleted: a voided decision stays, marked voided.

A claim, a decision, a correction and a void read and check everything before their write transaction
(the ORM and the rules engine are fine there) and, inside it, run only prebuilt Core statements:
an UPDATE conditional on the versions and status they read (matching nothing when the visit or
the decision changed meanwhile: they read and decide again), an INSERT ... RETURNING, the
tally's, the audit's and the receipt's statements. SQLite's writer queue is held for those few
statements only (issue 14)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.errors import DomainError
from kiosk import tally
from kiosk.audit import insert_audit
from kiosk.database import expire_rows, note_written, read_again, write_checked, write_transaction
from kiosk.idempotency import run_checked_once
from kiosk.models import (Donation, Drive, DriveStatus, IdentityDocument, Screening, Staff, Visit,
                          VisitStatus, utcnow)
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

    With claim=False, only what a claim would find (the donor's page, a GET): nothing is written.

    Like a decision, the claim reads before its write transaction and, inside it, runs one UPDATE
    conditional on the claim and status it read (and the drive's touch): a claim taken meanwhile
    makes it match nothing, and it reads and decides again."""
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


def _decision_values(screening: Any) -> dict[str, Any]:
    """What the audit keeps of a decision (a Screening, a row, or a dict of its columns)."""
    get = screening.get if isinstance(screening, dict) else lambda name: getattr(screening, name)
    deferral_until = get("deferral_until")
    return {"decision": get("decision"), "volume_ml": get("volume_ml"),
            "deferral_until": deferral_until.isoformat() if deferral_until else None,
            "reason": get("reason"), "override_reason": get("override_reason"),
            "identity_document": get("identity_document"), "checks_reason": get("checks_reason"),
            "voided": get("voided")}


def _tally_deltas(decision: str, sign: int) -> dict[str, int]:
    return {"screened": sign, "deferred": sign if decision.startswith("deferred") else 0}


def _status_after(decision: str) -> VisitStatus:
    return VisitStatus.CLEARED if decision == "accepted" else VisitStatus.DEFERRED


def _vitals_values(vitals: Optional[Vitals]) -> dict[str, Any]:
    if vitals is None:
        return {}
    return {name: getattr(vitals, name, None) for name in VITAL_FIELDS}


VISITS, SCREENINGS, DRIVES, DONATIONS = Visit.__table__, Screening.__table__, Drive.__table__, Donation.__table__

# The statements, built once.
LIVE_DONATION = sa.select(DONATIONS.c.id).where(DONATIONS.c.visit_id == sa.bindparam("visit_id"),
                                                DONATIONS.c.voided.is_(False)).limit(1)
# Closing a drive does not change its visits' versions: the UPDATEs check the drive too.
_VISITS_DRIVE_OPEN = sa.exists().where(DRIVES.c.id == VISITS.c.drive_id, DRIVES.c.status != DriveStatus.CLOSED)
DECIDE_VISIT = (
    sa.update(VISITS)
    .where(VISITS.c.id == sa.bindparam("v_id"), VISITS.c.version == sa.bindparam("v_version"),
           VISITS.c.status.in_(UNDECIDED), _VISITS_DRIVE_OPEN)
    .values(status=sa.bindparam("new_status"), screened_at=sa.bindparam("now"), version=VISITS.c.version + 1)
)
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
INSERT_SCREENING = sa.insert(SCREENINGS).returning(SCREENINGS.c.id)
# A correction or a void changes the decision only while it and its visit are as they were read
# (a donation recorded meanwhile moves the visit on) and its drive is open, unless allowed closed.
_SAME_DECISION = (
    SCREENINGS.c.id == sa.bindparam("s_id"), SCREENINGS.c.version == sa.bindparam("s_version"),
    SCREENINGS.c.voided.is_(False),
    sa.exists().where(VISITS.c.id == SCREENINGS.c.visit_id, VISITS.c.version == sa.bindparam("v_version"),
                      sa.or_(sa.bindparam("allow_closed_drive", type_=sa.Boolean), _VISITS_DRIVE_OPEN)),
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


def _has_live_donation(session: Session, visit_id: int) -> bool:
    return session.execute(LIVE_DONATION, {"visit_id": visit_id}).first() is not None


@dataclass(frozen=True)
class _Visit:
    """What a write needs of the visit it read and checked."""
    id: int
    drive_id: int
    site_id: Optional[int]
    status: VisitStatus
    version: int
    department_id: Optional[int]

    @classmethod
    def of(cls, visit: Visit) -> "_Visit":
        return cls(visit.id, visit.drive_id, visit.site_id, visit.status, visit.version, visit.donor.department_id)


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
    reason, override_reason = (reason or "").strip(), (override_reason or "").strip()
    checks_reason = (checks_reason or "").strip()
    identity_document = identity_document or None
    haemoglobin = vitals.haemoglobin_g_l if vitals is not None else None
    status = _status_after(decision)
    now = utcnow()

    def check() -> tuple[_Visit, dict[str, Any]]:
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
        return _Visit.of(visit), suggestion

    def decide(checked: tuple[_Visit, dict[str, Any]]) -> bool:
        visit = checked[0]
        return bool(session.execute(DECIDE_VISIT, {"v_id": visit.id, "v_version": visit.version,
                                                   "new_status": status, "now": now}).rowcount)

    def write(checked: tuple[_Visit, dict[str, Any]]) -> dict[str, Any]:
        matched = write_checked(read_again(session, check), checked, decide)
        if matched is None:
            raise ScreeningError("version_conflict", current_version=checked[0].version)
        visit, suggestion = matched
        values = _vitals_values(vitals)
        screening = dict(
            visit_id=visit.id, suggestion=suggestion, decision=decision,
            volume_ml=volume_ml if decision == "accepted" else None,
            deferral_until=deferral_until if decision == "deferred_temporary" else None,
            reason=reason, override_reason=override_reason if is_override(decision, volume_ml, suggestion) else "",
            identity_document=identity_document,
            checks_reason=_checks_reason_kept(decision, identity_document, haemoglobin, checks_reason),
            voided=False, nurse_id=nurse_id, nonce=nonce, **values)
        screening_id = session.execute(INSERT_SCREENING, screening).scalar_one()
        tally.bump(session, visit.drive_id, visit.site_id, visit.department_id, **_tally_deltas(decision, 1))
        insert_audit(session, "screening_decision", staff_id=nurse_id, entity="screening", entity_id=screening_id,
                     drive_id=visit.drive_id, new={**_decision_values(screening), "visit_id": visit.id, **values},
                     reason=screening["override_reason"])
        return {"screening_id": screening_id, "version": visit.version + 1, "status": status.value}

    result, replayed = run_checked_once(session, nonce, "record_decision", check, write)
    if replayed:
        expire_rows(session, Visit, [visit_id])
    else:
        note_written(session, Visit, visit_id, {"status": status, "screened_at": now, "version": result["version"]})
    return {**result, "replayed": replayed}


@dataclass(frozen=True)
class _Decision:
    """What a correction or a void needs of the decision it read and checked."""
    id: int
    version: int
    values: dict[str, Any]  # _decision_values
    haemoglobin_g_l: Optional[int]
    suggestion: dict[str, Any]
    visit: _Visit
    drive_date: dt.date
    donated: bool  # a donation stands on the visit


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
    return _Decision(screening.id, screening.version, _decision_values(screening), screening.haemoglobin_g_l,
                     screening.suggestion or {}, _Visit.of(visit), visit.drive.drive_date,
                     _has_live_donation(session, visit.id))


def _change(session: Session, nonce: str, action: str, check, update, after,
            allow_closed_drive: bool) -> dict[str, Any]:
    """A correction or a void: checked before the write; inside it `update(decision, params)`
    (a conditional UPDATE of the decision) and, once it has matched, `after` (the visit, the
    tally, the audit), which returns what it wrote to the visit. Returns the result with "replayed"."""
    written: dict[str, Any] = {}

    def conditional_update(decision: _Decision) -> bool:
        return update(decision, {"s_id": decision.id, "s_version": decision.version,
                                 "v_version": decision.visit.version, "allow_closed_drive": allow_closed_drive})

    def write(checked: _Decision) -> dict[str, Any]:
        decision = write_checked(read_again(session, check), checked, conditional_update)
        if decision is None:
            raise ScreeningError("version_conflict", current_version=checked.version)
        visit_version = decision.visit.version + 1
        written.update(after(decision), visit_id=decision.visit.id, version=visit_version)
        return {"screening_id": decision.id, "version": decision.version + 1, "visit_version": visit_version,
                "status": written["status"].value}

    result, replayed = run_checked_once(session, nonce, action, check, write)
    if replayed:
        session.expire_all()  # what the earlier request changed: rare, and read again if used
    else:
        expire_rows(session, Screening, [result["screening_id"]])
        note_written(session, Visit, written.pop("visit_id"), written)
    return {**result, "replayed": replayed}


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
    bag_sizes = (rules or load_rules()).volume.bag_sizes_ml
    new: dict[str, Any] = {}

    def check() -> _Decision:
        checked = _checked_decision(session, screening_id, expected_version, allow_closed_drive)
        if not correction_reason:
            raise ScreeningError("reason_required")
        identity = checked.values["identity_document"] if identity_document is None else (identity_document or None)
        checks = checked.values["checks_reason"] if checks_reason is None else checks_reason.strip()
        _check_decision(decision, volume_ml, deferral_until, reason, override_reason, checked.suggestion,
                        checked.drive_date, bag_sizes, identity, checked.haemoglobin_g_l, checks)
        if checked.donated and decision != "accepted":
            raise ScreeningError("already_donated")
        new.update(decision=decision, volume_ml=volume_ml if decision == "accepted" else None,
                   deferral_until=deferral_until if decision == "deferred_temporary" else None, reason=reason,
                   override_reason=override_reason if is_override(decision, volume_ml, checked.suggestion) else "",
                   identity_document=identity,
                   checks_reason=_checks_reason_kept(decision, identity, checked.haemoglobin_g_l, checks), voided=False)
        return checked

    def update(_checked: _Decision, params: dict[str, Any]) -> bool:
        return bool(session.execute(CHANGE_SCREENING, params | {
            f"new_{name}": value for name, value in new.items() if name != "voided"}).rowcount)

    def after(checked: _Decision) -> dict[str, Any]:
        visit = checked.visit
        # A donation stands (an acceptance corrected): the visit stays done, one version on.
        status = visit.status if checked.donated else _status_after(decision)
        session.execute(VISIT_STATUS, {"v_id": visit.id, "new_status": status})
        deltas = {k: _tally_deltas(decision, 1)[k] + _tally_deltas(checked.values["decision"], -1)[k]
                  for k in ("screened", "deferred")}
        tally.bump(session, visit.drive_id, visit.site_id, visit.department_id, **deltas)
        insert_audit(session, "screening_corrected", staff_id=staff_id, entity="screening", entity_id=checked.id,
                     drive_id=visit.drive_id, old=checked.values, new=_decision_values(new), reason=correction_reason)
        return {"status": status}

    return _change(session, nonce, "correct_decision", check, update, after, allow_closed_drive)


def void_decision(session: Session, *, screening_id: int, staff_id: int, expected_version: int, reason: str,
                  nonce: str, allow_closed_drive: bool = False) -> dict[str, Any]:
    """Cancel a decision recorded in error: the donor goes back to screening, the counts follow."""
    reason = (reason or "").strip()

    def check() -> _Decision:
        checked = _checked_decision(session, screening_id, expected_version, allow_closed_drive)
        if not reason:
            raise ScreeningError("reason_required")
        if checked.donated:
            raise ScreeningError("already_donated")
        return checked

    def update(_checked: _Decision, params: dict[str, Any]) -> bool:
        return bool(session.execute(VOID_SCREENING, params | {"new_void_reason": reason}).rowcount)

    def after(checked: _Decision) -> dict[str, Any]:
        visit = checked.visit
        session.execute(VISIT_BACK_TO_SCREENING, {"v_id": visit.id})
        tally.bump(session, visit.drive_id, visit.site_id, visit.department_id,
                   **_tally_deltas(checked.values["decision"], -1))
        insert_audit(session, "screening_voided", staff_id=staff_id, entity="screening", entity_id=checked.id,
                     drive_id=visit.drive_id, old=checked.values, new=checked.values | {"voided": True},
                     reason=reason)
        return {"status": VisitStatus.IN_SCREENING, "screened_at": None}

    return _change(session, nonce, "void_decision", check, update, after, allow_closed_drive)
