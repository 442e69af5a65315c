"""The nurse station's forms, and the words for their choices and for a visit's states."""
from __future__ import annotations

import re
import unicodedata
from typing import Any, Optional

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Length, Optional as OptionalValue, ValidationError

from kiosk.idempotency import NONCE_PATTERN
from kiosk.models import VisitStatus
from kiosk.screening.decisions import BAG_VOLUMES
from kiosk.screening.rules import Vitals
from kiosk.views.fields import CleanForm, DateTextField

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
VITAL_NAMES = ("weight_kg", "systolic_mmhg", "diastolic_mmhg", "pulse_per_min", "haemoglobin_g_l", "temperature_c")
INTEGER_VITALS = ("systolic_mmhg", "diastolic_mmhg", "pulse_per_min", "haemoglobin_g_l")


def _choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def _number(text: Optional[str]) -> Optional[float]:
    # Vietnamese writes 36,8; NFKC makes a full-width "３６" ASCII, and \d then takes ASCII only.
    text = unicodedata.normalize("NFKC", text or "").strip().replace(",", ".")
    if not text:
        return None
    if not re.fullmatch(r"\d{1,5}(\.\d{1,2})?", text, flags=re.ASCII):
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


class NonceForm(CleanForm):
    nonce = HiddenField(validators=[DataRequired(_l("This page has expired. Please reload it and try again."))])
    expected_version = HiddenField()

    def validate_nonce(self, field):
        if not NONCE_PATTERN.match(field.data or ""):
            raise ValidationError(_("This page has expired. Please reload it and try again."))


class DecisionFields:
    decision = RadioField(_l("Decision"), choices=_choices(DECISION_LABELS.items()), validate_choice=False,
                          validators=[DataRequired(_l("Choose accept or defer.")),
                                      AnyOf(list(DECISION_LABELS), message=_l("Choose accept or defer."))])
    volume_ml = RadioField(_l("Volume"), choices=_choices((str(v), f"{v} ml") for v in BAG_VOLUMES),
                           validate_choice=False, validators=[OptionalValue(), AnyOf(
                               [str(v) for v in BAG_VOLUMES], message=_l("Choose a volume."))])
    # A text field, not type=date: the browser's date picker shows its own UI language's order
    # (mm/dd/yyyy on many machines), and the drive's screens always say dd/mm/yyyy.
    deferral_until = DateTextField(_l("May donate again from"), description=_l("dd/mm/yyyy"),
                                   validators=[OptionalValue()])
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
    volume_ml = RadioField(_l("Volume collected"), choices=_choices((str(v), f"{v} ml") for v in BAG_VOLUMES),
                           validate_choice=False, validators=[DataRequired(_l("Choose the volume.")), AnyOf(
                               [str(v) for v in BAG_VOLUMES], message=_l("Choose the volume."))])
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


class FindForm(CleanForm):
    query = StringField(_l("Scan a ticket or type a queue number"), validators=[
        DataRequired(_l("Scan a ticket or type a queue number.")), Length(max=300)],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"})


def vitals_from(form: ScreeningForm) -> Vitals:
    """The vitals typed so far; a value that is not a number (or not whole where it must be) counts as not measured."""
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
