"""Check-in at the kiosk, as domain functions (pretix's perform_checkin is the model).

A scan decides and answers with an outcome code; the views turn codes into words. Writes
run once per client nonce (kiosk.idempotency), so a double tap or a retried request
answers the same without recording twice.

The donor's way through a kiosk:
    scan_pass / find_by_identity / register_walk_in  ->  a KioskSession (random id, no personal data)
    confirm the name on screen; answer the questionnaire (unless answered today on the phone)
    check_in  ->  the queue number and the ticket; the kiosk session is closed
"""
from __future__ import annotations

import datetime as dt
import enum
import secrets
from dataclasses import dataclass
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk import tally
from kiosk.audit import record_audit
from kiosk.idempotency import bound_action, check_nonce, run_once
from kiosk.models import (Department, Donor, Drive, DriveStatus, KioskSession, QuestionnaireResponse, Site, Visit,
                          VisitStatus, WriteReceipt, drive_site, utcnow)
from kiosk.screening.questionnaire import Questionnaire, flags_for, validate_answers, validate_details
from kiosk.inputs import fold_diacritics
from kiosk.tokens import new_pass_token, token_from_scan

# A kiosk session left open (the donor walked away mid-way) stops working after this long,
# even if the tablet's idle reset never reached the server.
KIOSK_SESSION_MINUTES = 15


class ScanOutcome(str, enum.Enum):
    ACCEPTED = "accepted"  # a valid pass for today's drive here: show the name to confirm
    ALREADY_CHECKED_IN = "already_checked_in"  # show the time and queue number again; nothing created
    WRONG_DRIVE = "wrong_drive"  # a real pass, but for another drive or another day
    UNKNOWN = "unknown"  # not a pass of ours, or forged; never says whether a donor exists


class CheckinOutcome(str, enum.Enum):
    CHECKED_IN = "checked_in"
    ALREADY_CHECKED_IN = "already_checked_in"
    SESSION_CLOSED = "session_closed"
    QUESTIONNAIRE_REQUIRED = "questionnaire_required"


@dataclass(frozen=True)
class ScanResult:
    outcome: ScanOutcome
    kiosk_session_id: Optional[str] = None
    queue_number: Optional[int] = None
    checked_in_at: Optional[str] = None  # ISO, UTC
    # ACCEPTED for a pass registered at another site of the same drive: that site's name, so the
    # donor is told where the roster expects them (the check-in here still goes ahead).
    registered_site: Optional[str] = None


def todays_drive_at(session: Session, site: Site, today: dt.date) -> Optional[Drive]:
    return session.scalars(
        sa.select(Drive).join(drive_site).where(
            drive_site.c.site_id == site.id, Drive.status == DriveStatus.OPEN, Drive.drive_date == today)
    ).first()


@dataclass(frozen=True)
class Terminal:
    """Which client a kiosk request came from: the paired device (None with pairing off) and the
    audit actor of its writes (the device's name, or "kiosk:<site code>")."""
    device_id: Optional[int] = None
    actor: str = ""

    def actor_at(self, site: Site) -> str:
        return self.actor or f"kiosk:{site.code}"

    @property
    def owner(self) -> Optional[str]:
        """Whose receipts these are: a paired device's, or nobody's in particular (pairing off)."""
        return f"device:{self.device_id}" if self.device_id is not None else None


ANY_TERMINAL = Terminal()


def _new_kiosk_session(session: Session, visit: Visit, site: Site, terminal: Terminal) -> KioskSession:
    kiosk_session = KioskSession(id=secrets.token_urlsafe(24), visit_id=visit.id, site_id=site.id,
                                 device_id=terminal.device_id)
    session.add(kiosk_session)
    return kiosk_session


def _scan_result_for(session: Session, visit: Optional[Visit], site: Site, today: dt.date,
                     terminal: Terminal = ANY_TERMINAL) -> ScanResult:
    if visit is None:
        return ScanResult(ScanOutcome.UNKNOWN)
    drive = todays_drive_at(session, site, today)
    if drive is None or visit.drive_id != drive.id:
        return ScanResult(ScanOutcome.WRONG_DRIVE)
    if visit.checked_in_at is not None:
        return ScanResult(ScanOutcome.ALREADY_CHECKED_IN, queue_number=visit.queue_number,
                          checked_in_at=visit.checked_in_at.isoformat())
    kiosk_session = _new_kiosk_session(session, visit, site, terminal)
    record_audit(session, "kiosk_scan", actor=terminal.actor_at(site), entity="visit", entity_id=visit.id,
                 drive_id=visit.drive_id)
    registered_site = None
    if visit.site_id is not None and visit.site_id != site.id:
        other = session.get(Site, visit.site_id)
        registered_site = other.name if other is not None else None
    return ScanResult(ScanOutcome.ACCEPTED, kiosk_session_id=kiosk_session.id, registered_site=registered_site)


