"""The nurse station at /nurse/<site code>: the live queue, a donor's screening, the decision,
the donation, corrections. Every route is for signed-in nurses (kiosk.access)."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any, Optional

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Length, Optional as OptionalValue, ValidationError

from kiosk.screening import decisions as screenings
from kiosk.access import Access, rule_for_blueprint
from kiosk.drives import current_drive, drive_at_site, site_by_code
from kiosk.extensions import db
from kiosk.formatting import local_today
from kiosk.idempotency import NONCE_PATTERN
from kiosk.models import (AuditLog, Donation, Drive, QuestionnaireResponse, Screening, Site, Visit, VisitStatus,
                          WriteReceipt, utcnow)
from kiosk.screening.engine import age_on
from kiosk.screening.decisions import ScreeningError
from kiosk.tokens import token_from_scan

bp = Blueprint("nurse", __name__, url_prefix="/nurse")
rule_for_blueprint("nurse", Access.NURSE)

# The queue's words for each state, shown beside its colour (never colour alone).
STATUS_LABELS = {
    VisitStatus.REGISTERED: _l("Not arrived"),
    VisitStatus.CHECKED_IN: _l("Waiting"),
    VisitStatus.IN_SCREENING: _l("In screening"),
    VisitStatus.CLEARED: _l("Cleared"),
    VisitStatus.DONATING: _l("Donating"),
    VisitStatus.DONE: _l("Done"),
    VisitStatus.DEFERRED: _l("Deferred"),
}
DECISION_LABELS = {
    "accepted": _l("Accepted"),
    "deferred_temporary": _l("Deferred for a time"),
    "deferred_permanent": _l("Deferred permanently"),
}
OUTCOME_LABELS = {"completed": _l("Completed"), "incomplete": _l("Incomplete (bag not filled)")}
REACTION_LABELS = {"none": _l("None"), "dizziness": _l("Dizziness"), "fainting": _l("Fainting"),
                   "haematoma": _l("Haematoma"), "other": _l("Other (describe in the note)")}
ERROR_MESSAGES = {
    "not_found": _l("This record no longer exists. Reload the page."),
    "not_checked_in": _l("This donor has not checked in at the kiosk yet."),
    "already_decided": _l("A decision has already been recorded for this donor. Use a correction to change it."),
    "already_donated": _l("A donation is recorded for this donor. Void the donation first."),
    "invalid_decision": _l("Choose accept or defer."),
    "invalid_volume": _l("Choose a volume."),
    "invalid_return_date": _l("Give a return date after the drive date."),
    "reason_required": _l("Write the reason."),
    "override_reason_required": _l("This goes against the suggestion: write why."),
    "version_conflict": _l("Someone else changed this donor's record after you opened it. Your change was not "
                           "saved. The current record is shown below: check it, then enter your change again "
                           "if it is still needed."),
    "drive_closed": _l("The drive is closed: only the organiser can change its records now."),
    "voided": _l("This decision has been voided."),
    "not_cleared": _l("The donor must be accepted at screening before a donation is recorded."),
    "bag_number_taken": _l("This bag number is already used in this drive."),
    "invalid_bag_number": _l("Enter the bag number (at most 40 characters)."),
    "invalid_outcome": _l("Choose completed or incomplete."),
    "invalid_reaction": _l("Choose a reaction."),
}
# Which form field an error belongs next to.
ERROR_FIELDS = {"invalid_volume": "volume_ml", "invalid_return_date": "deferral_until", "reason_required": "reason",
                "override_reason_required": "override_reason", "invalid_decision": "decision",
                "bag_number_taken": "bag_number", "invalid_bag_number": "bag_number", "invalid_outcome": "outcome",
                "invalid_reaction": "reaction"}
VITAL_NAMES = ("weight_kg", "systolic_mmhg", "diastolic_mmhg", "pulse_per_min", "haemoglobin_g_l", "temperature_c")
INTEGER_VITALS = ("systolic_mmhg", "diastolic_mmhg", "pulse_per_min", "haemoglobin_g_l")


# --- forms -------------------------------------------------------------------------------

def _choices(pairs) -> list:
    """Choices as WTForms 3.3 wants them (SelectChoice), or as tuples before it."""
    try:
        from wtforms.fields.choices import SelectChoice
    except ImportError:  # WTForms < 3.3
        return [(value, label) for value, label in pairs]
    return [SelectChoice(value, label) for value, label in pairs]


def _number(text: Optional[str]) -> Optional[float]:
    text = (text or "").strip().replace(",", ".")  # Vietnamese writes 36,8
    if not text:
        return None
    if not re.fullmatch(r"\d{1,5}(\.\d{1,2})?", text):
        raise ValueError(text)
    return float(text)


def number_field(label, hint, whole: bool):
    def check(form, field):
        try:
            value = _number(field.data)
        except ValueError:
            raise ValidationError(_("Enter a whole number.") if whole else _("Enter a number, such as 36.8."))
        if whole and value is not None and value != int(value):
            raise ValidationError(_("Enter a whole number."))

    return StringField(label, description=hint, validators=[OptionalValue(), Length(max=10), check],
                       render_kw={"inputmode": "numeric" if whole else "decimal", "autocomplete": "off"})


def _date_value(text: Optional[str]) -> Optional[dt.date]:
    text = (text or "").strip()
    if not text:
        return None
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(text)


def _check_date(form, field):
    try:
        _date_value(field.data)
    except ValueError:
        raise ValidationError(_("Enter a date as dd/mm/yyyy."))


class NonceForm(FlaskForm):
    nonce = HiddenField(validators=[DataRequired(_l("This page has expired. Please reload it and try again."))])
    expected_version = HiddenField()

    def validate_nonce(self, field):
        if not NONCE_PATTERN.match(field.data or ""):
            raise ValidationError(_("This page has expired. Please reload it and try again."))


class DecisionFields:
    decision = RadioField(_l("Decision"), choices=_choices(DECISION_LABELS.items()), validate_choice=False,
                          validators=[DataRequired(_l("Choose accept or defer.")),
                                      AnyOf(list(DECISION_LABELS), message=_l("Choose accept or defer."))])
    volume_ml = RadioField(_l("Volume"), choices=_choices((str(v), f"{v} ml") for v in screenings.BAG_VOLUMES),
                           validate_choice=False, validators=[OptionalValue(), AnyOf(
                               [str(v) for v in screenings.BAG_VOLUMES], message=_l("Choose a volume."))])
    # A text field, not type=date: the browser's date picker shows its own UI language's order
    # (mm/dd/yyyy on many machines), and the drive's screens always say dd/mm/yyyy.
    deferral_until = StringField(_l("May donate again from"), description=_l("dd/mm/yyyy"),
                                 validators=[OptionalValue(), _check_date],
                                 render_kw={"inputmode": "numeric", "autocomplete": "off", "placeholder": "dd/mm/yyyy"})
    reason = TextAreaField(_l("Reason for the deferral"), validators=[Length(max=1000, message=_l(
        "At most 1000 characters."))], render_kw={"rows": 2})
    override_reason = TextAreaField(_l("Why you go against the suggestion"), validators=[Length(
        max=1000, message=_l("At most 1000 characters."))], render_kw={"rows": 2})


class ScreeningForm(NonceForm, DecisionFields):
    weight_kg = number_field(_l("Weight"), _l("kg, e.g. 58.5"), whole=False)
    systolic_mmhg = number_field(_l("Blood pressure, systolic"), _l("mmHg, the upper figure, e.g. 120"), whole=True)
    diastolic_mmhg = number_field(_l("Blood pressure, diastolic"), _l("mmHg, the lower figure, e.g. 80"), whole=True)
    pulse_per_min = number_field(_l("Pulse"), _l("beats a minute, e.g. 76"), whole=True)
    haemoglobin_g_l = number_field(_l("Haemoglobin"), _l("g/L, e.g. 135 (13.5 g/dL)"), whole=True)
    temperature_c = number_field(_l("Temperature"), _l("°C, e.g. 36.8"), whole=False)
    hbsag = SelectField(_l("HBsAg rapid test"), choices=_choices([("", _l("Not done")), ("negative", _l("Negative")),
                                                                  ("positive", _l("Positive"))]),
                        validate_choice=False, validators=[AnyOf(["", "negative", "positive"],
                                                                 message=_l("Choose a test result."))])


class CorrectDecisionForm(NonceForm, DecisionFields):
    correction_reason = TextAreaField(_l("Reason for the correction"), validators=[
        DataRequired(_l("Write the reason for the correction.")), Length(max=1000, message=_l(
            "At most 1000 characters."))], render_kw={"rows": 2})


class VoidForm(NonceForm):
    void_reason = TextAreaField(_l("Reason for voiding"), validators=[
        DataRequired(_l("Write the reason for voiding.")), Length(max=1000, message=_l("At most 1000 characters."))],
        render_kw={"rows": 2})


class DonationFields:
    volume_ml = RadioField(_l("Volume collected"), choices=_choices((str(v), f"{v} ml") for v in screenings.BAG_VOLUMES),
                           validate_choice=False, validators=[DataRequired(_l("Choose the volume.")), AnyOf(
                               [str(v) for v in screenings.BAG_VOLUMES], message=_l("Choose the volume."))])
    bag_number = StringField(_l("Bag number"), description=_l("As printed on the bag's label"), validators=[
        DataRequired(_l("Enter the bag number.")), Length(max=40, message=_l("At most 40 characters."))],
        render_kw={"autocomplete": "off", "autocapitalize": "characters"})
    outcome = RadioField(_l("Outcome"), choices=_choices(OUTCOME_LABELS.items()), default="completed",
                         validate_choice=False, validators=[DataRequired(_l("Choose completed or incomplete.")), AnyOf(
                             list(OUTCOME_LABELS), message=_l("Choose completed or incomplete."))])
    reaction = SelectField(_l("Reaction"), choices=_choices(REACTION_LABELS.items()), default="none",
                           validate_choice=False, validators=[AnyOf(list(REACTION_LABELS),
                                                                    message=_l("Choose a reaction."))])
    reaction_note = TextAreaField(_l("Note on the reaction"), validators=[Length(
        max=1000, message=_l("At most 1000 characters."))], render_kw={"rows": 2})

    def validate_reaction_note(self, field):
        if self.reaction.data == "other" and not (field.data or "").strip():
            raise ValidationError(_("Describe the reaction."))


class DonationForm(NonceForm, DonationFields):
    pass


class CorrectDonationForm(NonceForm, DonationFields):
    correction_reason = TextAreaField(_l("Reason for the correction"), validators=[
        DataRequired(_l("Write the reason for the correction.")), Length(max=1000, message=_l(
            "At most 1000 characters."))], render_kw={"rows": 2})


class FindForm(FlaskForm):
    query = StringField(_l("Scan a ticket or type a queue number"), validators=[
        DataRequired(_l("Scan a ticket or type a queue number.")), Length(max=300)],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"})


# --- lookups -----------------------------------------------------------------------------

def _site_and_drive(code: str) -> tuple[Site, Drive]:
    site = site_by_code(code)
    if site is None:
        abort(404)
    drive = drive_at_site(site)
    if drive is None:
        abort(404)
    return site, drive


def _visit_here(site: Site, drive: Drive, visit_id: int) -> Visit:
    visit = db.session.get(Visit, visit_id)
    if visit is None or visit.drive_id != drive.id or visit.site_id != site.id:
        abort(404)
    return visit


def _queue_visits(site: Site, drive: Drive) -> list[Visit]:
    return list(db.session.scalars(
        sa.select(Visit).where(Visit.drive_id == drive.id, Visit.site_id == site.id, Visit.queue_number.is_not(None))
        .options(sa.orm.joinedload(Visit.donor), sa.orm.joinedload(Visit.opened_by))
        .order_by(Visit.queue_number)))


def _latest_response(visit_id: int) -> Optional[QuestionnaireResponse]:
    return db.session.scalars(sa.select(QuestionnaireResponse).where(QuestionnaireResponse.visit_id == visit_id)
                              .order_by(QuestionnaireResponse.submitted_at.desc(), QuestionnaireResponse.id.desc())
                              .limit(1)).first()


def _flag_counts(visit_ids: list[int]) -> dict[int, int]:
    """How many "yes" answers each visit's latest questionnaire flags for the nurse."""
    if not visit_ids:
        return {}
    counts: dict[int, int] = {}
    rows = db.session.execute(sa.select(QuestionnaireResponse.visit_id, QuestionnaireResponse.flags)
                              .where(QuestionnaireResponse.visit_id.in_(visit_ids))
                              .order_by(QuestionnaireResponse.submitted_at, QuestionnaireResponse.id))
    for visit_id, flags in rows:
        counts[visit_id] = len(flags or [])  # the latest response wins: later rows overwrite
    return counts


