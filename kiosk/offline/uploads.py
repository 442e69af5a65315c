"""A tablet's offline actions, uploaded when it reaches the server again: each applied exactly once
per (device, nonce) through the kiosk's own check-in (kiosk.checkin), with the number the tablet
gave from its block; the tablet's time and the server's kept, an offline action and a late upload
(more than LATE_AFTER between the two) marked, and an answer per action.

A pass checked in at two tablets while both were offline is one visit: the first upload wins, the
second is kept as a conflict (both tablets, both times; the donor keeps the second ticket's number
too, and the nurse queue shows both). A refusal (a pass not of this drive, a walk-in whose ID number
is known, answers that do not do) is kept as well: nothing a tablet did is dropped in silence."""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any, Callable, Optional

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk import tally
from kiosk.audit import insert_audit, record_audit
from kiosk.checkin import (CheckinOutcome, ScanOutcome, Terminal, WalkIn, WalkInRefused, check_in,
                           register_walk_in, replayed_check_in)
from kiosk.checkin.scan import OPEN_KIOSK_SESSION
from kiosk.checkin.terminal import close_kiosk_session
from kiosk.database import write_transaction
from kiosk.devices import audit_actor
from kiosk.idempotency import InvalidNonce
from kiosk.models import Device, OfflineAction, Site, utcnow
from kiosk.queries import offline as queries
from kiosk.queries.drives import todays_drive_id
from kiosk.screening.questionnaire import IncompleteAnswers, Questionnaire

LATE_AFTER = dt.timedelta(minutes=2)
KINDS = ("check_in", "walk_in")


@dataclass(frozen=True)
class OfflineStep:
    """One action as the tablet uploads it, read by the view (kiosk.views.device_api)."""
    nonce: str
    kind: str
    device_time: Optional[dt.datetime]
    offline: bool = True
    number: Optional[int] = None
    digest: str = ""  # check_in: the pass's
    answers: Optional[dict[str, str]] = None  # the questionnaire's fields; None: answered on the phone today
    walk_in: Optional[WalkIn] = None
    problem: str = ""  # why the view could not read it (then refused and recorded)


# The questionnaire's fields, for a donor of this sex -> (answers, details); ValueError if they do not read.
AnswerReader = Callable[[dict[str, str], str], tuple[dict[str, bool], dict[str, str]]]


@dataclass(frozen=True)
class _Upload:
    device: Device
    site: Site
    terminal: Terminal
    drive_id: Optional[int]
    today: dt.date
    today_start_utc: dt.datetime
    questionnaire: Questionnaire
    read_answers: AnswerReader


@dataclass(frozen=True)
class _Result:
    outcome: str  # checked_in, conflict, refused
    reason: str = ""
    visit_id: Optional[int] = None


def apply_upload(session: Session, *, device: Device, site: Site, steps: list[OfflineStep], today: dt.date,
                 today_start_utc: dt.datetime, questionnaire: Questionnaire,
                 read_answers: AnswerReader) -> list[dict[str, Any]]:
    """Apply the steps in order; [{"nonce", "outcome", "reason", "queue_number"}] per step. Commits."""
    upload = _Upload(device, site, Terminal(device.id, audit_actor(device)), todays_drive_id(session, site, today),
                     today, today_start_utc, questionnaire, read_answers)
    return [_apply(session, upload, step) for step in steps]


def _answer(action: OfflineAction) -> dict[str, Any]:
    return {"nonce": action.nonce, "outcome": action.outcome, "reason": action.reason,
            "queue_number": action.queue_number}


def _apply(session: Session, upload: _Upload, step: OfflineStep) -> dict[str, Any]:
    known = queries.recorded_action(session, upload.device.id, step.nonce)
    if known is not None:
        return _answer(known)
    result = _decide(session, upload, step)
    now = utcnow()
    action = OfflineAction(
        device_id=upload.device.id, nonce=step.nonce, kind=step.kind, device_time=step.device_time, received_at=now,
        offline=step.offline, late=step.device_time is not None and now - step.device_time > LATE_AFTER,
        outcome=result.outcome, reason=result.reason, drive_id=upload.drive_id, visit_id=result.visit_id,
        queue_number=step.number)
    try:
        with write_transaction(session, expire=False):
            session.add(action)
            if result.outcome == "conflict":  # the nurse queue shows it at its next poll
                session.execute(tally.TOUCH_DRIVE, {"t_drive_id": upload.drive_id})
            if result.outcome != "checked_in":
                insert_audit(session, f"offline_{result.outcome}", actor=upload.terminal.actor_at(upload.site),
                             entity="visit" if result.visit_id else "device",
                             entity_id=result.visit_id or upload.device.id, drive_id=upload.drive_id,
                             new={"queue_number": step.number, "reason": result.reason,
                                  "device_time": step.device_time.isoformat() if step.device_time else None})
    except IntegrityError:  # the same upload, sent twice at once: the other one recorded it
        return _answer(queries.recorded_action(session, upload.device.id, step.nonce))
    return _answer(action)