def scan_pass(session: Session, *, scanned_text: str, site: Site, today: dt.date, nonce: str,
              terminal: Terminal = ANY_TERMINAL) -> ScanResult:
    """What the scanner typed (a pass URL or a bare token) -> an outcome. Records once per nonce."""
    check_nonce(nonce)
    token = token_from_scan(scanned_text)
    if token and session.get(WriteReceipt, nonce) is None:
        # A pass that has checked in already records nothing when scanned again (it only shows
        # the ticket's number), so it is answered from a plain read, without a receipt and
        # without queueing for SQLite's write lock. check-in is never undone, so a retry of
        # this nonce gets the same answer.
        visit = session.scalars(sa.select(Visit).where(Visit.token == token)).first()
        if visit is not None and visit.checked_in_at is not None:
            return _scan_result_for(session, visit, site, today, terminal)

    def write() -> dict[str, Any]:
        visit = session.scalars(sa.select(Visit).where(Visit.token == token).with_for_update()).first() if token else None
        return _result_dict(_scan_result_for(session, visit, site, today, terminal))

    result, _replayed = run_once(session, nonce, "kiosk_scan", write, owner=terminal.owner)
    return _result_from(result)


def find_by_identity(session: Session, *, id_number: str, date_of_birth: dt.date, site: Site, today: dt.date,
                     nonce: str, terminal: Terminal = ANY_TERMINAL) -> ScanResult:
    """The "no pass" path: ID number and date of birth must both match, else UNKNOWN (which of the
    two was wrong is never said)."""

    def write() -> dict[str, Any]:
        drive = todays_drive_at(session, site, today)
        visit = None
        if drive is not None:
            visit = session.scalars(
                sa.select(Visit).join(Donor, Visit.donor_id == Donor.id).where(
                    Visit.drive_id == drive.id, Donor.id_number == id_number, Donor.date_of_birth == date_of_birth)
                .with_for_update()
            ).first()
        return _result_dict(_scan_result_for(session, visit, site, today, terminal))

    result, _replayed = run_once(session, nonce, "kiosk_find", write, owner=terminal.owner)
    return _result_from(result)


@dataclass(frozen=True)
class WalkIn:
    full_name: str
    date_of_birth: dt.date
    sex: str
    id_number: str
    phone: str
    department_id: Optional[int]
    rank: str
    blood_group: str
    last_donation_date: Optional[dt.date]


class WalkInRefused(Exception):
    """The ID number is already known: the donor goes to the registration desk with their ID."""


def register_walk_in(session: Session, *, walk_in: WalkIn, site: Site, today: dt.date, nonce: str,
                     terminal: Terminal = ANY_TERMINAL) -> ScanResult:
    """A donor we do not know: a donor record and a visit for today's drive here; then the same way
    on as a scanned pass.

    An ID number we already know is refused with WalkInRefused, whatever the date of birth: a walk-in
    form anyone can reach must never hand out, or even hint at, a known donor's pass (the digits of a
    CCCD give the birth year, so a date of birth is guessed in a few hundred tries). Staff at the
    desk check the ID card and find the donor."""

    def write() -> dict[str, Any]:
        drive = todays_drive_at(session, site, today)
        if drive is None:
            return _result_dict(ScanResult(ScanOutcome.WRONG_DRIVE))
        if session.scalars(sa.select(Donor.id).where(Donor.id_number == walk_in.id_number)).first() is not None:
            raise WalkInRefused()
        donor = Donor(full_name=walk_in.full_name, name_search=fold_diacritics(walk_in.full_name),
                      date_of_birth=walk_in.date_of_birth, sex=walk_in.sex, id_number=walk_in.id_number,
                      phone=walk_in.phone, department_id=walk_in.department_id, rank=walk_in.rank,
                      blood_group=walk_in.blood_group, last_donation_date=walk_in.last_donation_date,
                      last_donation_type="whole_blood" if walk_in.last_donation_date else None)
        session.add(donor)
        session.flush()
        visit = Visit(drive_id=drive.id, donor_id=donor.id, site_id=site.id, token=new_pass_token(),
                      registered_via="walk_in")
        session.add(visit)
        session.flush()
        record_audit(session, "walk_in_registered", actor=terminal.actor_at(site), entity="visit",
                     entity_id=visit.id, drive_id=drive.id)
        return _result_dict(_scan_result_for(session, visit, site, today, terminal))

    result, _replayed = run_once(session, nonce, "kiosk_walk_in", write, owner=terminal.owner)
    return _result_from(result)