def _queue_key(drive: Drive) -> str:
    # Changes with the drive's revision, and once a minute so the waiting times move on.
    return f"{drive.revision}-{int(utcnow().timestamp() // 60)}"


# --- the queue ---------------------------------------------------------------------------

@bp.get("")
def choose_site():
    drive = current_drive()
    return render_template("nurse/choose_site.html", drive=drive, sites=drive.sites if drive else [])


def _queue_context(site: Site, drive: Drive) -> dict[str, Any]:
    visits = _queue_visits(site, drive)
    now = utcnow()
    return {"site": site, "drive": drive, "visits": visits, "flag_counts": _flag_counts([v.id for v in visits]),
            "queue_key": _queue_key(drive), "now": now, "status_labels": STATUS_LABELS,
            "claim_cutoff": now - dt.timedelta(minutes=screenings.CLAIM_MINUTES),
            "waiting_count": sum(v.status in screenings.UNDECIDED for v in visits)}


@bp.get("/<code>")
def queue(code: str):
    site, drive = _site_and_drive(code)
    return render_template("nurse/queue.html", form=FindForm(), error=None, **_queue_context(site, drive))


@bp.get("/<code>/queue")
def queue_rows(code: str):
    """The queue partial, polled every 2 s: 204 when nothing changed since the client's copy."""
    site, drive = _site_and_drive(code)
    if request.args.get("since") == _queue_key(drive):
        return "", 204
    return render_template("nurse/_queue.html", **_queue_context(site, drive))


