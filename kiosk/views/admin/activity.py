"""The console's sign-in and staff activity: sign-ins (failed, delayed, unlocked), changes to
accounts, and who opened or took away personal data (donor pages, passes, exports), with filters
(action, person, date) and pages. A drive's own audit log stays with the drive (reports.audit)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import render_template, request

from kiosk.audit_text import ACCESS_ACTIONS, SIGN_IN_ACTIONS, STAFF_ACTIONS, action_text
from kiosk.extensions import db
from kiosk.formatting import local_zone
from kiosk.inputs import parse_date
from kiosk.models import AuditLog, Staff
from kiosk.views.admin import bp
from kiosk.views.lookups import id_arg

ACTIVITY_ACTIONS = SIGN_IN_ACTIONS + STAFF_ACTIONS + ACCESS_ACTIONS
PER_PAGE = 50


def _day_start_utc(day: dt.date) -> dt.datetime:
    """Midnight in the drive's zone, as the naive UTC the log stores."""
    local = dt.datetime.combine(day, dt.time.min, tzinfo=local_zone())
    return local.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _date_arg(name: str) -> tuple[dt.date | None, str]:
    text = (request.args.get(name) or "").strip()[:20]
    try:
        return parse_date(text), text
    except ValueError:
        return None, text


@bp.get("/activity")
def activity():
    action = request.args.get("action", "")
    if action not in ACTIVITY_ACTIONS:
        action = ""
    person = id_arg(request.args, "person")
    day_from, from_text = _date_arg("from")
    day_to, to_text = _date_arg("to")
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 100_000))

    query = sa.select(AuditLog).where(AuditLog.action.in_(ACTIVITY_ACTIONS))
    if action:
        query = query.where(AuditLog.action == action)
    if person:
        # Entries by the person, and sign-in attempts made at their account.
        query = query.where(sa.or_(AuditLog.staff_id == person,
                                   sa.and_(AuditLog.entity == "staff", AuditLog.entity_id == person)))
    if day_from:
        query = query.where(AuditLog.at >= _day_start_utc(day_from))
    if day_to:
        query = query.where(AuditLog.at < _day_start_utc(day_to + dt.timedelta(days=1)))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    pages = max(1, -(-total // PER_PAGE))
    page = min(page, pages)
    entries = db.session.scalars(query.order_by(AuditLog.at.desc(), AuditLog.id.desc())
                                 .offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
    people = db.session.scalars(sa.select(Staff).order_by(Staff.username)).all()
    filters = {"action": action, "person": person or "", "from": from_text, "to": to_text}
    return render_template("admin/activity.html", entries=entries, total=total, page=page, pages=pages,
                           filters=filters, people=people,
                           actions=[(a, action_text(a)) for a in ACTIVITY_ACTIONS],
                           bad_date=bool((from_text and not day_from) or (to_text and not day_to)))
