"""The console's drives: the list, one drive's page, creating and editing a drive."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from kiosk.drives import DriveError, create_drive, current_drive, drive_fingerprint, drive_values, update_drive
from kiosk.extensions import db
from kiosk.formatting import local_zone
from kiosk.models import Drive
from kiosk.queries.organisation import all_sites, drives_with_pass_counts
from kiosk.report import drive_report
from kiosk.views.admin import bp, current_staff_id, form_page_status, forms, get_or_404


@bp.get("")
def index():
    drive = current_drive()
    if drive is not None:
        return redirect(url_for("admin.drive", drive_id=drive.id))
    return redirect(url_for("admin.drives"))


@bp.get("/drives")
def drives():
    return render_template("admin/drives.html", rows=drives_with_pass_counts(db.session))


def _drive_form(drive: Drive | None = None, **kwargs) -> forms.DriveForm:
    """The drive form: empty, as posted, or (with `drive`) showing the drive as it is now."""
    if drive is not None:
        kwargs["data"] = {**drive_values(drive), "drive_date": drive.drive_date,
                          "sites": [s.id for s in drive.sites], "fingerprint": drive_fingerprint(drive)}
    form = forms.DriveForm(**kwargs)
    form.sites.choices = forms.site_choices(all_sites(db.session))
    return form


def _drive_fields(form: forms.DriveForm) -> dict:
    return {"name": form.name.data, "drive_date": form.drive_date.data, "target_bags": form.target_bags.data,
            "status": form.status.data, "hospital": form.hospital.data, "organiser": form.organiser.data,
            "campaign": form.campaign.data or "", "salutation": form.salutation.data,
            "recognition_steps": form.recognition_steps.data or "", "site_ids": form.sites.data or []}


def _open_elsewhere(error: DriveError) -> str:
    return _("“%(drive)s” is already open at %(site)s. Close it first.",
             drive=error.params["drive"], site=error.params["site"])


@bp.route("/drives/new", methods=["GET", "POST"])
def drive_new():
    form = _drive_form()
    if form.validate_on_submit():
        try:
            new_id = create_drive(db.session, staff_id=current_staff_id(), **_drive_fields(form))
        except DriveError as error:  # only open_elsewhere: a new drive has no fingerprint or reason
            form.status.errors.append(_open_elsewhere(error))
        else:
            flash(_("Drive created."), "ok")
            return redirect(url_for("admin.drive", drive_id=new_id), code=303)
    return render_template("admin/drive_form.html", form=form, drive=None), form_page_status()


@bp.get("/drives/<int:drive_id>")
def drive(drive_id: int):
    drive = get_or_404(Drive, drive_id)
    report = drive_report(db.session, drive_id, local_zone())
    return render_template("admin/drive.html", drive=drive, totals=report.totals, by_site=report.by_site)


@bp.route("/drives/<int:drive_id>/edit", methods=["GET", "POST"])
def drive_edit(drive_id: int):
    drive = get_or_404(Drive, drive_id)
    form = _drive_form(drive) if request.method == "GET" else _drive_form()
    if form.validate_on_submit():
        try:
            changed = update_drive(db.session, drive_id=drive_id, staff_id=current_staff_id(),
                                   expected_fingerprint=form.fingerprint.data or "",
                                   reason=form.reason.data or "", **_drive_fields(form))
        except DriveError as error:
            if error.code == "not_found":
                abort(404)
            if error.code == "changed_meanwhile":
                return _drive_conflict(get_or_404(Drive, drive_id))
            if error.code == "open_elsewhere":
                form.status.errors.append(_open_elsewhere(error))
            else:  # reason_required
                form.reason.errors.append(_("This drive is closed: give the reason for the change."))
        else:
            flash(_("Drive saved.") if changed else _("Nothing was changed."), "ok")
            return redirect(url_for("admin.drive", drive_id=drive_id), code=303)
    return render_template("admin/drive_form.html", form=form, drive=get_or_404(Drive, drive_id)), form_page_status()


def _drive_conflict(drive: Drive):
    form = _drive_form(drive, formdata=None)
    conflict = _("Someone else changed this drive while you were editing it. Its current values are shown: "
                 "make your change again.")
    return render_template("admin/drive_form.html", form=form, drive=drive, conflict=conflict), 409
