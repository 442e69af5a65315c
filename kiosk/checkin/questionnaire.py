"""The questionnaire's step: answers given on the donor's phone before the drive day's queue, or
at the kiosk just before the check-in (which stores them in its own write, kiosk.checkin.confirm).

The first answers of the day given on the phone are locked (someone else holding the pass link
cannot replace them), but the donor at the kiosk may answer again: those then stand, and the
audit keeps which phone answers they replaced."""
from __future__ import annotations

import datetime as dt
import enum
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.idempotency import receipt_for, run_once
from kiosk.models import DriveStatus, QuestionnaireResponse, Visit, utcnow
from kiosk.screening.questionnaire import Questionnaire, flags_for, validate_answers, validate_details

PHONE_ANSWERS_ACTION = "phone_questionnaire"

RESPONSES = QuestionnaireResponse.__table__
ANSWERED_SINCE = sa.select(sa.func.count()).select_from(RESPONSES).where(
    RESPONSES.c.visit_id == sa.bindparam("visit_id"), RESPONSES.c.submitted_at >= sa.bindparam("since"))
INSERT_RESPONSE = sa.insert(RESPONSES)


class PhoneAnswersOutcome(str, enum.Enum):
    STORED = "stored"
    ALREADY_ANSWERED = "already_answered"  # locked: the first answers stand (the kiosk may replace them)
    CLOSED = "closed"  # not the drive day, or the donor has checked in already


def answered_today(session: Session, visit: Visit, today_start_utc: dt.datetime) -> bool:
    """Did the donor answer the questionnaire today (on the phone, say)? Answers from another day do not count."""
    return session.execute(ANSWERED_SINCE, {"visit_id": visit.id, "since": today_start_utc}).scalar() > 0


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
    changes nothing; the same nonce retried answers the same. Returns {"outcome", "response_id"}.

    Unlike the kiosk's writes, this one reads inside its transaction (the visit's row held): it is
    rare, and not in a queue of donors."""
    result, _replayed = run_once(session, nonce, PHONE_ANSWERS_ACTION, lambda: _store_phone_answers(
        session, visit_id, questionnaire, answers, details, today, today_start_utc, nonce))
    return result


def _store_phone_answers(session: Session, visit_id: int, questionnaire: Questionnaire, answers: dict[str, bool],
                         details: Optional[dict[str, str]], today: dt.date, today_start_utc: dt.datetime,
                         nonce: str) -> dict[str, Any]:
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


def replayed_phone_answers(session: Session, nonce: str) -> bool:
    """Is this a retry of answers already stored from the pass page (its nonce has their receipt)?
    It then gets the same answer, not "already answered"."""
    return receipt_for(session, nonce, PHONE_ANSWERS_ACTION) is not None


def store_answers(session: Session, *, visit: Visit, questionnaire: Questionnaire, answers: dict[str, bool],
                  channel: str, nonce: str, details: Optional[dict[str, str]] = None) -> QuestionnaireResponse:
    """Validate and add a questionnaire response (in the caller's transaction). `details`: what a
    "yes" asked for next (which vaccine, which illness, "<id>#date" as an ISO date)."""
    row = response_row(questionnaire, visit, answers, details, channel=channel, nonce=nonce)
    response = QuestionnaireResponse(**row)
    session.add(response)
    visit.questionnaire_at = utcnow()
    return response


def response_row(questionnaire: Questionnaire, visit: Visit, answers: dict[str, bool],
                 details: Optional[dict[str, str]], **row: Any) -> dict[str, Any]:
    """The answers validated (IncompleteAnswers if they do not do), as a row of questionnaire_response;
    `row`: its other columns (channel, nonce, submitted_at)."""
    clean = validate_answers(questionnaire, visit.donor.sex, answers, details)
    kept = validate_details(questionnaire, visit.donor.sex, clean, details)
    return {"visit_id": visit.id, "questionnaire_version": questionnaire.version, "answers": clean, "details": kept,
            "flags": flags_for(questionnaire, clean, kept), **row}
