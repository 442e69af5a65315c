"""The donation on a donor's page at the nurse station: record it, correct it, void it. Each
goes to kiosk.donations; the page itself is kiosk.views.nurse.visit's."""
from __future__ import annotations

from flask import redirect, url_for
from flask_login import current_user

from kiosk.donations import DonationError, correct_donation as correct_recorded_donation, record_donation
from kiosk.donations import void_donation as void_recorded_donation
from kiosk.extensions import db
from kiosk.idempotency import receipt_of
from kiosk.queries.donations import donation_of_visit
from kiosk.views.nurse import bp, found_or_404, site_and_drive, visit_here
from kiosk.views.nurse.forms import CorrectDonationForm, DonationForm, VoidForm
from kiosk.views.nurse.visit import error_response, int_or_none, not_saved, refusal_answer
from kiosk.views.refusals import DONATION_CONFLICT_CODES


@bp.post("/<code>/visit/<int:visit_id>/donation")
def donate(code: str, visit_id: int):
    site, drive = site_and_drive(code)
    visit = visit_here(site, drive, visit_id)
    form = DonationForm()
    if not form.validate_on_submit():
        return not_saved(site, drive, visit, donation_form=form)
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
        return refusal_answer(site, drive, visit, error, donation_form=form, conflicts=DONATION_CONFLICT_CODES)
    return redirect(url_for("nurse.visit", code=site.code, visit_id=visit.id), code=303)


@bp.post("/<code>/visit/<int:visit_id>/donation/<int:donation_id>/correct")
def correct_donation(code: str, visit_id: int, donation_id: int):
    site, drive = site_and_drive(code)
    visit = visit_here(site, drive, visit_id)
    donation = found_or_404(donation_of_visit(db.session, visit.id, donation_id))
    form = CorrectDonationForm()
    if not form.validate_on_submit():
        return not_saved(site, drive, visit, correct_donation_form=form, open_correction="donation")
    try:
        correct_recorded_donation(
            db.session, donation_id=donation.id, staff_id=current_user.staff.id,
            expected_version=int_or_none(form.expected_version.data) or -1, volume_ml=int(form.volume_ml.data),
            bag_number=form.bag_number.data, outcome=form.outcome.data, reaction=form.reaction.data,
            reaction_note=form.reaction_note.data or "", reason=form.correction_reason.data, nonce=form.nonce.data,
            certificate_serial=form.certificate_serial.data or "")
    except DonationError as error:
        return refusal_answer(site, drive, visit, error, open_correction="donation", correct_donation_form=form)
    return redirect(url_for("nurse.visit", code=site.code, visit_id=visit.id), code=303)


@bp.post("/<code>/visit/<int:visit_id>/donation/<int:donation_id>/void")
def void_donation(code: str, visit_id: int, donation_id: int):
    site, drive = site_and_drive(code)
    visit = visit_here(site, drive, visit_id)
    donation = found_or_404(donation_of_visit(db.session, visit.id, donation_id))
    form = VoidForm()
    if not form.validate_on_submit():
        return not_saved(site, drive, visit, void_donation_form=form, open_correction="donation")
    try:
        void_recorded_donation(db.session, donation_id=donation.id, staff_id=current_user.staff.id,
                               expected_version=int_or_none(form.expected_version.data) or -1,
                               reason=form.void_reason.data, nonce=form.nonce.data)
    except DonationError as error:
        return refusal_answer(site, drive, visit, error, open_correction="donation", void_donation_form=form)
    return redirect(url_for("nurse.visit", code=site.code, visit_id=visit.id), code=303)
