"""Arrivals per unit on a drive day: each department's window and its donors expected, arrived,
in screening and donated (live: the table asks again every few seconds), and the one tap that
calls the next unit early when the queue runs short (kiosk.arrivals; the hall display shows it)."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from kiosk.arrivals import ArrivalError, call_early, invited, next_to_call
from kiosk.extensions import db
from kiosk.formatting import local_now
from kiosk.models import Drive
from kiosk.queries.arrivals import drive_windows, unit_progress
from kiosk.views.admin import bp, current_staff_id, forms, get_or_404

# How often the table asks again: a setting, so a test need not wait.
REFRESH_SECONDS = 5


def _page_context(drive: Drive) -> dict:
    now = local_now()
    windows = drive_windows(db.session, drive.id, now.tzinfo, now.date())
    return {"drive": drive, "units": unit_progress(db.session, drive.id), "now": now,
            "invited": {w.department_id for w in invited(windows, now.time())},
            "next_unit": next_to_call(windows, now.time()), "form": forms.CallEarlyForm()}


@bp.get("/drives/<int:drive_id>/arrivals")
def arrivals(drive_id: int):
    drive = get_or_404(Drive, drive_id)
    template = "admin/_arrivals_table.html" if request.headers.get("HX-Request") else "admin/arrivals.html"
    return render_template(template, refresh=current_app.config.get("ARRIVALS_REFRESH_SECONDS", REFRESH_SECONDS),
                           **_page_context(drive))


@bp.post("/drives/<int:drive_id>/arrivals/call-next")
def call_next_unit(drive_id: int):
    drive = get_or_404(Drive, drive_id)
    form = forms.CallEarlyForm()
    if form.validate_on_submit():
        try:
            name = call_early(db.session, department_id=form.department_id.data, drive_id=drive.id,
                              staff_id=current_staff_id())
        except ArrivalError:
            flash(_("That unit has no arrival window: set one in its department's form."), "error")
        else:
            flash(_("%(unit)s is invited now: the hall display shows it.", unit=name), "ok")
    return redirect(url_for("admin.arrivals", drive_id=drive.id), code=303)
