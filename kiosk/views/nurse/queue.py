"""The queue: choosing a site, the live queue (polled), finding a donor by pass or queue number."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from flask_login import current_user

from kiosk.auth import may_open_site
from kiosk.drives import current_drive
from kiosk.extensions import db
from kiosk.models import Drive, Site, StaffRole, Visit, VisitStatus, utcnow
from kiosk.queries.offline import conflicts as offline_conflicts
from kiosk.queries.visits import visit_by_queue_number, visit_by_token
from kiosk.screening import desk
from kiosk.screening.decisions import CLAIM_MINUTES, UNDECIDED
from kiosk.tokens import token_from_scan
from kiosk.views.nurse import bp, site_and_drive
from kiosk.views.nurse.forms import STATUS_LABELS, FindForm


def _queue_key(drive: Drive) -> str:
    # Changes with the drive's revision, and once a minute so the waiting times move on.
    return f"{drive.revision}-{int(utcnow().timestamp() // 60)}"


@bp.get("")
def choose_site():
    drive = current_drive()
    staff = current_user.staff
    sites = [s for s in drive.sites if may_open_site(staff, s)] if drive else []
    # A nurse with no site assigned is told so, rather than shown an empty list.
    unassigned = staff.role == StaffRole.NURSE and not staff.sites
    return render_template("nurse/choose_site.html", drive=drive, sites=sites, unassigned=unassigned)


# The queue in the order a nurse works it: who waits first, then who is being screened, then who
# is on the way to (or in) the donation chair; the finished ones last, folded away.
QUEUE_GROUPS = (
    ("waiting", STATUS_LABELS[VisitStatus.CHECKED_IN], (VisitStatus.CHECKED_IN,)),
    ("in_screening", STATUS_LABELS[VisitStatus.IN_SCREENING], (VisitStatus.IN_SCREENING,)),
    ("donating", _l("Cleared or donating"), (VisitStatus.CLEARED, VisitStatus.DONATING)),
)
FINISHED = (VisitStatus.DONE, VisitStatus.DEFERRED)


def queue_groups(visits: list[Visit]) -> list[dict[str, Any]]:
    """The active groups, each {key, title, visits} in queue-number order (empty ones included)."""
    return [{"key": key, "title": title, "visits": [v for v in visits if v.status in statuses]}
            for key, title, statuses in QUEUE_GROUPS]


def _queue_context(site: Site, drive: Drive) -> dict[str, Any]:
    visits = desk.queue(db.session, drive.id, site.id)
    now = utcnow()
    return {"site": site, "drive": drive, "visits": visits, "groups": queue_groups(visits),
            "finished": [v for v in visits if v.status in FINISHED],
            "flag_counts": desk.flag_counts(db.session, [v.id for v in visits]),
            "conflicts": _conflicts_by_visit(drive.id, [v.id for v in visits]),
            "queue_key": _queue_key(drive), "now": now, "status_labels": STATUS_LABELS,
            "claim_cutoff": now - dt.timedelta(minutes=CLAIM_MINUTES),
            "waiting_count": sum(v.status in UNDECIDED for v in visits)}


def _conflicts_by_visit(drive_id: int, visit_ids: list[int]) -> dict[int, list]:
    """A pass checked in at two offline kiosks: the donor holds both numbers (kiosk.offline)."""
    found: dict[int, list] = {}
    for conflict in offline_conflicts(db.session, drive_id, visit_ids):
        found.setdefault(conflict.visit_id, []).append(conflict)
    return found


@bp.get("/<code>")
def queue(code: str):
    site, drive = site_and_drive(code)
    return render_template("nurse/queue.html", form=FindForm(), error=None, **_queue_context(site, drive))


@bp.get("/<code>/queue")
def queue_rows(code: str):
    """The queue partial, polled every 2 s: 204 when nothing changed since the client's copy."""
    site, drive = site_and_drive(code)
    if request.args.get("since") == _queue_key(drive):
        return "", 204
    return render_template("nurse/_queue.html", **_queue_context(site, drive))


@bp.post("/<code>/find")
def find(code: str):
    """A scanned pass (the URL in its QR, or the bare token) or a typed queue number."""
    site, drive = site_and_drive(code)
    form = FindForm()
    error = None
    if form.validate_on_submit():
        text = form.query.data.strip()
        visit = None
        if re.fullmatch(r"\d{1,5}", text):
            visit = visit_by_queue_number(db.session, drive.id, site.id, int(text))
            if visit is None:
                error = _("No donor has queue number %(number)s at this site today.", number=int(text))
        else:
            token = token_from_scan(text)
            visit = visit_by_token(db.session, token) if token else None
            if visit is None or visit.drive_id != drive.id:
                error, visit = _("This code is not a pass for today's drive."), None
            elif visit.checked_in_at is None:
                error, visit = _("This donor has not checked in at the kiosk yet."), None
            elif visit.site_id != site.id:
                error = _("This donor checked in at another site: %(site)s.", site=visit.site.name if visit.site else "")
                visit = None
        if visit is not None:
            return redirect(url_for("nurse.visit", code=site.code, visit_id=visit.id), code=303)
    form.query.data = ""
    return render_template("nurse/queue.html", form=form, error=error, **_queue_context(site, drive)), 422
