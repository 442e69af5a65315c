"""Check-in at the kiosk, as domain functions (pretix's perform_checkin is the model).

A scan decides and answers with an outcome code; the views turn codes into words. Writes
run once per client nonce (kiosk.idempotency), so a double tap or a retried request
answers the same without recording twice. Each write reads and checks before its transaction
and, inside it, runs only prebuilt Core statements, the first of them conditional on what was
read (a kiosk session opened only for a visit not checked in yet; a check-in only of the visit
at the version read, its kiosk session still open): when it matches nothing, something changed
meanwhile, and the write reads and decides again. SQLite's writer queue is held for those few
statements only (issue 14).

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

from sqlalchemy.exc import IntegrityError

from kiosk import tally
from kiosk.audit import insert_audit
from kiosk.database import expire_rows, note_written, read_again, write_checked
from kiosk.idempotency import bound_action, check_nonce, receipt_for, receipt_of, run_checked_once, run_once
from kiosk.models import (Department, Donor, Drive, DriveStatus, KioskSession, QuestionnaireResponse, Site, Visit,
                          VisitStatus, drive_site, utcnow)
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


VISITS, DONORS, KIOSK_SESSIONS = Visit.__table__, Donor.__table__, KioskSession.__table__
RESPONSES = QuestionnaireResponse.__table__

# The statements, built once.
TODAYS_DRIVE_ID = sa.select(Drive.id).join(drive_site).where(
    drive_site.c.site_id == sa.bindparam("site_id"), Drive.status == DriveStatus.OPEN,
    Drive.drive_date == sa.bindparam("today")).limit(1)
_SCANNED = sa.select(VISITS.c.id, VISITS.c.drive_id, VISITS.c.site_id, VISITS.c.checked_in_at, VISITS.c.queue_number)
VISIT_BY_TOKEN = _SCANNED.where(VISITS.c.token == sa.bindparam("token"))
VISIT_BY_IDENTITY = _SCANNED.join(DONORS, DONORS.c.id == VISITS.c.donor_id).where(
    VISITS.c.drive_id == sa.bindparam("drive_id"), DONORS.c.id_number == sa.bindparam("id_number"),
    DONORS.c.date_of_birth == sa.bindparam("date_of_birth"))
VISIT_BY_ID = _SCANNED.where(VISITS.c.id == sa.bindparam("visit_id"))
DONOR_BY_ID_NUMBER = sa.select(DONORS.c.id).where(DONORS.c.id_number == sa.bindparam("id_number")).limit(1)
INSERT_DONOR = sa.insert(DONORS).returning(DONORS.c.id)
INSERT_VISIT = sa.insert(VISITS).returning(VISITS.c.id)
# A kiosk session is opened only for a visit not checked in yet (a check-in elsewhere between
# the scan's read and its write makes it insert nothing).
_COLUMN = KIOSK_SESSIONS.c
OPEN_KIOSK_SESSION = sa.insert(KIOSK_SESSIONS).from_select(
    ["id", "visit_id", "site_id", "device_id", "created_at"],
    sa.select(sa.bindparam("ks_id", type_=_COLUMN.id.type), VISITS.c.id,
              sa.bindparam("ks_site_id", type_=_COLUMN.site_id.type),
              sa.bindparam("ks_device_id", type_=_COLUMN.device_id.type),
              sa.bindparam("ks_created_at", type_=_COLUMN.created_at.type))
    .where(VISITS.c.id == sa.bindparam("ks_visit_id"), VISITS.c.checked_in_at.is_(None))
).returning(_COLUMN.id)  # (a driver may not count the rows of an INSERT ... SELECT: RETURNING does)
CLOSE_KIOSK_SESSION = sa.update(KIOSK_SESSIONS).where(
    _COLUMN.id == sa.bindparam("ks_id"), _COLUMN.closed_at.is_(None)).values(closed_at=sa.bindparam("now"))
ANSWERED_SINCE = sa.select(sa.func.count()).select_from(RESPONSES).where(
    RESPONSES.c.visit_id == sa.bindparam("visit_id"), RESPONSES.c.submitted_at >= sa.bindparam("since"))
INSERT_RESPONSE = sa.insert(RESPONSES)
NEXT_QUEUE_NUMBER = (
    sa.update(drive_site).where(drive_site.c.drive_id == sa.bindparam("q_drive_id"),
                                drive_site.c.site_id == sa.bindparam("q_site_id"))
    .values(last_queue_number=drive_site.c.last_queue_number + 1).returning(drive_site.c.last_queue_number)
)
# The check-in: only of the visit as it was read (its version; no answers given meanwhile on the
# phone), not checked in yet, while its kiosk session is still open.
_CHECK_IN_AS_READ = (
    VISITS.c.id == sa.bindparam("v_id"), VISITS.c.version == sa.bindparam("v_version"),
    VISITS.c.checked_in_at.is_(None),
    VISITS.c.questionnaire_at.is_not_distinct_from(sa.bindparam("v_questionnaire_at",
                                                                type_=VISITS.c.questionnaire_at.type)),
    sa.exists().where(_COLUMN.id == sa.bindparam("ks_id"), _COLUMN.closed_at.is_(None)),
)
CHECK_IN_VISIT = sa.update(VISITS).where(*_CHECK_IN_AS_READ).values(
    site_id=sa.bindparam("at_site"), checked_in_at=sa.bindparam("now"), status=VisitStatus.CHECKED_IN,
    version=VISITS.c.version + 1)
CHECK_IN_VISIT_WITH_ANSWERS = CHECK_IN_VISIT.values(questionnaire_at=sa.bindparam("now"))
# A check-in's last resort where writers do not queue (see check_in): the visit's row, held.
LOCK_VISIT = sa.select(VISITS.c.id).where(VISITS.c.id == sa.bindparam("v_id")).with_for_update()
# Given once the check-in has matched (the queue number is taken only then: no gaps).
SET_QUEUE_NUMBER = sa.update(VISITS).where(VISITS.c.id == sa.bindparam("v_id")).values(
    queue_number=sa.bindparam("number"))


def _todays_drive_id(session: Session, site: Site, today: dt.date) -> Optional[int]:
    return session.execute(TODAYS_DRIVE_ID, {"site_id": site.id, "today": today}).scalar()


def _scan_result_for(visit: Optional[sa.Row], drive_id: Optional[int]) -> ScanResult:
    """What a found visit (a row of `_SCANNED`) answers; ACCEPTED (its kiosk session still to open)
    when it may go on to check in."""
    if visit is None:
        return ScanResult(ScanOutcome.UNKNOWN)
    if drive_id is None or visit.drive_id != drive_id:
        return ScanResult(ScanOutcome.WRONG_DRIVE)
    if visit.checked_in_at is not None:
        return ScanResult(ScanOutcome.ALREADY_CHECKED_IN, queue_number=visit.queue_number,
                          checked_in_at=visit.checked_in_at.isoformat())
    return ScanResult(ScanOutcome.ACCEPTED)


def _registered_site(session: Session, visit: Optional[sa.Row], site: Site) -> Optional[str]:
    """The name of the site the roster expects the donor at, when not this one."""
    if visit is None or visit.site_id is None or visit.site_id == site.id:
        return None
    other = session.get(Site, visit.site_id)
    return other.name if other is not None else None


def _scan_write(session: Session, read_visit, checked: tuple[Optional[sa.Row], Optional[str]], site: Site,
                drive_id: Optional[int], terminal: Terminal) -> dict[str, Any]:
    """Inside the write: an accepted visit gets its kiosk session (and the audit's entry), unless
    it was checked in since it was read (`read_visit` reads it again, and it answers as it is)."""
    kiosk_session_id = secrets.token_urlsafe(24)

    def open_session(found: tuple[Optional[sa.Row], Optional[str]]) -> bool:
        if _scan_result_for(found[0], drive_id).outcome != ScanOutcome.ACCEPTED:
            return True  # nothing to record
        return session.execute(OPEN_KIOSK_SESSION, {
            "ks_id": kiosk_session_id, "ks_visit_id": found[0].id, "ks_site_id": site.id,
            "ks_device_id": terminal.device_id, "ks_created_at": utcnow()}).first() is not None

    visit, registered_site = write_checked(read_visit, checked, open_session)
    result = _scan_result_for(visit, drive_id)
    if result.outcome == ScanOutcome.ACCEPTED:
        insert_audit(session, "kiosk_scan", actor=terminal.actor_at(site), entity="visit", entity_id=visit.id,
                     drive_id=visit.drive_id)
        result = ScanResult(ScanOutcome.ACCEPTED, kiosk_session_id=kiosk_session_id, registered_site=registered_site)
    return _result_dict(result)


def scan_pass(session: Session, *, scanned_text: str, site: Site, today: dt.date, nonce: str,
              terminal: Terminal = ANY_TERMINAL) -> ScanResult:
    """What the scanner typed (a pass URL or a bare token) -> an outcome. Records once per nonce."""
    check_nonce(nonce)
    token = token_from_scan(scanned_text)
    drive_id = _todays_drive_id(session, site, today)

    def read_visit() -> tuple[Optional[sa.Row], Optional[str]]:
        visit = session.execute(VISIT_BY_TOKEN, {"token": token}).first() if token else None
        return visit, _registered_site(session, visit, site)

    checked = read_visit()
    visit = checked[0]
    if visit is not None and visit.checked_in_at is not None and receipt_of(session, nonce) is None:
        # A pass that has checked in already records nothing when scanned again (it only shows
        # the ticket's number), so it is answered from a plain read, without a receipt and
        # without queueing for SQLite's write lock. check-in is never undone, so a retry of
        # this nonce gets the same answer; unless the nonce has a receipt from before the
        # check-in (its answer was lost), which is the answer to give.
        return _scan_result_for(visit, drive_id)
    result, _replayed = run_checked_once(
        session, nonce, "kiosk_scan", lambda: checked,
        lambda found: _scan_write(session, read_visit, found, site, drive_id, terminal), owner=terminal.owner,
        asked=token or scanned_text)
    return _result_from(result)


def find_by_identity(session: Session, *, id_number: str, date_of_birth: dt.date, site: Site, today: dt.date,
                     nonce: str, terminal: Terminal = ANY_TERMINAL) -> ScanResult:
    """The "no pass" path: ID number and date of birth must both match, else UNKNOWN (which of the
    two was wrong is never said)."""
    check_nonce(nonce)
    drive_id = _todays_drive_id(session, site, today)

    def read_visit() -> tuple[Optional[sa.Row], Optional[str]]:
        visit = None
        if drive_id is not None:
            visit = session.execute(VISIT_BY_IDENTITY, {"drive_id": drive_id, "id_number": id_number,
                                                        "date_of_birth": date_of_birth}).first()
        return visit, _registered_site(session, visit, site)

    result, _replayed = run_checked_once(
        session, nonce, "kiosk_find", read_visit,
        lambda found: _scan_write(session, read_visit, found, site, drive_id, terminal), owner=terminal.owner,
        asked=f"{id_number} {date_of_birth.isoformat()}")
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


WALK_IN_ACTION = "kiosk_walk_in"
CHECK_IN_ACTION = "kiosk_checkin"
PHONE_ANSWERS_ACTION = "phone_questionnaire"


def replayed_walk_in(session: Session, nonce: str, id_number: str, terminal: Terminal = ANY_TERMINAL) -> bool:
    """Has register_walk_in already answered this nonce, for this ID number and device? (A retry is
    answered again and must not count against the walk-in limits a second time.)"""
    return receipt_for(session, nonce, bound_action(WALK_IN_ACTION, terminal.owner, id_number)) is not None


def register_walk_in(session: Session, *, walk_in: WalkIn, site: Site, today: dt.date, nonce: str,
                     terminal: Terminal = ANY_TERMINAL) -> ScanResult:
    """A donor we do not know: a donor record and a visit for today's drive here; then the same way
    on as a scanned pass.

    An ID number we already know is refused with WalkInRefused, whatever the date of birth: a walk-in
    form anyone can reach must never hand out, or even hint at, a known donor's pass (the digits of a
    CCCD give the birth year, so a date of birth is guessed in a few hundred tries). Staff at the
    desk check the ID card and find the donor."""

    check_nonce(nonce)
    drive_id = _todays_drive_id(session, site, today)
    token = new_pass_token()

    def check() -> bool:
        if drive_id is not None and session.execute(DONOR_BY_ID_NUMBER, {"id_number": walk_in.id_number}).first():
            raise WalkInRefused()
        return True

    def write(_checked: bool) -> dict[str, Any]:
        if drive_id is None:
            return _result_dict(ScanResult(ScanOutcome.WRONG_DRIVE))
        try:
            donor_id = session.execute(INSERT_DONOR, dict(
                full_name=walk_in.full_name, name_search=fold_diacritics(walk_in.full_name),
                date_of_birth=walk_in.date_of_birth, sex=walk_in.sex, id_number=walk_in.id_number,
                phone=walk_in.phone, department_id=walk_in.department_id, rank=walk_in.rank,
                blood_group=walk_in.blood_group, last_donation_date=walk_in.last_donation_date,
                last_donation_type="whole_blood" if walk_in.last_donation_date else None)).scalar_one()
        except IntegrityError as error:
            if "id_number" not in str(error.orig).lower():
                raise
            raise WalkInRefused() from None  # registered since the check, by someone else
        visit_id = session.execute(INSERT_VISIT, {"drive_id": drive_id, "donor_id": donor_id, "site_id": site.id,
                                                  "token": token, "registered_via": "walk_in"}).scalar_one()
        insert_audit(session, "walk_in_registered", actor=terminal.actor_at(site), entity="visit",
                     entity_id=visit_id, drive_id=drive_id)
        visit = session.execute(VISIT_BY_ID, {"visit_id": visit_id}).one()
        return _scan_write(session, lambda: (visit, None), (visit, None), site, drive_id, terminal)

    result, _replayed = run_checked_once(session, nonce, WALK_IN_ACTION, check, write, owner=terminal.owner,
                                         asked=walk_in.id_number)
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
    """Close it with one Core UPDATE; the session's object for it, if loaded, is read again when next used."""
    session.execute(CLOSE_KIOSK_SESSION, {"ks_id": kiosk_session_id, "now": utcnow()})
    expire_rows(session, KioskSession, [kiosk_session_id])


