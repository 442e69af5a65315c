"""A donor's page at the nurse station, and everything recorded on it: the suggestion as the
vitals are typed, the decision, the donation, their corrections and voids. Each write goes to
a domain function (kiosk.screening.decisions, kiosk.donations); this module checks the form,
calls it, and turns its outcome code into words."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any, Optional

from flask import abort, current_app, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from kiosk import labels
from kiosk.extensions import db
from kiosk.errors import DomainError
from kiosk.formatting import current_locale, format_number, local_today
from kiosk.models import Decision, Drive, Screening, Site, Visit, utcnow
from kiosk.queries.visits import screening_of_visit
from kiosk.screening import decisions
from kiosk.screening import desk
from kiosk.screening.decision_checks import is_override, missing_checks
from kiosk.screening.decisions import ScreeningError
from kiosk.screening.engine import Suggestion, age_on, implausible_vitals
from kiosk.screening.messages import describe_consequence, describe_reason, rule_label, source_label
from kiosk.screening.questionnaire import Questionnaire, load_questionnaire
from kiosk.screening.rules import Vitals
from kiosk.views.lookups import screening_rules
from kiosk.views.nurse import audit_donor_page, bp, found_or_404, site_and_drive, visit_here
from kiosk.views.refusals import CONFLICT_CODES, refused
from kiosk.views.nurse.forms import (DECISION_LABELS, ClaimForm, OUTCOME_LABELS, REACTION_LABELS, STATUS_LABELS, VITAL_NAMES,
                                     CorrectDecisionForm, CorrectDonationForm, DonationForm, ScreeningForm, VoidForm,
                                     _number, vitals_from)

# Which form field an error belongs next to.
ERROR_FIELDS = {"invalid_volume": "volume_ml", "invalid_return_date": "deferral_until", "reason_required": "reason",
                "override_reason_required": "override_reason", "invalid_decision": "decision",
                "bag_number_taken": "bag_number", "invalid_bag_number": "bag_number", "invalid_outcome": "outcome",
                "invalid_reaction": "reaction", "checks_reason_required": "checks_reason",
                "invalid_identity_document": "identity_document", "invalid_certificate_serial": "certificate_serial"}


def _questionnaire() -> Questionnaire:
    return load_questionnaire(current_app.config.get("QUESTIONNAIRE_PATH"))


def _impossible(vitals: Vitals) -> dict[str, str]:
    """Field -> message for values no living donor has (pulse 900, weight 4000)."""
    messages = {}
    for name, (low, high) in implausible_vitals(vitals, screening_rules()).items():
        messages[name] = _("This cannot be right: enter a value from %(low)s to %(high)s.",
                           low=format_number(low, None), high=format_number(high, None))
    return messages


def _haemoglobin_unit_mistake(text: Optional[str]) -> Optional[str]:
    """Haemoglobin typed in g/dL (12.5) where g/L is asked (125): the message that says so, or None."""
    try:
        value = _number(text)
    except ValueError:
        return None
    lowest, highest = screening_rules().plausible.get("haemoglobin_g_l", (30, 250))
    if value is None or not lowest / 10 <= value < lowest:
        return None
    return _("Did you mean %(value)s g/L? Haemoglobin is entered in g/L: %(typed)s g/dL is %(value)s g/L.",
             value=format_number(round(value * 10)), typed=format_number(value, None))


def _suggestion_for(visit: Visit, vitals: Optional[Vitals]) -> Suggestion:
    return desk.suggestion_for(db.session, visit, vitals, screening_rules(), _questionnaire())


def _reason_rows(suggestion: Suggestion) -> list[dict[str, Any]]:
    return [{"text": describe_reason(r), "rule": rule_label(r.rule), "source": source_label(r.source), "until": r.until,
             "permanent": r.permanent, "id": r.rule, "blocking": r.blocking}
            for r in suggestion.reasons]


def _flag_rows(response, suggestion: Suggestion) -> list[dict[str, Any]]:
    """The donor's "yes" answers in words, each with the rule (and deferral) it touches."""
    language = "en" if current_locale() == "en" else "vi"
    return [{"item": row.item, "number": row.number, "text": row.text, "choice": row.choice, "detail": row.detail,
             "event_date": row.event_date, "event_month": row.event_month, "advice": row.advice,
             "rule": describe_consequence(row.reason) if row.reason else _flag_kind(row.flag),
             "source": source_label(row.reason.source) if row.reason else "", "until": row.reason.until if row.reason else None,
             "note": row.note}
            for row in desk.flag_rows(response, suggestion, _questionnaire(), language)]