@bp.post("/<code>/find")
def find(code: str):
    """A scanned pass (the URL in its QR, or the bare token) or a typed queue number."""
    site, drive = _site_and_drive(code)
    form = FindForm()
    error = None
    if form.validate_on_submit():
        text = form.query.data.strip()
        visit = None
        if re.fullmatch(r"\d{1,5}", text):
            visit = db.session.scalars(sa.select(Visit).where(
                Visit.drive_id == drive.id, Visit.site_id == site.id, Visit.queue_number == int(text))).first()
            if visit is None:
                error = _("No donor has queue number %(number)s at this site today.", number=int(text))
        else:
            token = token_from_scan(text)
            visit = db.session.scalars(sa.select(Visit).where(Visit.token == token)).first() if token else None
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


# --- a donor -----------------------------------------------------------------------------

def _rules():
    from kiosk.screening.rules import load_rules

    return load_rules(current_app.config.get("SCREENING_RULES") or None)


def _questionnaire():
    from kiosk.screening.questionnaire import load_questionnaire

    return load_questionnaire(current_app.config.get("QUESTIONNAIRE_PATH"))


def _vitals_from(form: ScreeningForm):
    from kiosk.screening.rules import Vitals

    values: dict[str, Any] = {}
    for name in VITAL_NAMES:
        try:
            number = _number(getattr(form, name).data)
        except ValueError:
            number = None
        if number is not None and name in INTEGER_VITALS:
            number = int(number) if number == int(number) else None
        values[name] = number
    hbsag = form.hbsag.data if form.hbsag.data in ("negative", "positive") else None
    return Vitals(hbsag=hbsag, **values)