def answered_today(session: Session, visit: Visit, today_start_utc: dt.datetime) -> bool:
    """Did the donor answer the questionnaire today (on the phone, say)? Answers from another day do not count."""
    return session.execute(ANSWERED_SINCE, {"visit_id": visit.id, "since": today_start_utc}).scalar() > 0


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

    result, _replayed = run_once(session, nonce, PHONE_ANSWERS_ACTION, write)
    return result


def replayed_phone_answers(session: Session, nonce: str) -> bool:
    """Is this a retry of answers already stored from the pass page (its nonce has their receipt)?
    It then gets the same answer, not "already answered"."""
    return receipt_for(session, nonce, PHONE_ANSWERS_ACTION) is not None


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
    return session.execute(NEXT_QUEUE_NUMBER, {"q_drive_id": drive_id, "q_site_id": site_id}).scalar_one()


@dataclass(frozen=True)
class _Arrival:
    """What a check-in read and decided before its write."""
    outcome: CheckinOutcome
    kiosk_session_id: str = ""
    visit_id: Optional[int] = None
    drive_id: Optional[int] = None
    department_id: Optional[int] = None
    version: Optional[int] = None
    questionnaire_at: Optional[dt.datetime] = None
    queue_number: Optional[int] = None
    checked_in_at: Optional[dt.datetime] = None
    response: Optional[dict[str, Any]] = None  # the answers to store, as a row of questionnaire_response
    replaced: Optional[dict[str, Any]] = None  # the phone's answers they replace: {"response_id", "submitted_at"}


