"""The check-in's step: the donor confirmed their name (and answered the questionnaire, unless they
did on the phone today), and the visit is checked in: a queue number, the ticket, the tally, and
the kiosk session closed.

The write follows kiosk.idempotency's `write_once`: `_arrival` reads the kiosk session, the visit
and the answers and decides; `_check_in_visit` is the one conditional UPDATE (the visit at the
version read, not checked in, its kiosk session still open); `_record_arrival` writes the rest."""
from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk import tally
from kiosk.audit import insert_audit
from kiosk.checkin.questionnaire import INSERT_RESPONSE, answered_today, phone_answers_today, response_row
from kiosk.checkin.terminal import ANY_TERMINAL, KIOSK_SESSIONS, Terminal, close_kiosk_session, open_kiosk_session
from kiosk.database import expire_rows, note_written
from kiosk.idempotency import bound_action, receipt_for, write_once
from kiosk.models import KioskSession, Site, Visit, VisitStatus, drive_site, utcnow
from kiosk.screening.questionnaire import Questionnaire


class CheckinOutcome(str, enum.Enum):
    CHECKED_IN = "checked_in"
    ALREADY_CHECKED_IN = "already_checked_in"
    SESSION_CLOSED = "session_closed"
    QUESTIONNAIRE_REQUIRED = "questionnaire_required"


CHECK_IN_ACTION = "kiosk_checkin"

VISITS = Visit.__table__
# The statements, built once.
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
    sa.exists().where(KIOSK_SESSIONS.c.id == sa.bindparam("ks_id"), KIOSK_SESSIONS.c.closed_at.is_(None)),
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


def next_queue_number(session: Session, drive_id: int, site_id: int) -> int:
    """The next number at this site: one atomic UPDATE ... RETURNING, in the check-in's transaction,
    so concurrent check-ins get consecutive numbers with no gaps or repeats."""
    return session.execute(NEXT_QUEUE_NUMBER, {"q_drive_id": drive_id, "q_site_id": site_id}).scalar_one()


@dataclass(frozen=True)
class _CheckIn:
    """What a check-in asks, from which kiosk, and when."""
    kiosk_session_id: str
    site: Site
    questionnaire: Questionnaire
    answers: Optional[dict[str, bool]]  # None: answered before (on the phone, today)
    details: Optional[dict[str, str]]
    today_start_utc: dt.datetime
    nonce: str
    terminal: Terminal
    now: dt.datetime
    reserved_number: Optional[int] = None  # an offline tablet's, from its block (kiosk.offline)


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
             details: Optional[dict[str, str]] = None, terminal: Terminal = ANY_TERMINAL,
             reserved_number: Optional[int] = None, arrived_at: Optional[dt.datetime] = None) -> dict[str, Any]:
    """Record the arrival: answers (when given here, with their details), a queue number, the visit checked in, the
    tally, and the kiosk session closed. Returns {"outcome", "visit_id", "queue_number", "checked_in_at"}.

    The kiosk session, the visit and the answers are read and checked before the write (answers
    that do not do raise IncompleteAnswers, and nothing is recorded). `reserved_number`: the number
    an offline tablet gave from its own block, instead of the site's next; `arrived_at`, the time the
    donor checked in there (the tablet's clock, kept within today and never after now)."""
    now = utcnow()
    if arrived_at is not None:
        now = max(today_start_utc, min(arrived_at, now))
    asked = _CheckIn(kiosk_session_id, site, questionnaire, answers, details, today_start_utc, nonce, terminal,
                     now=now, reserved_number=reserved_number)
    done = write_once(
        session, nonce, CHECK_IN_ACTION, owner=terminal.owner,
        check=lambda: _arrival(session, asked),
        update=lambda arrival: _check_in_visit(session, asked, arrival),
        # Where writers do not queue, the visit may change under every try: decided under its row's
        # lock, the donor is checked in, not shown an error.
        hold=lambda arrival: session.execute(LOCK_VISIT, {"v_id": arrival.visit_id}),
        conflict=lambda _arrival: RuntimeError("the visit changed under its check-in while its row was locked"),
        write=lambda arrival: _record_arrival(session, asked, arrival))
    # The objects the request loaded are not expired at the commit: tell them what changed.
    if not done.replayed and done.result["outcome"] == CheckinOutcome.CHECKED_IN.value:
        note_written(session, Visit, done.result["visit_id"], _visit_checked_in(asked, done.checked, done.result))
    elif done.result.get("visit_id") is not None:
        expire_rows(session, Visit, [done.result["visit_id"]])
    expire_rows(session, KioskSession, [kiosk_session_id])
    return done.result