def _impossible(form: ScreeningForm, vitals) -> dict[str, str]:
    """Field -> message for values no living donor has (pulse 900, weight 4000)."""
    from kiosk.screening.engine import implausible_vitals

    messages = {}
    for name, (low, high) in implausible_vitals(vitals, _rules()).items():
        messages[name] = _("This cannot be right: enter a value from %(low)s to %(high)s.",
                           low=_plain(low), high=_plain(high))
    return messages


def _plain(number) -> str:
    return f"{number:g}" if isinstance(number, float) else str(number)


def _suggestion_for(visit: Visit, vitals):
    from kiosk.screening.rules import DonorFacts
    from kiosk.screening.engine import suggest

    donor = visit.donor
    response = _latest_response(visit.id)
    last = _last_donation(visit)
    facts = DonorFacts(date_of_birth=donor.date_of_birth, sex=donor.sex,
                       last_donation_date=last.date if last else None, last_donation_type=last.type if last else None)
    return suggest(facts, visit.drive.drive_date, dict(response.answers) if response else None, vitals, _rules(),
                   _questionnaire())


def _last_donation(visit: Visit):
    """What the interval rule counts from: a donation recorded at an earlier drive, or the roster's date."""
    from kiosk.donor_search import last_donation_for

    return last_donation_for(db.session, visit.donor_id, before=visit.drive.drive_date)