def check_in(session: Session, *, kiosk_session_id: str, site: Site, questionnaire: Questionnaire,
             answers: Optional[dict[str, bool]], today_start_utc: dt.datetime, nonce: str,
             details: Optional[dict[str, str]] = None, terminal: Terminal = ANY_TERMINAL) -> dict[str, Any]:
    """Record the arrival: answers (when given here, with their details), a queue number, the visit checked in, the
    tally, and the kiosk session closed. Returns {"outcome", "visit_id", "queue_number", "checked_in_at"}.

    The kiosk session, the visit and the answers are read and checked before the write (answers
    that do not do raise IncompleteAnswers, and nothing is recorded)."""
    now = utcnow()

    def check() -> _Arrival:
        kiosk_session = open_kiosk_session(session, kiosk_session_id, site, terminal)
        if kiosk_session is None:
            return _Arrival(CheckinOutcome.SESSION_CLOSED)
        visit = kiosk_session.visit
        arrival = dict(kiosk_session_id=kiosk_session.id, visit_id=visit.id, drive_id=visit.drive_id,
                       department_id=visit.donor.department_id, version=visit.version,
                       questionnaire_at=visit.questionnaire_at, queue_number=visit.queue_number,
                       checked_in_at=visit.checked_in_at)
        if visit.checked_in_at is not None:
            return _Arrival(CheckinOutcome.ALREADY_CHECKED_IN, **arrival)
        if answers is None:
            if not answered_today(session, visit, today_start_utc):
                return _Arrival(CheckinOutcome.QUESTIONNAIRE_REQUIRED, **arrival)
            return _Arrival(CheckinOutcome.CHECKED_IN, **arrival)
        replaced = phone_answers_today(session, visit, today_start_utc)
        clean = validate_answers(questionnaire, visit.donor.sex, answers, details)
        kept = validate_details(questionnaire, visit.donor.sex, clean, details)
        response = {"visit_id": visit.id, "questionnaire_version": questionnaire.version, "answers": clean,
                    "details": kept, "flags": flags_for(questionnaire, clean, kept), "channel": "kiosk",
                    "nonce": nonce, "submitted_at": now}
        return _Arrival(CheckinOutcome.CHECKED_IN, **arrival, response=response, replaced=None if replaced is None else {
            "response_id": replaced.id, "submitted_at": replaced.submitted_at.isoformat()})

    def arrive(arrival: _Arrival) -> bool:
        # Only a check-in writes before it knows it may: the other outcomes stand once read (a
        # closed kiosk session stays closed, a check-in is never undone).
        if arrival.outcome != CheckinOutcome.CHECKED_IN:
            return True
        return bool(session.execute(CHECK_IN_VISIT if arrival.response is None else CHECK_IN_VISIT_WITH_ANSWERS, {
            "v_id": arrival.visit_id, "v_version": arrival.version, "v_questionnaire_at": arrival.questionnaire_at,
            "ks_id": arrival.kiosk_session_id, "at_site": site.id, "now": now}).rowcount)

    written: dict[str, Any] = {}

    def write(checked: _Arrival) -> dict[str, Any]:
        again = read_again(session, check)
        arrival = write_checked(again, checked, arrive)
        if arrival is None:
            # Only where writers do not queue (PostgreSQL): the visit changed under five tries in a
            # row. Hold its row and decide under the lock, where no other write can change it; the
            # donor is checked in, not shown an error.
            session.execute(LOCK_VISIT, {"v_id": checked.visit_id})
            arrival = write_checked(again, again(), arrive)
        if arrival is None:
            raise RuntimeError("the visit changed under its check-in while its row was locked")
        if arrival.outcome == CheckinOutcome.SESSION_CLOSED:
            return {"outcome": arrival.outcome.value}
        if arrival.outcome == CheckinOutcome.QUESTIONNAIRE_REQUIRED:
            return {"outcome": arrival.outcome.value, "visit_id": arrival.visit_id}
        if arrival.outcome == CheckinOutcome.ALREADY_CHECKED_IN:
            close_kiosk_session(session, arrival.kiosk_session_id)
            return {"outcome": arrival.outcome.value, "visit_id": arrival.visit_id,
                    "queue_number": arrival.queue_number, "checked_in_at": arrival.checked_in_at.isoformat(),
                    "device_id": terminal.device_id}
        if arrival.response is not None:
            session.execute(INSERT_RESPONSE, arrival.response)
            if arrival.replaced is not None:
                # The donor said the phone's answers were not theirs and answered again here.
                insert_audit(session, "phone_answers_replaced", actor=terminal.actor_at(site), entity="visit",
                             entity_id=arrival.visit_id, drive_id=arrival.drive_id, old=arrival.replaced)
        number = next_queue_number(session, arrival.drive_id, site.id)
        session.execute(SET_QUEUE_NUMBER, {"v_id": arrival.visit_id, "number": number})
        tally.bump(session, arrival.drive_id, site.id, arrival.department_id, checked_in=1)
        close_kiosk_session(session, arrival.kiosk_session_id)
        insert_audit(session, "checked_in", actor=terminal.actor_at(site), entity="visit",
                     entity_id=arrival.visit_id, drive_id=arrival.drive_id, new={"queue_number": number})
        written.update(queue_number=number, site_id=site.id, checked_in_at=now, status=VisitStatus.CHECKED_IN,
                       version=arrival.version + 1,
                       **({"questionnaire_at": now} if arrival.response is not None else {}))
        return {"outcome": CheckinOutcome.CHECKED_IN.value, "visit_id": arrival.visit_id,
                "queue_number": number, "checked_in_at": now.isoformat(), "device_id": terminal.device_id}

    result, replayed = run_checked_once(session, nonce, CHECK_IN_ACTION, check, write, owner=terminal.owner)
    if written and not replayed:
        note_written(session, Visit, result["visit_id"], written)
    elif result.get("visit_id") is not None:
        expire_rows(session, Visit, [result["visit_id"]])
    expire_rows(session, KioskSession, [kiosk_session_id])
    return result


def replayed_check_in(session: Session, nonce: str, terminal: Terminal = ANY_TERMINAL) -> Optional[dict[str, Any]]:
    """The answer already given to this check-in nonce, if any: a retry after the kiosk session
    was closed (by that very check-in) must still get its ticket, not "start again". Only on the
    device that checked in: another client sending the nonce gets nothing from it."""
    receipt = receipt_for(session, nonce, bound_action(CHECK_IN_ACTION, terminal.owner))
    if receipt is None or receipt.result.get("device_id") != terminal.device_id:
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