def _arrival(session: Session, asked: _CheckIn) -> _Arrival:
    """Read and decide (the ORM is fine here: before the write)."""
    kiosk_session = open_kiosk_session(session, asked.kiosk_session_id, asked.site, asked.terminal)
    if kiosk_session is None:
        return _Arrival(CheckinOutcome.SESSION_CLOSED)
    visit = kiosk_session.visit
    arrival = dict(kiosk_session_id=kiosk_session.id, visit_id=visit.id, drive_id=visit.drive_id,
                   department_id=visit.donor.department_id, version=visit.version,
                   questionnaire_at=visit.questionnaire_at, queue_number=visit.queue_number,
                   checked_in_at=visit.checked_in_at)
    if visit.checked_in_at is not None:
        return _Arrival(CheckinOutcome.ALREADY_CHECKED_IN, **arrival)
    if asked.answers is None:
        if not answered_today(session, visit, asked.today_start_utc):
            return _Arrival(CheckinOutcome.QUESTIONNAIRE_REQUIRED, **arrival)
        return _Arrival(CheckinOutcome.CHECKED_IN, **arrival)
    replaced = phone_answers_today(session, visit, asked.today_start_utc)
    response = response_row(asked.questionnaire, visit, asked.answers, asked.details, channel="kiosk",
                            nonce=asked.nonce, submitted_at=asked.now)
    return _Arrival(CheckinOutcome.CHECKED_IN, **arrival, response=response, replaced=None if replaced is None else {
        "response_id": replaced.id, "submitted_at": replaced.submitted_at.isoformat()})


def _check_in_visit(session: Session, asked: _CheckIn, arrival: _Arrival) -> bool:
    """The conditional UPDATE: False when the visit or its kiosk session changed since it was read."""
    # Only a check-in writes before it knows it may: the other outcomes stand once read (a
    # closed kiosk session stays closed, a check-in is never undone).
    if arrival.outcome != CheckinOutcome.CHECKED_IN:
        return True
    return bool(session.execute(CHECK_IN_VISIT if arrival.response is None else CHECK_IN_VISIT_WITH_ANSWERS, {
        "v_id": arrival.visit_id, "v_version": arrival.version, "v_questionnaire_at": arrival.questionnaire_at,
        "ks_id": arrival.kiosk_session_id, "at_site": asked.site.id, "now": asked.now}).rowcount)


def _record_arrival(session: Session, asked: _CheckIn, arrival: _Arrival) -> dict[str, Any]:
    """Once the visit is checked in: the answers, the queue number, the tally, the kiosk session
    closed, the audit. An outcome other than CHECKED_IN records nothing but its answer."""
    terminal, site = asked.terminal, asked.site
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
    number = asked.reserved_number or next_queue_number(session, arrival.drive_id, site.id)
    session.execute(SET_QUEUE_NUMBER, {"v_id": arrival.visit_id, "number": number})
    tally.bump(session, arrival.drive_id, site.id, arrival.department_id, checked_in=1)
    close_kiosk_session(session, arrival.kiosk_session_id)
    insert_audit(session, "checked_in", actor=terminal.actor_at(site), entity="visit",
                 entity_id=arrival.visit_id, drive_id=arrival.drive_id, new={"queue_number": number})
    return {"outcome": CheckinOutcome.CHECKED_IN.value, "visit_id": arrival.visit_id,
            "queue_number": number, "checked_in_at": asked.now.isoformat(), "device_id": terminal.device_id}


def _visit_checked_in(asked: _CheckIn, arrival: _Arrival, result: dict[str, Any]) -> dict[str, Any]:
    """What the check-in wrote to the visit's row, for the session's object."""
    written = dict(queue_number=result["queue_number"], site_id=asked.site.id, checked_in_at=asked.now,
                   status=VisitStatus.CHECKED_IN, version=arrival.version + 1)
    if arrival.response is not None:
        written["questionnaire_at"] = asked.now
    return written


def replayed_check_in(session: Session, nonce: str, terminal: Terminal = ANY_TERMINAL) -> Optional[dict[str, Any]]:
    """The answer already given to this check-in nonce, if any: a retry after the kiosk session
    was closed (by that very check-in) must still get its ticket, not "start again". Only on the
    device that checked in: another client sending the nonce gets nothing from it."""
    receipt = receipt_for(session, nonce, bound_action(CHECK_IN_ACTION, terminal.owner))
    if receipt is None or receipt.result.get("device_id") != terminal.device_id:
        return None
    return dict(receipt.result)