def _history(visit: Visit, screening_ids: list[int], donation_ids: list[int]) -> list[AuditLog]:
    conditions = [sa.and_(AuditLog.entity == "visit", AuditLog.entity_id == visit.id)]
    if screening_ids:
        conditions.append(sa.and_(AuditLog.entity == "screening", AuditLog.entity_id.in_(screening_ids)))
    if donation_ids:
        conditions.append(sa.and_(AuditLog.entity == "donation", AuditLog.entity_id.in_(donation_ids)))
    return list(db.session.scalars(sa.select(AuditLog).where(sa.or_(*conditions))
                                   .options(sa.orm.joinedload(AuditLog.staff)).order_by(AuditLog.id.desc())))


def _messages():
    """describe_reason and rule_label from the rules engine's messages module (kiosk.screening.messages)."""
    try:
        from kiosk.screening.messages import describe_reason, rule_label
    except ImportError:  # not there yet: the codes themselves, still readable
        def describe_reason(reason):
            params = ", ".join(f"{k} {v}" for k, v in reason.params.items())
            return f"{reason.code.replace('_', ' ')}{' (' + params + ')' if params else ''}"

        def rule_label(rule):
            return rule.replace("_", " ")
    return describe_reason, rule_label


def _reason_rows(suggestion) -> list[dict[str, Any]]:
    describe_reason, rule_label = _messages()
    return [{"text": describe_reason(r), "rule": rule_label(r.rule), "source": r.source, "until": r.until,
             "permanent": r.permanent, "id": r.rule, "blocking": getattr(r, "blocking", True)}
            for r in suggestion.reasons]


def _flag_rows(response: Optional[QuestionnaireResponse], suggestion) -> list[dict[str, Any]]:
    """The donor's "yes" answers, each with the rule (and deferral) it touches."""
    if response is None:
        return []
    describe_reason, _rule_label = _messages()

    questionnaire = _questionnaire()
    language = "en" if _locale() == "en" else "vi"
    by_rule = {r.rule: r for r in suggestion.reasons}
    rows = []
    for flag in response.flags or []:
        item_id = flag.get("item", "")
        try:
            item = questionnaire.item(item_id)
            text = item.text.get(language) or item.text.get("vi", item_id)
        except KeyError:
            text = item_id
        reason = by_rule.get(f"questionnaire:{item_id}")
        note = flag.get("note")
        rows.append({"item": item_id, "number": item_id.lstrip("q"), "text": text,
                     "rule": describe_reason(reason) if reason else _flag_kind(flag),
                     "source": reason.source if reason else "", "until": reason.until if reason else None,
                     "note": note.get(language, "") if isinstance(note, dict) else ""})
    return rows


def _flag_kind(flag: dict[str, Any]) -> str:
    kind = flag.get("kind")
    if kind == "permanent":
        return _("Suggests a permanent deferral")
    if kind == "months":
        return _("Suggests a deferral of %(n)s months", n=flag.get("months"))
    if kind == "days":
        return _("Suggests a deferral of %(n)s days", n=flag.get("days"))
    return _("For the nurse to review")


def _locale() -> str:
    from kiosk.formatting import current_locale

    return current_locale()