def _decide(session: Session, upload: _Upload, step: OfflineStep) -> _Result:
    replayed = replayed_check_in(session, step.nonce, upload.terminal)
    if replayed is not None:  # applied before, its record lost with the connection
        return _of_check_in(replayed)
    if step.problem:
        return _Result("refused", step.problem)
    if upload.drive_id is None:
        return _Result("refused", "no_drive")
    if step.number is None or not queries.is_reserved_for(session, upload.device.id, upload.drive_id, step.number):
        return _Result("refused", "number")
    if step.kind == "walk_in":
        return _walk_in(session, upload, step)
    visit = queries.visit_by_digest(session, upload.drive_id, step.digest)
    if visit is None:
        return _Result("refused", "unknown")
    if visit.checked_in_at is not None:
        return _Result("conflict", "checked_in_elsewhere", visit.id)
    kiosk_session_id = _open_kiosk_session(session, upload, visit.id)
    if kiosk_session_id is None:
        return _Result("conflict", "checked_in_elsewhere", visit.id)
    return _check_in(session, upload, step, kiosk_session_id, visit.id, visit.donor.sex)


def _walk_in(session: Session, upload: _Upload, step: OfflineStep) -> _Result:
    try:
        scanned = register_walk_in(session, walk_in=step.walk_in, site=upload.site, today=upload.today,
                                   nonce=step.nonce + "w", terminal=upload.terminal)
    except WalkInRefused:  # an ID number we know: the desk checks the card and finds the donor
        return _Result("refused", "known_id")
    if scanned.outcome != ScanOutcome.ACCEPTED:
        return _Result("refused", scanned.outcome.value)
    return _check_in(session, upload, step, scanned.kiosk_session_id, None, step.walk_in.sex)


def _open_kiosk_session(session: Session, upload: _Upload, visit_id: int) -> Optional[str]:
    with write_transaction(session, expire=False):
        return session.execute(OPEN_KIOSK_SESSION, {
            "ks_id": secrets.token_urlsafe(24), "ks_visit_id": visit_id, "ks_site_id": upload.site.id,
            "ks_device_id": upload.device.id, "ks_created_at": utcnow()}).scalar()


def _check_in(session: Session, upload: _Upload, step: OfflineStep, kiosk_session_id: str,
              visit_id: Optional[int], sex: str) -> _Result:
    answers = details = None
    if step.answers is not None:
        try:
            answers, details = upload.read_answers(step.answers, sex)
        except ValueError:
            return _closed(session, kiosk_session_id, _Result("refused", "answers", visit_id))
    try:
        result = check_in(session, kiosk_session_id=kiosk_session_id, site=upload.site,
                          questionnaire=upload.questionnaire, answers=answers, details=details,
                          today_start_utc=upload.today_start_utc, nonce=step.nonce, terminal=upload.terminal,
                          reserved_number=step.number, arrived_at=step.device_time)
    except (IncompleteAnswers, InvalidNonce):
        return _closed(session, kiosk_session_id, _Result("refused", "answers", visit_id))
    return _closed(session, kiosk_session_id, _of_check_in(result))


def _of_check_in(result: dict[str, Any]) -> _Result:
    outcome = result["outcome"]
    if outcome == CheckinOutcome.CHECKED_IN.value:
        return _Result("checked_in", "", result["visit_id"])
    if outcome == CheckinOutcome.ALREADY_CHECKED_IN.value:
        return _Result("conflict", "checked_in_elsewhere", result["visit_id"])
    return _Result("refused", outcome, result.get("visit_id"))


def _closed(session: Session, kiosk_session_id: str, result: _Result) -> _Result:
    """The kiosk session the upload opened, closed whatever came of it."""
    with write_transaction(session, expire=False):
        close_kiosk_session(session, kiosk_session_id)
    return result


def refuse_revoked_upload(session: Session, *, site_code: str, count: int) -> None:
    """A revoked (or never paired) tablet's upload: refused, and recorded for the organiser."""
    with write_transaction(session):
        record_audit(session, "offline_upload_refused", actor=f"kiosk:{site_code}"[:120], entity="device",
                     new={"actions": count, "site": site_code})
