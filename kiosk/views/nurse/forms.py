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

from kiosk import labels
from kiosk.idempotency import NONCE_PATTERN
from kiosk.models import Reaction
from kiosk.screening.rules import VITAL_FIELDS, Vitals
from kiosk.views.lookups import screening_rules
from kiosk.views.fields import CleanForm, DateTextField

STATUS_LABELS = labels.VISIT_STATUS
DECISION_LABELS = labels.DECISION
OUTCOME_LABELS = labels.OUTCOME
# The form's choice for "other" asks for the note the nurse must write.
REACTION_LABELS = labels.Words({**labels.REACTION, Reaction.OTHER: _l("Other (describe in the note)")})
# The measured vitals the form asks for (the HBsAg test is a choice of its own).
VITAL_NAMES = tuple(name for name in VITAL_FIELDS if name != "hbsag")
INTEGER_VITALS = ("systolic_mmhg", "diastolic_mmhg", "pulse_per_min", "haemoglobin_g_l")


def _choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(getattr(value, "value", value), label) for value, label in pairs]


def _bag_sizes() -> list[str]:
    """This instance's bag sizes, from its screening rules."""
    return [str(v) for v in screening_rules().volume.bag_sizes_ml]


def _a_bag_size(message):
    def check(form, field):
        if field.data not in _bag_sizes():
            raise ValidationError(str(message))
    return check


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
            raise ValidationError(_("Enter a whole number.") if whole else _("Enter a number, such as 58.5."))
        if whole and value is not None and value != int(value):
            raise ValidationError(_("Enter a whole number."))

    return StringField(label, description=hint, validators=[OptionalValue(), Length(max=10), check],
                       render_kw={"inputmode": "numeric" if whole else "decimal", "autocomplete": "off"})


class NonceForm(CleanForm):
    nonce = HiddenField(validators=[DataRequired(_l("This page has expired. Please reload it and try again."))])
    expected_version = HiddenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "volume_ml" in self._fields:
            self.volume_ml.choices = _choices((size, f"{size} ml") for size in _bag_sizes())

    def validate_nonce(self, field):
        if not NONCE_PATTERN.match(field.data or ""):
            raise ValidationError(_("This page has expired. Please reload it and try again."))


class DecisionFields:
    decision = RadioField(_l("Decision"), choices=_choices(DECISION_LABELS.items()), validate_choice=False,
                          validators=[DataRequired(_l("Choose accept or defer.")),
                                      AnyOf(list(DECISION_LABELS), message=_l("Choose accept or defer."))])
    volume_ml = RadioField(_l("Volume"), choices=[], validate_choice=False,
                           validators=[OptionalValue(), _a_bag_size(_l("Choose a volume."))])
    # A text field, not type=date: the browser's date picker shows its own UI language's order
    # (mm/dd/yyyy on many machines), and the drive's screens always say dd/mm/yyyy.
    deferral_until = DateTextField(_l("May donate again from"), description=_l("dd/mm/yyyy"),
                                   validators=[OptionalValue()])
    reason = TextAreaField(_l("Reason for the deferral"), validators=[Length(max=1000, message=_l(
        "At most 1000 characters."))], render_kw={"rows": 2})
    override_reason = TextAreaField(_l("Why you go against the suggestion"), validators=[Length(
        max=1000, message=_l("At most 1000 characters."))], render_kw={"rows": 2})
    # Before "accept": the document seen ("" : none), and why accept without it or without Hb.
    identity_document = RadioField(_l("Identity document seen"), choices=_choices(
        [("", _l("None seen"))] + [(code, word) for code, word in labels.IDENTITY_DOCUMENT.items()]),
        default="", validate_choice=False, validators=[AnyOf(
            [""] + list(labels.IDENTITY_DOCUMENT), message=_l("Choose a document."))])
    checks_reason = TextAreaField(_l("Why you accept without an identity document or haemoglobin"),
                                  validators=[Length(max=1000, message=_l("At most 1000 characters."))],
                                  render_kw={"rows": 2})


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
    volume_ml = RadioField(_l("Volume collected"), choices=[], validate_choice=False,
                           validators=[DataRequired(_l("Choose the volume.")), _a_bag_size(_l("Choose the volume."))])
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
    # The official certificate is the collecting facility's paper: the app only records its serial.
    certificate_serial = StringField(_l("Official certificate serial number"), description=_l(
        "As printed on the certificate of voluntary blood donation handed to the donor (optional)"),
        validators=[Length(max=40, message=_l("At most 40 characters."))],
        render_kw={"autocomplete": "off", "autocapitalize": "characters"})

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


class ClaimForm(CleanForm):
    """The button that takes a donor: only the CSRF token."""