def _visit_context(site: Site, drive: Drive, visit: Visit, *, form: Optional[ScreeningForm] = None,
                   vitals=None, open_result=None, **extra) -> dict[str, Any]:
    from kiosk.screening.engine import Suggestion

    response = _latest_response(visit.id)
    screening = screenings.current_screening(db.session, visit.id)
    all_screenings = list(db.session.scalars(sa.select(Screening).where(Screening.visit_id == visit.id)
                                             .order_by(Screening.id)))
    donations = list(db.session.scalars(sa.select(Donation).where(Donation.visit_id == visit.id)
                                        .order_by(Donation.id)))
    donation = next((d for d in reversed(donations) if not d.voided), None)
    if screening is not None and screening.suggestion:
        suggestion = Suggestion.from_dict(screening.suggestion)
    else:
        if form is None:
            form = ScreeningForm(formdata=None, expected_version=str(visit.version))
        vitals = vitals if vitals is not None else _vitals_from(form)
        suggestion = _suggestion_for(visit, vitals)
    donor = visit.donor
    last_donation = _last_donation(visit)
    last = last_donation.date if last_donation else None
    drive_date = drive.drive_date
    context = {
        "site": site, "drive": drive, "visit": visit, "donor": donor, "response": response,
        "age": age_on(donor.date_of_birth, drive_date), "last_donation": last,
        "days_since_last": (drive_date - last).days if last else None,
        "flags": _flag_rows(response, suggestion), "suggestion": suggestion,
        "reasons": _reason_rows(suggestion), "screening": screening, "screenings": all_screenings,
        "donation": donation, "donations": donations, "form": form,
        "status_labels": STATUS_LABELS, "decision_labels": DECISION_LABELS, "outcome_labels": OUTCOME_LABELS,
        "reaction_labels": REACTION_LABELS, "open_result": open_result,
        "history": _history(visit, [s.id for s in all_screenings], [d.id for d in donations]),
        "field_errors": {}, "conflict": None, "error": None, "today": local_today(),
        "open_correction": None,
    }
    if screening is not None:
        context.setdefault("correct_form", _correct_decision_form(screening))
        context.setdefault("void_decision_form", VoidForm(formdata=None, expected_version=str(screening.version)))
    if screening is not None and screening.decision == "accepted" and donation is None:
        context["donation_form"] = DonationForm(formdata=None, volume_ml=str(screening.volume_ml or ""),
                                                expected_version=str(visit.version))
    if donation is not None:
        context["correct_donation_form"] = CorrectDonationForm(
            formdata=None, expected_version=str(donation.version), volume_ml=str(donation.volume_ml),
            bag_number=donation.bag_number, outcome=donation.outcome, reaction=donation.reaction,
            reaction_note=donation.reaction_note)
        context["void_donation_form"] = VoidForm(formdata=None, expected_version=str(donation.version))
    context.update(extra)
    return context


def _correct_decision_form(screening: Screening) -> CorrectDecisionForm:
    return CorrectDecisionForm(formdata=None, expected_version=str(screening.version), decision=screening.decision,
                               volume_ml=str(screening.volume_ml or ""),
                               deferral_until=screening.deferral_until.strftime("%d/%m/%Y") if screening.deferral_until else "",
                               reason=screening.reason, override_reason=screening.override_reason)


def _render_visit(context: dict[str, Any], status: int = 200):
    return render_template("nurse/visit.html", **context), status


@bp.get("/<code>/visit/<int:visit_id>")
def visit(code: str, visit_id: int):
    site, drive = _site_and_drive(code)
    visit = _visit_here(site, drive, visit_id)
    open_result = None
    if visit.status in screenings.UNDECIDED:
        open_result = screenings.open_visit(db.session, visit_id=visit.id, nurse_id=current_user.staff.id)
        visit = db.session.get(Visit, visit_id)
    return _render_visit(_visit_context(site, drive, visit, open_result=open_result))


@bp.post("/<code>/visit/<int:visit_id>/suggest")
def suggest(code: str, visit_id: int):
    """The suggestion panel, recomputed as the nurse types the vitals (htmx, on change)."""
    site, drive = _site_and_drive(code)
    visit = _visit_here(site, drive, visit_id)
    form = ScreeningForm()
    form.validate()  # for the field errors only: nothing is saved here
    vitals = _vitals_from(form)
    field_errors = {name: " ".join(str(e) for e in getattr(form, name).errors) for name in VITAL_NAMES
                    if getattr(form, name).errors}
    impossible = _impossible(form, vitals)
    field_errors.update({k: v for k, v in impossible.items() if k not in field_errors})
    if impossible:  # an impossible value must not move the suggestion
        from dataclasses import replace

        vitals = replace(vitals, **{name: None for name in impossible})
    suggestion = _suggestion_for(visit, vitals)
    return render_template("nurse/_suggest_response.html", suggestion=suggestion, reasons=_reason_rows(suggestion),
                           field_errors=field_errors, vital_names=VITAL_NAMES)


def _error_response(site, drive, visit, code: str, status: int, **extra):
    message = str(ERROR_MESSAGES.get(code, _("The change was not saved.")))
    field = ERROR_FIELDS.get(code)
    context = _visit_context(site, drive, visit, **extra)
    if status == 409:
        context["conflict"] = message
    elif field:
        context["field_errors"] = {field: message}
        context["error"] = _("The change was not saved: see the highlighted field.")
    else:
        context["error"] = message
    return _render_visit(context, status)


def _int_or_none(text: Optional[str]) -> Optional[int]:
    try:
        return int(text) if text not in (None, "") else None
    except (TypeError, ValueError):
        return None