def open_kiosk_session(session: Session, kiosk_session_id: str, site: Site,
                       terminal: Terminal = ANY_TERMINAL) -> Optional[KioskSession]:
    """The kiosk session if it is still open at this site and on the device that opened it; else
    None (closed, expired, forged, or its id sent from another client)."""
    kiosk_session = session.get(KioskSession, kiosk_session_id) if kiosk_session_id else None
    if kiosk_session is None or kiosk_session.closed_at is not None or kiosk_session.site_id != site.id:
        return None
    if kiosk_session.device_id != terminal.device_id:
        return None
    if utcnow() - kiosk_session.created_at > dt.timedelta(minutes=KIOSK_SESSION_MINUTES):
        return None
    return kiosk_session


def close_kiosk_session(session: Session, kiosk_session_id: str) -> None:
    session.execute(sa.update(KioskSession).where(KioskSession.id == kiosk_session_id,
                                                   KioskSession.closed_at.is_(None)).values(closed_at=utcnow()))


def answered_today(session: Session, visit: Visit, today_start_utc: dt.datetime) -> bool:
    """Did the donor answer the questionnaire today (on the phone, say)? Answers from another day do not count."""
    return session.scalar(
        sa.select(sa.func.count()).select_from(QuestionnaireResponse).where(
            QuestionnaireResponse.visit_id == visit.id, QuestionnaireResponse.submitted_at >= today_start_utc)
    ) > 0


class PhoneAnswersOutcome(str, enum.Enum):
    STORED = "stored"
    ALREADY_ANSWERED = "already_answered"  # locked: the first answers stand (the kiosk may replace them)
    CLOSED = "closed"  # not the drive day, or the donor has checked in already


def phone_answers_today(session: Session, visit: Visit, today_start_utc: dt.datetime) -> Optional[QuestionnaireResponse]:
    """Today's answers given on the donor's phone, if those are the ones that stand (no later answers
    at the kiosk replaced them)."""
    latest = session.scalars(
        sa.select(QuestionnaireResponse).where(QuestionnaireResponse.visit_id == visit.id,
                                               QuestionnaireResponse.submitted_at >= today_start_utc)
        .order_by(QuestionnaireResponse.submitted_at.desc(), QuestionnaireResponse.id.desc())).first()
    return latest if latest is not None and latest.channel == "phone" else None


