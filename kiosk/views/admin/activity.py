"""The console's sign-in and staff activity: sign-ins (failed, delayed, unlocked), changes to
accounts, and who opened or took away personal data (donor pages, passes, exports), with filters
(action, person, date) and pages. A drive's own audit log stays with the drive (reports.audit)."""
from __future__ import annotations

import datetime as dt

from flask import render_template, request

from kiosk.audit_text import ACCESS_ACTIONS, SIGN_IN_ACTIONS, STAFF_ACTIONS, action_text
from kiosk.extensions import db
from kiosk.formatting import local_zone
from kiosk.inputs import parse_date
from kiosk.queries.activity import ActivityFilter, day_start_utc, staff_activity
from kiosk.views.admin import bp
from kiosk.views.lookups import id_arg

ACTIVITY_ACTIONS = SIGN_IN_ACTIONS + STAFF_ACTIONS + ACCESS_ACTIONS


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
    chosen = ActivityFilter(action=action, person=person,
                            since=day_start_utc(day_from, local_zone()) if day_from else None,
                            until=day_start_utc(day_to + dt.timedelta(days=1), local_zone()) if day_to else None)
    shown = staff_activity(db.session, ACTIVITY_ACTIONS, chosen, page)
    filters = {"action": action, "person": person or "", "from": from_text, "to": to_text}
    return render_template("admin/activity.html", entries=shown.found.entries, total=shown.found.total,
                           page=shown.found.page, pages=shown.found.pages, filters=filters, people=shown.people,
                           actions=[(a, action_text(a)) for a in ACTIVITY_ACTIONS],
                           bad_date=bool((from_text and not day_from) or (to_text and not day_to)))