@bp.post("/<code>/visit/<int:visit_id>/decision")
def decide(code: str, visit_id: int):
    site, drive = _site_and_drive(code)
    visit = _visit_here(site, drive, visit_id)
    form = ScreeningForm()
    valid = form.validate_on_submit()
    vitals = _vitals_from(form)
    impossible = _impossible(form, vitals) if valid else {}
    for name, message in impossible.items():
        getattr(form, name).errors = [*getattr(form, name).errors, message]
    if not valid or impossible:
        form.nonce.data = ""
        context = _visit_context(site, drive, visit, form=form, vitals=vitals)
        context["error"] = _("Nothing was saved: correct the highlighted fields.")
        return _render_visit(context, 422)
    suggestion = _suggestion_for(visit, vitals)
    try:
        screenings.record_decision(
            db.session, visit_id=visit.id, nurse_id=current_user.staff.id,
            expected_version=_int_or_none(form.expected_version.data) or -1, vitals=vitals,
            decision=form.decision.data, volume_ml=_int_or_none(form.volume_ml.data),
            deferral_until=_date_value(form.deferral_until.data), reason=form.reason.data or "",
            override_reason=form.override_reason.data or "", suggestion=suggestion.to_dict(), nonce=form.nonce.data)
    except ScreeningError as error:
        db.session.expire_all()
        visit = db.session.get(Visit, visit_id)
        form.nonce.data = ""
        if error.code == "version_conflict" or error.code == "already_decided":
            form.expected_version.data = str(visit.version)
            return _error_response(site, drive, visit, "version_conflict", 409, form=form, vitals=vitals)
        return _error_response(site, drive, visit, error.code, 422, form=form, vitals=vitals)
    return redirect(url_for("nurse.visit", code=site.code, visit_id=visit.id), code=303)


@bp.post("/<code>/visit/<int:visit_id>/decision/<int:screening_id>/correct")
def correct_decision(code: str, visit_id: int, screening_id: int):
    site, drive = _site_and_drive(code)
    visit = _visit_here(site, drive, visit_id)
    screening = db.session.get(Screening, screening_id)
    if screening is None or screening.visit_id != visit.id:
        abort(404)
    form = CorrectDecisionForm()
    if not form.validate_on_submit():
        form.nonce.data = ""
        return _render_visit(_visit_context(site, drive, visit, correct_form=form, open_correction="decision",
                                            error=_("Nothing was saved: correct the highlighted fields.")), 422)
    try:
        screenings.correct_decision(
            db.session, screening_id=screening.id, staff_id=current_user.staff.id,
            expected_version=_int_or_none(form.expected_version.data) or -1, decision=form.decision.data,
            volume_ml=_int_or_none(form.volume_ml.data), deferral_until=_date_value(form.deferral_until.data),
            reason=form.reason.data or "", override_reason=form.override_reason.data or "",
            correction_reason=form.correction_reason.data, nonce=form.nonce.data)
    except ScreeningError as error:
        return _change_refused(site, drive, visit_id, error.code, "decision", correct_form=form)
    return redirect(url_for("nurse.visit", code=site.code, visit_id=visit.id), code=303)


def _change_refused(site, drive, visit_id, code, which, **forms):
    db.session.expire_all()
    visit = db.session.get(Visit, visit_id)
    for form in forms.values():
        form.nonce.data = ""
    if code == "version_conflict":
        return _error_response(site, drive, visit, code, 409)
    context_forms = {k: v for k, v in forms.items()}
    return _error_response(site, drive, visit, code, 422, open_correction=which, **context_forms)


@bp.post("/<code>/visit/<int:visit_id>/decision/<int:screening_id>/void")
def void_decision(code: str, visit_id: int, screening_id: int):
    site, drive = _site_and_drive(code)
    visit = _visit_here(site, drive, visit_id)
    screening = db.session.get(Screening, screening_id)
    if screening is None or screening.visit_id != visit.id:
        abort(404)
    form = VoidForm()
    if not form.validate_on_submit():
        form.nonce.data = ""
        return _render_visit(_visit_context(site, drive, visit, void_decision_form=form, open_correction="decision",
                                            error=_("Nothing was saved: correct the highlighted fields.")), 422)
    try:
        screenings.void_decision(db.session, screening_id=screening.id, staff_id=current_user.staff.id,
                                 expected_version=_int_or_none(form.expected_version.data) or -1,
                                 reason=form.void_reason.data, nonce=form.nonce.data)
    except ScreeningError as error:
        return _change_refused(site, drive, visit_id, error.code, "decision", void_decision_form=form)
    return redirect(url_for("nurse.visit", code=site.code, visit_id=visit.id), code=303)


