"""Recall for the next drive (issue 21): the donors of a drive, or of every drive, who may give again
by a chosen date, with their phones, as a list and a file for the unit's SMS or Zalo; carried into
another drive's roster with new passes (kiosk.recall works it out and writes it)."""
from __future__ import annotations

import datetime as dt
import io
from typing import Optional

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from kiosk.audit import record_access
from kiosk.exports import FORMATS, to_csv, to_xlsx
from kiosk.extensions import db
from kiosk.formatting import local_today
from kiosk.inputs import parse_date
from kiosk.models import Drive
from kiosk.queries.organisation import drives_with_pass_counts
from kiosk.recall import RecallError, carry_into_drive, recall_export, recall_list
from kiosk.views.admin import bp, current_staff_id, forms, get_or_404
from kiosk.views.lookups import screening_rules


def _by_date(text: Optional[str]) -> tuple[dt.date, Optional[str]]:
    """The date asked for (dd/mm/yyyy), today when none or unreadable (with a message)."""
    try:
        day = parse_date(text) if text else None
    except ValueError:
        return local_today(), _("Enter the date as dd/mm/yyyy, for example 05/09/1990.")
    return day or local_today(), None


def _scope(drive: Drive) -> Optional[int]:
    """The drive's donors, or (everyone=1) every drive's."""
    return None if request.values.get("everyone") == "1" else drive.id


@bp.get("/drives/<int:drive_id>/recall")
def recall(drive_id: int):
    drive = get_or_404(Drive, drive_id)
    by, error = _by_date(request.args.get("by"))
    rows = recall_list(db.session, _scope(drive), by, screening_rules().interval)
    targets = [d for d, _passes in drives_with_pass_counts(db.session) if d.id != drive.id and d.status.value != "closed"]
    return render_template("admin/recall.html", drive=drive, rows=rows, by=by, error=error, formats=FORMATS,
                           everyone=_scope(drive) is None, targets=targets,
                           carry_form=forms.RecallCarryForm(formdata=None, by=by.strftime("%d/%m/%Y"),
                                                            everyone="1" if _scope(drive) is None else ""),
                           ), (422 if error else 200)


@bp.get("/drives/<int:drive_id>/recall.<fmt>")
def recall_file(drive_id: int, fmt: str):
    drive = get_or_404(Drive, drive_id)
    if fmt not in FORMATS:
        abort(404)
    by, _error = _by_date(request.args.get("by"))
    export = recall_export(recall_list(db.session, _scope(drive), by, screening_rules().interval), _scope(drive))
    # Names and phone numbers leave the server: who took which file is logged.
    record_access(db.session, "export_downloaded", staff_id=current_staff_id(), entity="drive", entity_id=drive.id,
                  drive_id=drive.id, details={"kind": "recall", "format": fmt, "by": by.isoformat()})
    if fmt == "csv":
        body, mimetype = to_csv(export), "text/csv; charset=utf-8"
    else:
        body, mimetype = to_xlsx(export), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return send_file(io.BytesIO(body), mimetype=mimetype, as_attachment=True, download_name=export.filename(fmt, by),
                     max_age=0)


@bp.post("/drives/<int:drive_id>/recall/carry")
def recall_carry(drive_id: int):
    drive = get_or_404(Drive, drive_id)
    form = forms.RecallCarryForm()
    by, error = _by_date(form.by.data)
    if not form.validate_on_submit() or error:
        flash(error or _("Choose the drive to carry them into."), "error")
        return redirect(url_for("admin.recall", drive_id=drive.id), code=303)
    rows = recall_list(db.session, _scope(drive), by, screening_rules().interval)
    scope = "all drives" if _scope(drive) is None else f"drive {drive.id}"
    try:
        added = carry_into_drive(db.session, drive_id=form.target.data, donor_ids=[r.donor_id for r in rows],
                                 staff_id=current_staff_id(), source=f"{scope}, by {by.isoformat()}")
    except RecallError as refused:
        flash(_("That drive is closed.") if refused.code == "closed" else _("That drive no longer exists."), "error")
        return redirect(url_for("admin.recall", drive_id=drive.id), code=303)
    flash(_("%(count)d new passes; the others had one already.", count=added), "ok")
    return redirect(url_for("admin.passes", drive_id=form.target.data), code=303)