def _flag_kind(flag: dict[str, Any]) -> str:
    kind = flag.get("kind")
    if kind == "permanent":
        return _("Suggests a permanent deferral")
    if kind == "months":
        return _("Suggests a deferral of %(n)s months", n=flag.get("months"))
    if kind == "days" or (kind == "wait" and "days" in flag):
        return _("Suggests a deferral of %(n)s days", n=flag.get("days"))
    if kind == "wait" and "weeks" in flag:
        return _("Suggests a deferral of %(n)s weeks", n=flag.get("weeks"))
    if kind == "wait" and "months" in flag:
        return _("Suggests a deferral of %(n)s months", n=flag.get("months"))
    if kind == "advice":
        return _("Advice: work that needs 12 hours after donating")
    if kind == "nurse_sets_date":
        return _("The nurse sets the date")
    return _("For the nurse to review")


def visit_context(site: Site, drive: Drive, visit: Visit, *, form: Optional[ScreeningForm] = None,
                  vitals: Optional[Vitals] = None, open_result=None, **extra) -> dict[str, Any]:
    """The donor's page: what desk.visit_record read, in words, with the forms that apply."""
    record = desk.visit_record(db.session, visit)
    screening = record.screening
    if screening is not None and screening.suggestion:
        suggestion = Suggestion.from_dict(screening.suggestion)
    else:
        if form is None:
            form = ScreeningForm(formdata=None, expected_version=str(visit.version))
        vitals = vitals if vitals is not None else vitals_from(form)
        suggestion = desk.suggestion_from(visit, record.response, record.last_donation, vitals, screening_rules(),
                                          _questionnaire())
    donor = visit.donor
    last = record.last_donation.date if record.last_donation else None
    context = {
        "site": site, "drive": drive, "visit": visit, "donor": donor, "response": record.response,
        "age": age_on(donor.date_of_birth, drive.drive_date), "last_donation": last,
        "days_since_last": (drive.drive_date - last).days if last else None,
        "flags": _flag_rows(record.response, suggestion), "suggestion": suggestion,
        "reasons": _reason_rows(suggestion), "screening": screening, "screenings": record.screenings,
        "donation": record.donation, "donations": record.donations, "form": form,
        "status_labels": STATUS_LABELS, "decision_labels": DECISION_LABELS, "outcome_labels": OUTCOME_LABELS,
        "reaction_labels": REACTION_LABELS, "open_result": open_result,
        "channel_labels": {"kiosk": _("at the kiosk"), "phone": _("on the phone")},
        "identity_labels": labels.IDENTITY_DOCUMENT, "history": record.history,
        "field_errors": {}, "conflict": None, "error": None, "today": local_today(),
        "open_correction": None, "claim_form": ClaimForm(), "mine": _is_mine(visit),
        "needed": _needed_fields(form, vitals, suggestion) if screening is None else set(),
        **_change_forms(visit, screening, record.donation),
    }
    context.update(extra)
    return context


def _needed_fields(form: ScreeningForm, vitals: Optional[Vitals], suggestion: Suggestion) -> set[str]:
    """The decision's optional fields this form, as sent, needs: the page shows them even without
    its script (which shows them as the nurse chooses), with what was typed in them."""
    decision = form.decision.data
    needed = {name for name in ("override_reason", "checks_reason") if (getattr(form, name).data or "").strip()}
    if decision and is_override(decision, int_or_none(form.volume_ml.data), suggestion.to_dict()):
        needed.add("override_reason")
    hb = vitals.haemoglobin_g_l if vitals else None
    if decision == Decision.ACCEPTED and missing_checks(form.identity_document.data or None, hb):
        needed.add("checks_reason")
    return needed


def _change_forms(visit: Visit, screening: Optional[Screening], donation) -> dict[str, Any]:
    """The forms that change what is recorded: correct or void the decision, record the
    donation once the donor is accepted, correct or void the donation."""
    forms: dict[str, Any] = {}
    if screening is not None:
        forms["correct_form"] = _correct_decision_form(screening)
        forms["void_decision_form"] = VoidForm(formdata=None, expected_version=str(screening.version))
    if screening is not None and screening.decision == Decision.ACCEPTED and donation is None:
        forms["donation_form"] = DonationForm(formdata=None, volume_ml=str(screening.volume_ml or ""),
                                              expected_version=str(visit.version))
    if donation is not None:
        forms["correct_donation_form"] = CorrectDonationForm(
            formdata=None, expected_version=str(donation.version), volume_ml=str(donation.volume_ml),
            bag_number=donation.bag_number, outcome=donation.outcome, reaction=donation.reaction,
            reaction_note=donation.reaction_note, certificate_serial=donation.certificate_serial)
        forms["void_donation_form"] = VoidForm(formdata=None, expected_version=str(donation.version))
    return forms