@bp.post("/<code>/visit/<int:visit_id>/donation")
def donate(code: str, visit_id: int):
    from kiosk.donations import DonationError, record_donation

    site, drive = _site_and_drive(code)
    visit = _visit_here(site, drive, visit_id)
    form = DonationForm()
    if not form.validate_on_submit():
        form.nonce.data = ""
        return _render_visit(_visit_context(site, drive, visit, donation_form=form,
                                            error=_("Nothing was saved: correct the highlighted fields.")), 422)
    # A retry of a donation that was recorded (its answer lost on the Wi-Fi) finds the visit one
    # version on, by its own doing: record_donation answers it from the nonce's receipt instead.
    retried = db.session.get(WriteReceipt, form.nonce.data) is not None
    if not retried and _int_or_none(form.expected_version.data) != visit.version:
        form.nonce.data = ""
        return _error_response(site, drive, visit, "version_conflict", 409)
    try:
        record_donation(db.session, visit_id=visit.id, nurse_id=current_user.staff.id,
                        volume_ml=int(form.volume_ml.data), bag_number=form.bag_number.data, outcome=form.outcome.data,
                        reaction=form.reaction.data, reaction_note=form.reaction_note.data or "", nonce=form.nonce.data)
    except DonationError as error:
        db.session.expire_all()
        visit = db.session.get(Visit, visit_id)
        form.nonce.data = ""
        if error.code in ("already_donated", "version_conflict"):
            return _error_response(site, drive, visit, "version_conflict", 409)
        return _error_response(site, drive, visit, error.code, 422, donation_form=form)
    return redirect(url_for("nurse.visit", code=site.code, visit_id=visit.id), code=303)


def _donation_here(visit: Visit, donation_id: int) -> Donation:
    donation = db.session.get(Donation, donation_id)
    if donation is None or donation.visit_id != visit.id:
        abort(404)
    return donation


@bp.post("/<code>/visit/<int:visit_id>/donation/<int:donation_id>/correct")
def correct_donation(code: str, visit_id: int, donation_id: int):
    from kiosk.donations import DonationError, correct_donation as correct

    site, drive = _site_and_drive(code)
    visit = _visit_here(site, drive, visit_id)
    donation = _donation_here(visit, donation_id)
    form = CorrectDonationForm()
    if not form.validate_on_submit():
        form.nonce.data = ""
        return _render_visit(_visit_context(site, drive, visit, correct_donation_form=form, open_correction="donation",
                                            error=_("Nothing was saved: correct the highlighted fields.")), 422)
    try:
        correct(db.session, donation_id=donation.id, staff_id=current_user.staff.id,
                expected_version=_int_or_none(form.expected_version.data) or -1, volume_ml=int(form.volume_ml.data),
                bag_number=form.bag_number.data, outcome=form.outcome.data, reaction=form.reaction.data,
                reaction_note=form.reaction_note.data or "", reason=form.correction_reason.data, nonce=form.nonce.data)
    except DonationError as error:
        return _change_refused(site, drive, visit_id, error.code, "donation", correct_donation_form=form)
    return redirect(url_for("nurse.visit", code=site.code, visit_id=visit.id), code=303)


@bp.post("/<code>/visit/<int:visit_id>/donation/<int:donation_id>/void")
def void_donation(code: str, visit_id: int, donation_id: int):
    from kiosk.donations import DonationError, void_donation as void

    site, drive = _site_and_drive(code)
    visit = _visit_here(site, drive, visit_id)
    donation = _donation_here(visit, donation_id)
    form = VoidForm()
    if not form.validate_on_submit():
        form.nonce.data = ""
        return _render_visit(_visit_context(site, drive, visit, void_donation_form=form, open_correction="donation",
                                            error=_("Nothing was saved: correct the highlighted fields.")), 422)
    try:
        void(db.session, donation_id=donation.id, staff_id=current_user.staff.id,
             expected_version=_int_or_none(form.expected_version.data) or -1, reason=form.void_reason.data,
             nonce=form.nonce.data)
    except DonationError as error:
        return _change_refused(site, drive, visit_id, error.code, "donation", void_donation_form=form)
    return redirect(url_for("nurse.visit", code=site.code, visit_id=visit.id), code=303)
