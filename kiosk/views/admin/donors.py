"""The console's donors (search, one donor's history) and a drive's donations, with their
corrections and voiding (kiosk.donations does the writing)."""
from __future__ import annotations

from typing import Callable

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from kiosk import donations as donation_service
from kiosk import labels
from kiosk.audit import record_access
from kiosk.donor_search import donor_history, search_donors
from kiosk.extensions import db
from kiosk.formatting import local_today
from kiosk.models import Donation, Drive
from kiosk.queries.donations import donation_audit, drive_donations
from kiosk.views.admin import bp, current_staff_id, forms, get_or_404
from kiosk.views.refusals import refused


@bp.route("/donors", methods=["GET", "POST"])
def donors():
    # The query travels in a POST body, never in the URL: names and ID numbers stay out of
    # browser history and server logs.
    form = forms.DonorSearchForm()
    hits, searched, status = [], False, 200
    if request.method == "POST":
        if form.validate_on_submit():
            hits, searched = search_donors(db.session, form.q.data), True
        elif form.errors.get("csrf_token"):
            abort(400)
        elif form.q.data:
            status = 422
    if request.headers.get("HX-Request"):
        # Only the results are swapped in, so they carry the field's error (the full page has it under the field).
        return render_template("admin/_donor_results.html", form=form, hits=hits, searched=searched,
                               error_here=True), status
    return render_template("admin/donors.html", form=form, hits=hits, searched=searched), status


@bp.get("/donors/<int:donor_id>")
def donor(donor_id: int):
    history = donor_history(db.session, donor_id, local_today())
    if history is None:
        abort(404)
    record_access(db.session, "donor_page_viewed", staff_id=current_staff_id(), entity="donor", entity_id=donor_id)
    return render_template("admin/donor.html", history=history)


# ---------------------------------------------------------------- donations and corrections

@bp.get("/drives/<int:drive_id>/donations")
def donations(drive_id: int):
    drive = get_or_404(Drive, drive_id)
    return render_template("admin/donations.html", drive=drive, rows=drive_donations(db.session, drive.id))


def _donation_forms(donation: Donation, correct=None, void=None):
    correct = correct or forms.DonationCorrectionForm(formdata=None, data={
        "volume_ml": donation.volume_ml, "bag_number": donation.bag_number, "outcome": donation.outcome,
        "reaction": donation.reaction, "reaction_note": donation.reaction_note,
        "expected_version": donation.version})
    void = void or forms.DonationVoidForm(formdata=None, data={"expected_version": donation.version})
    return correct, void


def _render_donation(donation: Donation, correct=None, void=None, error=None, status=200, serial=None):
    correct, void = _donation_forms(donation, correct, void)
    serial = serial or forms.CertificateSerialForm(formdata=None, data={
        "certificate_serial": donation.certificate_serial, "expected_version": donation.version})
    visit = donation.visit
    return render_template("admin/donation.html", donation=donation, visit=visit, drive=visit.drive,
                           correct=correct, void=void, serial=serial, error=error,
                           entries=donation_audit(db.session, donation.id)), status


def _refused(error: donation_service.DonationError, donation: Donation, **forms):
    """The donation's page again after a refused change (kiosk.views.refusals rolls back): a
    conflict shows the donation as it is now, in fresh forms; any other refusal keeps the form."""
    def render(status: int):
        kept = forms if status == 422 else {}
        return _render_donation(donation, error=labels.error_text(error.code), status=status, **kept)
    return refused(error, render)


def _changed(record: Donation, write: Callable[[], object], done: str, **form):
    """Run the change's write (kiosk.donations); the page again if the domain refuses it, the
    donation's page with `done` when it is saved. form: the form it came from, by its name
    on the page (correct, void or serial)."""
    donation_id = record.id  # the write's commit expires the record: its id is taken before
    try:
        write()
    except donation_service.DonationError as error:
        return _refused(error, record, **form)
    except ValueError:  # a malformed nonce or version: the form was not ours
        db.session.rollback()
        abort(400)
    flash(done, "ok")
    return redirect(url_for("admin.donation", donation_id=donation_id), code=303)


@bp.route("/donations/<int:donation_id>", methods=["GET", "POST"])
def donation(donation_id: int):
    record = get_or_404(Donation, donation_id)
    if request.method == "GET":
        return _render_donation(record)
    form = forms.DonationCorrectionForm()
    if not form.validate_on_submit():
        return _render_donation(record, correct=form, status=422)
    return _changed(record, lambda: donation_service.correct_donation(
        db.session, donation_id=record.id, staff_id=current_staff_id(),
        expected_version=int(form.expected_version.data or 0), volume_ml=form.volume_ml.data,
        bag_number=form.bag_number.data.strip(), outcome=form.outcome.data, reaction=form.reaction.data,
        reaction_note=(form.reaction_note.data or "").strip(), reason=form.reason.data.strip(),
        nonce=form.nonce.data or "", allow_closed_drive=True),
        _("Donation corrected. The change is in the audit log."), correct=form)


@bp.post("/donations/<int:donation_id>/void")
def donation_void(donation_id: int):
    record = get_or_404(Donation, donation_id)
    form = forms.DonationVoidForm()
    if not form.validate_on_submit():
        return _render_donation(record, void=form, status=422)
    return _changed(record, lambda: donation_service.void_donation(
        db.session, donation_id=record.id, staff_id=current_staff_id(),
        expected_version=int(form.expected_version.data or 0), reason=form.reason.data.strip(),
        nonce=form.nonce.data or "", allow_closed_drive=True),
        _("Donation voided. The change is in the audit log."), void=form)


@bp.post("/donations/<int:donation_id>/certificate-serial")
def donation_certificate_serial(donation_id: int):
    """The serial number of the official certificate handed over (often after the drive)."""
    record = get_or_404(Donation, donation_id)
    form = forms.CertificateSerialForm()
    if not form.validate_on_submit():
        return _render_donation(record, serial=form, status=422)
    return _changed(record, lambda: donation_service.record_certificate_serial(
        db.session, donation_id=record.id, staff_id=current_staff_id(),
        expected_version=int(form.expected_version.data or 0), certificate_serial=form.certificate_serial.data,
        nonce=form.nonce.data or ""),
        _("Certificate serial number recorded."), serial=form)