def _correct_decision_form(screening: Screening) -> CorrectDecisionForm:
    return CorrectDecisionForm(formdata=None, expected_version=str(screening.version), decision=screening.decision,
                               volume_ml=str(screening.volume_ml or ""),
                               deferral_until=screening.deferral_until,
                               reason=screening.reason, override_reason=screening.override_reason,
                               identity_document=screening.identity_document or "",
                               checks_reason=screening.checks_reason)


def render_visit(context: dict[str, Any], status: int = 200):
    return render_template("nurse/visit.html", **context), status


@bp.get("/<code>/visit/<int:visit_id>")
def visit(code: str, visit_id: int):
    """The donor's page. Reading it changes nothing: taking the donor is the claim button (a POST)."""
    site, drive = site_and_drive(code)
    visit = visit_here(site, drive, visit_id)
    audit_donor_page(visit)
    open_result = None
    if visit.status in decisions.UNDECIDED:
        open_result = decisions.open_visit(db.session, visit_id=visit.id, nurse_id=current_user.staff.id, claim=False)
    return render_visit(visit_context(site, drive, visit, open_result=open_result))


def _is_mine(visit: Visit) -> bool:
    return (visit.opened_by_id == current_user.staff.id and visit.opened_at is not None
            and utcnow() - visit.opened_at < dt.timedelta(minutes=decisions.CLAIM_MINUTES))


@bp.post("/<code>/visit/<int:visit_id>/claim")
def claim(code: str, visit_id: int):
    """The nurse takes this donor: the queue shows the donor as hers, in screening."""
    site, drive = site_and_drive(code)
    visit = visit_here(site, drive, visit_id)
    if not ClaimForm().validate_on_submit():
        abort(400)
    if visit.status in decisions.UNDECIDED:
        decisions.open_visit(db.session, visit_id=visit.id, nurse_id=current_user.staff.id)
    return redirect(url_for("nurse.visit", code=site.code, visit_id=visit.id), code=303)


@bp.post("/<code>/visit/<int:visit_id>/suggest")
def suggest(code: str, visit_id: int):
    """The suggestion panel, recomputed as the nurse types the vitals (htmx, on change)."""
    site, drive = site_and_drive(code)
    visit = visit_here(site, drive, visit_id)
    form = ScreeningForm()
    form.validate()  # for the field errors only: nothing is saved here
    vitals = vitals_from(form)
    field_errors = {name: " ".join(str(e) for e in getattr(form, name).errors) for name in VITAL_NAMES
                    if getattr(form, name).errors}
    impossible = _impossible(vitals)
    field_errors.update({k: v for k, v in impossible.items() if k not in field_errors})
    unit_mistake = _haemoglobin_unit_mistake(form.haemoglobin_g_l.data)
    if unit_mistake:
        field_errors["haemoglobin_g_l"] = unit_mistake
    if impossible:  # an impossible value must not move the suggestion
        vitals = replace(vitals, **{name: None for name in impossible})
    suggestion = _suggestion_for(visit, vitals)
    return render_template("nurse/_suggest_response.html", suggestion=suggestion, reasons=_reason_rows(suggestion),
                           field_errors=field_errors, vital_names=VITAL_NAMES)


def error_response(site, drive, visit, code: str, status: int, error_details=None, **extra):
    """The donor's page with the outcome code in words: a conflict (409) in its banner, a
    refusal beside the field it is about, or at the top."""
    message = labels.error_text(code, error_details)
    field = ERROR_FIELDS.get(code)
    context = visit_context(site, drive, visit, **extra)
    if status == 409:
        context["conflict"] = message
    elif field:
        context["field_errors"] = {field: message}
        context["error"] = _("The change was not saved: see the highlighted field.")
    else:
        context["error"] = message
    return render_visit(context, status)


def refusal_answer(site: Site, drive: Drive, visit: Visit, error: DomainError, *, open_correction=None,
                   form: Optional[ScreeningForm] = None, vitals: Optional[Vitals] = None,
                   conflicts: frozenset[str] = CONFLICT_CODES, **change_forms):
    """The donor's page again after the domain refused a write (kiosk.views.refusals rolls back).
    A conflict shows the record as it is now with fresh change forms (the vitals typed stay, with
    the visit's new version, to be saved again); any other refusal keeps the nurse's forms open."""
    def render(status: int):
        if status == 409:
            if form is not None:
                form.expected_version.data = str(visit.version)
            return error_response(site, drive, visit, error.code, 409, form=form, vitals=vitals)
        return error_response(site, drive, visit, error.code, 422, error_details=error.params,
                              open_correction=open_correction, form=form, vitals=vitals, **change_forms)
    return refused(error, render, conflicts)