def answer_on_phone(session: Session, *, visit_id: int, questionnaire: Questionnaire, answers: dict[str, bool],
                    today: dt.date, today_start_utc: dt.datetime, nonce: str,
                    details: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """The questionnaire answered on the pass page. The first answers of the day are locked: a
    second submission (someone else holding the pass link, say) is refused with ALREADY_ANSWERED and
    changes nothing; the same nonce retried answers the same. Returns {"outcome", "response_id"}."""

    def write() -> dict[str, Any]:
        visit = session.scalars(sa.select(Visit).where(Visit.id == visit_id).with_for_update()).one()
        drive = visit.drive
        if drive.drive_date != today or drive.status != DriveStatus.OPEN or visit.checked_in_at is not None:
            return {"outcome": PhoneAnswersOutcome.CLOSED.value}
        if answered_today(session, visit, today_start_utc):
            return {"outcome": PhoneAnswersOutcome.ALREADY_ANSWERED.value}
        response = store_answers(session, visit=visit, questionnaire=questionnaire, answers=answers, channel="phone",
                                 nonce=nonce, details=details)
        session.flush()
        return {"outcome": PhoneAnswersOutcome.STORED.value, "response_id": response.id}

    result, _replayed = run_once(session, nonce, "phone_questionnaire", write)
    return result


def store_answers(session: Session, *, visit: Visit, questionnaire: Questionnaire, answers: dict[str, bool],
                  channel: str, nonce: str, details: Optional[dict[str, str]] = None) -> QuestionnaireResponse:
    """Validate and add a questionnaire response (in the caller's transaction). `details`: what a
    "yes" asked for next (which vaccine, which illness, "<id>#date" as an ISO date)."""
    clean = validate_answers(questionnaire, visit.donor.sex, answers, details)
    kept = validate_details(questionnaire, visit.donor.sex, clean, details)
    response = QuestionnaireResponse(visit_id=visit.id, questionnaire_version=questionnaire.version, answers=clean,
                                     details=kept, flags=flags_for(questionnaire, clean, kept), channel=channel,
                                     nonce=nonce)
    session.add(response)
    visit.questionnaire_at = utcnow()
    return response


def next_queue_number(session: Session, drive_id: int, site_id: int) -> int:
    """The next number at this site: one atomic UPDATE ... RETURNING, in the check-in's transaction,
    so concurrent check-ins get consecutive numbers with no gaps or repeats."""
    return session.execute(
        sa.update(drive_site).where(drive_site.c.drive_id == drive_id, drive_site.c.site_id == site_id)
        .values(last_queue_number=drive_site.c.last_queue_number + 1).returning(drive_site.c.last_queue_number)
    ).scalar_one()


def check_in(session: Session, *, kiosk_session_id: str, site: Site, questionnaire: Questionnaire,
             answers: Optional[dict[str, bool]], today_start_utc: dt.datetime, nonce: str,
             details: Optional[dict[str, str]] = None, terminal: Terminal = ANY_TERMINAL) -> dict[str, Any]:
    """Record the arrival: answers (when given here, with their details), a queue number, the visit checked in, the
    tally, and the kiosk session closed. Returns {"outcome", "visit_id", "queue_number", "checked_in_at"}."""

    def write() -> dict[str, Any]:
        kiosk_session = open_kiosk_session(session, kiosk_session_id, site, terminal)
        if kiosk_session is None:
            return {"outcome": CheckinOutcome.SESSION_CLOSED.value}
        visit = session.scalars(sa.select(Visit).where(Visit.id == kiosk_session.visit_id).with_for_update()).one()
        if visit.checked_in_at is not None:
            close_kiosk_session(session, kiosk_session_id)
            return {"outcome": CheckinOutcome.ALREADY_CHECKED_IN.value, "visit_id": visit.id,
                    "queue_number": visit.queue_number, "checked_in_at": visit.checked_in_at.isoformat(),
                    "device_id": terminal.device_id}
        if answers is not None:
            replaced = phone_answers_today(session, visit, today_start_utc)
            store_answers(session, visit=visit, questionnaire=questionnaire, answers=answers, channel="kiosk",
                          nonce=nonce, details=details)
            if replaced is not None:
                # The donor said the phone's answers were not theirs and answered again here.
                record_audit(session, "phone_answers_replaced", actor=terminal.actor_at(site), entity="visit",
                             entity_id=visit.id, drive_id=visit.drive_id,
                             old={"response_id": replaced.id, "submitted_at": replaced.submitted_at.isoformat()})
        elif not answered_today(session, visit, today_start_utc):
            return {"outcome": CheckinOutcome.QUESTIONNAIRE_REQUIRED.value, "visit_id": visit.id}
        visit.queue_number = next_queue_number(session, visit.drive_id, site.id)
        visit.site_id = site.id
        visit.checked_in_at = utcnow()
        visit.status = VisitStatus.CHECKED_IN
        visit.version += 1
        tally.bump(session, visit.drive_id, site.id, visit.donor.department_id, checked_in=1)
        close_kiosk_session(session, kiosk_session_id)
        record_audit(session, "checked_in", actor=terminal.actor_at(site), entity="visit", entity_id=visit.id,
                     drive_id=visit.drive_id, new={"queue_number": visit.queue_number})
        return {"outcome": CheckinOutcome.CHECKED_IN.value, "visit_id": visit.id,
                "queue_number": visit.queue_number, "checked_in_at": visit.checked_in_at.isoformat(),
                "device_id": terminal.device_id}

    result, _replayed = run_once(session, nonce, "kiosk_checkin", write, owner=terminal.owner)
    return result


def replayed_check_in(session: Session, nonce: str, terminal: Terminal = ANY_TERMINAL) -> Optional[dict[str, Any]]:
    """The answer already given to this check-in nonce, if any: a retry after the kiosk session
    was closed (by that very check-in) must still get its ticket, not "start again". Only on the
    device that checked in: another client sending the nonce gets nothing from it."""
    receipt = session.get(WriteReceipt, nonce) if nonce else None
    if receipt is None or receipt.action != bound_action("kiosk_checkin", terminal.owner):
        return None
    if receipt.result.get("device_id") != terminal.device_id:
        return None
    return dict(receipt.result)


def departments_for_walk_in(session: Session) -> list[Department]:
    return list(session.scalars(sa.select(Department).order_by(Department.name)))


def _result_dict(result: ScanResult) -> dict[str, Any]:
    return {"outcome": result.outcome.value, "kiosk_session_id": result.kiosk_session_id,
            "queue_number": result.queue_number, "checked_in_at": result.checked_in_at,
            "registered_site": result.registered_site}


def _result_from(data: dict[str, Any]) -> ScanResult:
    return ScanResult(ScanOutcome(data["outcome"]), data.get("kiosk_session_id"), data.get("queue_number"),
                      data.get("checked_in_at"), data.get("registered_site"))
