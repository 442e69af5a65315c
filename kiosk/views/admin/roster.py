"""The console's roster: uploading a drive's list, checking it, importing it; then the passes."""
from __future__ import annotations

import io
from pathlib import Path

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from kiosk.extensions import db
from kiosk.formatting import local_today
from kiosk.models import Drive, DriveStatus
from kiosk.queries.passes import pass_counts
from kiosk.roster.importer import RosterImportError, import_for_drive, preview_summary
from kiosk.roster.messages import describe_format_error, describe_notes, describe_row_error
from kiosk.roster.parser import ParsedRoster, RosterFormatError
from kiosk.roster.template import TEMPLATE_FILENAME, template_workbook
from kiosk.roster.uploads import find_upload, forget_upload, parse_upload, store_upload
from kiosk.views.admin import bp, current_staff_id, form_page_status, forms, get_or_404

PREVIEW_SAMPLE = 8
ERRORS_SHOWN = 500  # a file of 20,000 bad lines gets its first problems and a count, not a page of 80,000


def _roster_preview(drive: Drive, parsed: ParsedRoster, upload_id: str, filename: str, confirm_form=None,
                    status: int = 200, site_error: bool = False):
    confirm_form = confirm_form or forms.RosterConfirmForm(formdata=None, data={"upload_id": upload_id})
    # Every department without a site is listed, chosen or not (the choices stay selected from the form).
    summary = preview_summary(db.session, parsed, drive)
    errors = [(error.line, describe_row_error(error, parsed.headers, with_line=False))
              for error in parsed.errors[:ERRORS_SHOWN]]
    return render_template("admin/roster_preview.html", drive=drive, summary=summary, site_error=site_error,
                           errors=errors, error_total=len(parsed.errors), sample=parsed.rows[:PREVIEW_SAMPLE],
                           filename=filename, form=confirm_form, notes=describe_notes(parsed), parsed=parsed), status


def _upload_expired(drive: Drive):
    flash(_("The upload has expired. Upload the file again."), "error")
    return redirect(url_for("admin.roster", drive_id=drive.id), code=303)


@bp.route("/drives/<int:drive_id>/roster", methods=["GET", "POST"])
def roster(drive_id: int):
    drive = get_or_404(Drive, drive_id)
    form = forms.RosterUploadForm()
    format_error = None
    if drive.status == DriveStatus.CLOSED:
        if request.method == "POST":
            abort(409)
        return render_template("admin/roster.html", drive=drive, form=form, format_error=None)
    if form.validate_on_submit():
        upload = form.roster.data
        filename, data = Path(upload.filename or "").name, upload.read()
        try:
            parsed = parse_upload(filename, data, local_today())
        except RosterFormatError as error:
            format_error = describe_format_error(error)
        else:
            upload_id = store_upload(db.session, data=data, filename=filename,
                                     drive_id=drive.id, staff_id=current_staff_id(), parsed=parsed)
            return _roster_preview(drive, parsed, upload_id, filename)
    return render_template("admin/roster.html", drive=drive, form=form, format_error=format_error), form_page_status()


@bp.post("/drives/<int:drive_id>/roster/confirm")
def roster_confirm(drive_id: int):
    drive = get_or_404(Drive, drive_id)
    if drive.status == DriveStatus.CLOSED:
        abort(409)
    form = forms.RosterConfirmForm()
    stored = find_upload(db.session, form.upload_id.data or "", drive_id=drive.id,
                         staff_id=current_staff_id()) if form.validate_on_submit() else None
    if stored is None:
        return _upload_expired(drive)
    parsed = stored.parsed()  # as checked at upload: the file is not read again
    if parsed is None:
        return _upload_expired(drive)
    if parsed.errors and not form.skip_bad.data:
        form.skip_bad.errors.append(_("Some lines are bad: correct the file and upload it again, or tick this box "
                                      "to import only the good lines."))
        return _roster_preview(drive, parsed, stored.upload_id, stored.filename, confirm_form=form, status=422)
    try:
        result = import_for_drive(db.session, parsed, drive_id=drive_id, staff_id=current_staff_id(),
                                  skip_bad=bool(form.skip_bad.data), site_choices=request.form)
    except RosterImportError as error:
        if error.code == "site_missing":  # a department's site not chosen: asked again, nothing written
            return _roster_preview(drive, parsed, stored.upload_id, stored.filename, confirm_form=form, status=422,
                                   site_error=True)
        abort(404 if error.code == "not_found" else 409)  # drive_closed meanwhile
    forget_upload(db.session, stored)
    flash(_("Imported: %(created)d new donors, %(updated)d updated, %(visits)d added to the drive, "
            "%(skipped)d lines left out.", created=result.created, updated=result.updated,
            visits=result.visits_created, skipped=result.skipped), "ok")
    if result.flagged:
        flash(ngettext("%(num)d donor matched a walk-in whose ID card no nurse has seen: a new pass was made; "
                       "check the ID card at the desk (see the activity log).",
                       "%(num)d donors matched walk-ins whose ID cards no nurse has seen: new passes were made; "
                       "check the ID cards at the desk (see the activity log).", len(result.flagged)), "error")
    return redirect(url_for("admin.passes", drive_id=drive_id), code=303)


@bp.get("/roster/template.xlsx")
def roster_template():
    """An empty roster with the columns the import reads, to send to the offices."""
    return send_file(io.BytesIO(template_workbook()), as_attachment=True, download_name=TEMPLATE_FILENAME,
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", max_age=0)


@bp.get("/drives/<int:drive_id>/passes")
def passes(drive_id: int):
    drive = get_or_404(Drive, drive_id)
    counts = pass_counts(db.session, drive.id)
    return render_template("admin/passes.html", drive=drive, by_site=counts.by_site,
                           by_department=counts.by_department, total=counts.total)
