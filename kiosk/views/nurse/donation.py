"""The donation on a donor's page at the nurse station: record it, correct it, void it. Each
goes to kiosk.donations; the page itself is kiosk.views.nurse.visit's."""
from __future__ import annotations

from flask import abort, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from kiosk.donations import DonationError, correct_donation as correct_recorded_donation, record_donation
from kiosk.donations import void_donation as void_recorded_donation
from kiosk.extensions import db
from kiosk.idempotency import receipt_of
from kiosk.models import Donation, Visit
from kiosk.views.nurse import bp, site_and_drive, visit_here
from kiosk.views.nurse.forms import CorrectDonationForm, DonationForm, VoidForm
from kiosk.views.nurse.visit import change_refused, error_response, int_or_none, render_visit, visit_context


@bp.post("/<code>/visit/<int:visit_id>/donation")
def donate(code: str, visit_id: int):
    site, drive = site_and_drive(code)
    visit = visit_here(site, drive, visit_id)
    form = DonationForm()
    if not form.validate_on_submit():
        return render_visit(visit_context(site, drive, visit, donation_form=form,
                                            error=_("Nothing was saved: correct the highlighted fields.")), 422)
    # A retry of a donation that was recorded (its answer lost on the Wi-Fi) finds the visit one
    # version on, by its own doing: record_donation answers it from the nonce's receipt instead.
    retried = receipt_of(db.session, form.nonce.data) is not None
    if not retried and int_or_none(form.expected_version.data) != visit.version:
        return error_response(site, drive, visit, "version_conflict", 409)
    try:
        record_donation(db.session, visit_id=visit.id, nurse_id=current_user.staff.id,
                        volume_ml=int(form.volume_ml.data), bag_number=form.bag_number.data, outcome=form.outcome.data,
                        reaction=form.reaction.data, reaction_note=form.reaction_note.data or "", nonce=form.nonce.data,
                        certificate_serial=form.certificate_serial.data or "")
    except DonationError as error:
        db.session.expire_all()
        visit = db.session.get(Visit, visit_id)
        if error.code in ("already_donated", "version_conflict"):
            return error_response(site, drive, visit, "version_conflict", 409)
        return error_response(site, drive, visit, error.code, 422, donation_form=form)
    return redirect(url_for("nurse.visit", code=site.code, visit_id=visit.id), code=303)


def _donation_here(visit: Visit, donation_id: int) -> Donation:
    donation = db.session.get(Donation, donation_id)
    if donation is None or donation.visit_id != visit.id:
        abort(404)
    return donation


@bp.post("/<code>/visit/<int:visit_id>/donation/<int:donation_id>/correct")
def correct_donation(code: str, visit_id: int, donation_id: int):
    site, drive = site_and_drive(code)
    visit = visit_here(site, drive, visit_id)
    donation = _donation_here(visit, donation_id)
    form = CorrectDonationForm()
    if not form.validate_on_submit():
        return render_visit(visit_context(site, drive, visit, correct_donation_form=form, open_correction="donation",
                                            error=_("Nothing was saved: correct the highlighted fields.")), 422)
    try:
        correct_recorded_donation(
            db.session, donation_id=donation.id, staff_id=current_user.staff.id,
            expected_version=int_or_none(form.expected_version.data) or -1, volume_ml=int(form.volume_ml.data),
            bag_number=form.bag_number.data, outcome=form.outcome.data, reaction=form.reaction.data,
            reaction_note=form.reaction_note.data or "", reason=form.correction_reason.data, nonce=form.nonce.data,
            certificate_serial=form.certificate_serial.data or "")
    except DonationError as error:
        return change_refused(site, drive, visit_id, error.code, "donation", correct_donation_form=form)
    return redirect(url_for("nurse.visit", code=site.code, visit_id=visit.id), code=303)


@bp.post("/<code>/visit/<int:visit_id>/donation/<int:donation_id>/void")
def void_donation(code: str, visit_id: int, donation_id: int):
    site, drive = site_and_drive(code)
    visit = visit_here(site, drive, visit_id)
    donation = _donation_here(visit, donation_id)
    form = VoidForm()
    if not form.validate_on_submit():
        return render_visit(visit_context(site, drive, visit, void_donation_form=form, open_correction="donation",
                                            error=_("Nothing was saved: correct the highlighted fields.")), 422)
    try:
        void_recorded_donation(db.session, donation_id=donation.id, staff_id=current_user.staff.id,
                               expected_version=int_or_none(form.expected_version.data) or -1,
                               reason=form.void_reason.data, nonce=form.nonce.data)
    except DonationError as error:
        return change_refused(site, drive, visit_id, error.code, "donation", void_donation_form=form)
    return redirect(url_for("nurse.visit", code=site.code, visit_id=visit.id), code=303)