def not_saved(site: Site, drive: Drive, visit: Visit, **forms):
    """The donor's page again with a form that did not validate (nothing was written): 422."""
    return render_visit(visit_context(site, drive, visit, error=_("Nothing was saved: correct the highlighted fields."),
                                      **forms), 422)


def int_or_none(text: Optional[str]) -> Optional[int]:
    try:
        return int(text) if text not in (None, "") else None
    except (TypeError, ValueError):
        return None


@bp.post("/<code>/visit/<int:visit_id>/decision")
def decide(code: str, visit_id: int):
    site, drive = site_and_drive(code)
    visit = visit_here(site, drive, visit_id)
    form = ScreeningForm()
    valid = form.validate_on_submit()
    vitals = vitals_from(form)
    impossible = _impossible(vitals) if valid else {}
    for name, message in impossible.items():
        getattr(form, name).errors = [*getattr(form, name).errors, message]
    unit_mistake = _haemoglobin_unit_mistake(form.haemoglobin_g_l.data)
    if unit_mistake:  # instead of "enter a whole number" or "cannot be right"
        form.haemoglobin_g_l.errors = [unit_mistake]
    if not valid or impossible or unit_mistake:
        return not_saved(site, drive, visit, form=form, vitals=vitals)
    try:
        decisions.record_decision(
            db.session, visit_id=visit.id, nurse_id=current_user.staff.id,
            expected_version=int_or_none(form.expected_version.data) or -1, vitals=vitals,
            decision=form.decision.data, volume_ml=int_or_none(form.volume_ml.data),
            deferral_until=form.deferral_until.data, reason=form.reason.data or "",
            override_reason=form.override_reason.data or "", rules=screening_rules(), questionnaire=_questionnaire(),
            nonce=form.nonce.data, identity_document=form.identity_document.data or None,
            checks_reason=form.checks_reason.data or "")
    except ScreeningError as error:
        return refusal_answer(site, drive, visit, error, form=form, vitals=vitals)
    return redirect(url_for("nurse.visit", code=site.code, visit_id=visit.id), code=303)


@bp.post("/<code>/visit/<int:visit_id>/decision/<int:screening_id>/correct")
def correct_decision(code: str, visit_id: int, screening_id: int):
    site, drive = site_and_drive(code)
    visit = visit_here(site, drive, visit_id)
    screening = found_or_404(screening_of_visit(db.session, visit.id, screening_id))
    form = CorrectDecisionForm()
    if not form.validate_on_submit():
        return not_saved(site, drive, visit, correct_form=form, open_correction="decision")
    try:
        decisions.correct_decision(
            db.session, screening_id=screening.id, staff_id=current_user.staff.id,
            expected_version=int_or_none(form.expected_version.data) or -1, decision=form.decision.data,
            volume_ml=int_or_none(form.volume_ml.data), deferral_until=form.deferral_until.data,
            reason=form.reason.data or "", override_reason=form.override_reason.data or "",
            correction_reason=form.correction_reason.data, nonce=form.nonce.data,
            identity_document=form.identity_document.data or "", checks_reason=form.checks_reason.data or "",
            rules=screening_rules())
    except ScreeningError as error:
        return refusal_answer(site, drive, visit, error, open_correction="decision", correct_form=form)
    return redirect(url_for("nurse.visit", code=site.code, visit_id=visit.id), code=303)


@bp.post("/<code>/visit/<int:visit_id>/decision/<int:screening_id>/void")
def void_decision(code: str, visit_id: int, screening_id: int):
    site, drive = site_and_drive(code)
    visit = visit_here(site, drive, visit_id)
    screening = found_or_404(screening_of_visit(db.session, visit.id, screening_id))
    form = VoidForm()
    if not form.validate_on_submit():
        return not_saved(site, drive, visit, void_decision_form=form, open_correction="decision")
    try:
        decisions.void_decision(db.session, screening_id=screening.id, staff_id=current_user.staff.id,
                                expected_version=int_or_none(form.expected_version.data) or -1,
                                reason=form.void_reason.data, nonce=form.nonce.data)
    except ScreeningError as error:
        return refusal_answer(site, drive, visit, error, open_correction="decision", void_decision_form=form)
    return redirect(url_for("nurse.visit", code=site.code, visit_id=visit.id), code=303)
