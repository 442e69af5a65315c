"""Forms of the organiser's console. WTForms has no Vietnamese, so every validator, and every
field that checks its own input (dates, numbers, choices), carries its own message."""
from __future__ import annotations

from typing import Any, Iterable

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import (BooleanField, HiddenField, IntegerField, PasswordField, SelectField,
                     SelectMultipleField, StringField, TextAreaField, widgets)
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, NumberRange, Regexp, ValidationError
from wtforms.validators import Optional as OptionalValue

from kiosk import labels
from kiosk.arrivals import parse_time
from kiosk.drives import DRIVE_YEARS
from kiosk.letters import DEFAULT_SALUTATION
from kiosk.models import DeviceKind, DriveStatus, Site, StaffRole
from kiosk.roster.uploads import UPLOAD_ID
from kiosk.views.fields import CleanForm, DateTextField
from kiosk.views.lookups import screening_rules


def choice(value: Any, label: Any) -> SelectChoice:
    # WTForms 3.3 deprecates (value, label) tuples.
    return SelectChoice(value=value, label=label)


PASSWORD_MIN = 8
CORRECTION_REASONS_MAX = 500


class WholeNumberField(IntegerField):
    def process_formdata(self, valuelist):
        if not valuelist or not str(valuelist[0]).strip():
            self.data = None
            return
        try:
            self.data = int(str(valuelist[0]).strip())
        except ValueError:
            self.data = None
            raise ValueError(_l("Enter a whole number.")) from None


class ChoiceField(SelectField):
    def pre_validate(self, form):
        if self.validate_choice and self.data not in {self.coerce(c.value) for c in self.iter_choices()}:
            raise ValidationError(_l("Choose one of the options."))

    def process_formdata(self, valuelist):
        if valuelist:
            try:
                self.data = self.coerce(valuelist[0])
            except (ValueError, TypeError):
                raise ValueError(_l("Choose one of the options.")) from None


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()

    def pre_validate(self, form):
        allowed = {self.coerce(value) for value, *_ in self.iter_choices()}
        if any(value not in allowed for value in (self.data or [])):
            raise ValidationError(_l("Choose one of the options."))

    def process_formdata(self, valuelist):
        try:
            self.data = [self.coerce(v) for v in valuelist]
        except (ValueError, TypeError):
            raise ValueError(_l("Choose one of the options.")) from None


def steps_text(value) -> str:
    """Recognition steps as typed ("10;5, 20") kept as "5, 10, 20"; anything not a list of numbers
    is left as typed, for the validator to refuse."""
    text = str(value or "").replace(";", ",").strip()
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not all(p.isdigit() for p in parts):
        return text
    return ", ".join(str(n) for n in sorted({int(p) for p in parts if int(p) > 0}))


class DriveForm(CleanForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter the drive's name.")),
                                               Length(max=200, message=_l("At most %(max)d characters."))])
    drive_date = DateTextField(_l("Date"), validators=[DataRequired(_l("Enter the drive's date."))],
                               years=DRIVE_YEARS)
    target_bags = WholeNumberField(_l("Target (bags)"), default=0, validators=[
        InputRequired(_l("Enter a target, or 0.")),
        NumberRange(min=0, max=100000, message=_l("Between %(min)s and %(max)s."))])
    status = ChoiceField(_l("Status"), choices=[choice(code, word) for code, word in labels.DRIVE_STATUS.items()],
                         default=DriveStatus.PLANNED.value)
    hospital = StringField(_l("Collecting hospital"), validators=[
        Length(max=200, message=_l("At most %(max)d characters."))])
    organiser = StringField(_l("Organising department"), validators=[
        Length(max=200, message=_l("At most %(max)d characters."))])
    campaign = StringField(_l("Campaign"), description=_l("Optional, e.g. “Hành trình Đỏ”, “Chủ nhật Đỏ”"),
                           validators=[Length(max=120, message=_l("At most %(max)d characters."))])
    salutation = ChoiceField(_l("Letters address donors as"), choices=[
        choice(code, word) for code, word in labels.SALUTATION.items()], default=DEFAULT_SALUTATION,
        filters=[lambda v: v or DEFAULT_SALUTATION])  # a form posted without it (a script) keeps the default
    recognition_steps = StringField(
        _l("Recognition steps"), filters=[lambda value: steps_text(value)],
        description=_l("Donation counts recognised, e.g. 5, 10, 15, 20, 30, 40, 50, 70, 100; empty: the default"),
        validators=[Length(max=120, message=_l("At most %(max)d characters.")),
                    Regexp(r"^[0-9, ]*$", message=_l("Whole numbers separated by commas."))])
    sites = CheckboxesField(_l("Sites"), coerce=int)
    reason = TextAreaField(_l("Reason for the change"), validators=[
        Length(max=CORRECTION_REASONS_MAX, message=_l("At most %(max)d characters."))])
    fingerprint = HiddenField()


class SiteForm(CleanForm):
    code = StringField(_l("Code"), validators=[
        DataRequired(_l("Enter a short code, such as XNC.")),
        Regexp(r"^[A-Za-z0-9_-]{1,20}$", message=_l("Letters, digits, - and _ only, at most 20."))])
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter the site's name.")),
                                               Length(max=200, message=_l("At most %(max)d characters."))])
    address = StringField(_l("Address"), validators=[Length(max=300, message=_l("At most %(max)d characters."))])
    fingerprint = HiddenField()


class DepartmentForm(CleanForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter the department's name.")),
                                               Length(max=200, message=_l("At most %(max)d characters."))])
    parent_id = ChoiceField(_l("Part of"), coerce=int, default=0)
    default_site_id = ChoiceField(_l("Donates at"), coerce=int, default=0)
    arrival_start = StringField(_l("Arrives from"), description=_l("On the drive day, e.g. 07:30; printed on its passes"),
                                validators=[OptionalValue()])
    arrival_end = StringField(_l("Arrives until"), description=_l("e.g. 08:00"), validators=[OptionalValue()])
    fingerprint = HiddenField()

    def validate_arrival_start(self, field) -> None:
        self._time(field)

    def validate_arrival_end(self, field) -> None:
        end = self._time(field)
        start = self._time(self.arrival_start) if self.arrival_start.data else None
        if end is not None and (start is None or end <= start):
            raise ValidationError(_l("A time after the start, or leave both empty."))

    @staticmethod
    def _time(field):
        try:
            return parse_time(field.data)
        except ValueError:
            raise ValidationError(_l("A time such as 07:30.")) from None

    def arrival(self):
        """(start, end) as times, (None, None) for none: the form has been validated."""
        return parse_time(self.arrival_start.data), parse_time(self.arrival_end.data)


class CallEarlyForm(CleanForm):
    """One tap: the unit to invite now (kiosk.arrivals.call_early)."""
    # A row id: at most PostgreSQL's integer (a longer number is no unit, and PostgreSQL refuses it).
    department_id = IntegerField(validators=[InputRequired(), NumberRange(min=1, max=2**31 - 1)])


USERNAME = r"^[a-z0-9._-]{3,60}$"


class StaffForm(CleanForm):
    username = StringField(_l("Username"), validators=[
        DataRequired(_l("Enter a username.")),
        Regexp(USERNAME, message=_l("3 to 60 lower-case letters, digits, dots, - or _."))],
        filters=[lambda v: v.strip().lower() if isinstance(v, str) else v])
    display_name = StringField(_l("Full name"), validators=[
        DataRequired(_l("Enter the person's name.")), Length(max=120, message=_l("At most %(max)d characters."))])
    role = ChoiceField(_l("Role"), choices=[choice(code, word) for code, word in labels.STAFF_ROLE.items()],
                       default=StaffRole.NURSE.value)
    password = PasswordField(_l("Password"), validators=[
        DataRequired(_l("Enter a password.")),
        Length(min=PASSWORD_MIN, message=_l("At least %(min)d characters.")),
        Length(max=200, message=_l("At most %(max)d characters."))])
    confirm = PasswordField(_l("Password again"), validators=[
        DataRequired(_l("Enter the password again.")), EqualTo("password", message=_l("The passwords differ."))])


class PasswordResetForm(CleanForm):
    password = PasswordField(_l("New password"), validators=[
        DataRequired(_l("Enter a password.")),
        Length(min=PASSWORD_MIN, message=_l("At least %(min)d characters.")),
        Length(max=200, message=_l("At most %(max)d characters."))])
    confirm = PasswordField(_l("New password again"), validators=[
        DataRequired(_l("Enter the password again.")), EqualTo("password", message=_l("The passwords differ."))])


class StaffSitesForm(CleanForm):
    sites = SelectMultipleField(_l("Sites this nurse may open"), coerce=int, choices=[],
                                widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
                                validate_choice=True)


class ConfirmForm(CleanForm):
    """A button that changes something: only the CSRF token."""


class RosterUploadForm(CleanForm):
    roster = FileField(_l("Roster file (.csv or .xlsx)"), validators=[FileRequired(_l("Choose a file."))])


class RosterConfirmForm(CleanForm):
    upload_id = HiddenField(validators=[
        DataRequired(_l("The upload has expired. Upload the file again.")),
        Regexp(UPLOAD_ID, message=_l("The upload has expired. Upload the file again."))])
    skip_bad = BooleanField(_l("Import the good rows and leave out the bad ones"))


class DonorSearchForm(CleanForm):
    q = StringField(_l("Name, ID number or phone"), validators=[
        DataRequired(_l("Type a name, an ID number or a phone number.")),
        Length(max=100, message=_l("At most %(max)d characters."))])


class DonationCorrectionForm(CleanForm):
    # The choices are this instance's bag sizes (its screening rules), set when the form is made.
    volume_ml = ChoiceField(_l("Volume"), coerce=int, choices=[])
    bag_number = StringField(_l("Bag number"), validators=[
        DataRequired(_l("Enter the bag number.")), Length(max=40, message=_l("At most %(max)d characters."))])
    outcome = ChoiceField(_l("Outcome"), choices=[choice(code, word) for code, word in labels.OUTCOME.items()])
    reaction = ChoiceField(_l("Reaction"), choices=[choice(code, word) for code, word in labels.REACTION.items()])
    reaction_note = StringField(_l("Reaction note"), validators=[
        Length(max=300, message=_l("At most %(max)d characters."))])
    reason = TextAreaField(_l("Reason for the correction"), validators=[
        DataRequired(_l("Give the reason for the change.")),
        Length(max=CORRECTION_REASONS_MAX, message=_l("At most %(max)d characters."))])
    expected_version = HiddenField()
    nonce = HiddenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.volume_ml.choices = [choice(size, f"{size} ml") for size in screening_rules().volume.bag_sizes_ml]


class CertificateSerialForm(CleanForm):
    certificate_serial = StringField(_l("Official certificate serial number"), description=_l(
        "As printed on the certificate of voluntary blood donation the collecting facility handed over"),
        validators=[Length(max=40, message=_l("At most %(max)d characters."))],
        render_kw={"autocomplete": "off", "autocapitalize": "characters"})
    expected_version = HiddenField()
    nonce = HiddenField()


class DonationVoidForm(CleanForm):
    reason = TextAreaField(_l("Reason for voiding"), validators=[
        DataRequired(_l("Give the reason for the change.")),
        Length(max=CORRECTION_REASONS_MAX, message=_l("At most %(max)d characters."))])
    expected_version = HiddenField()
    nonce = HiddenField()


class RecallCarryForm(CleanForm):
    """Carry a recall list into another drive's roster: the list's date and scope as it was shown."""
    target = SelectField(_l("Drive"), coerce=int, validate_choice=False,
                         validators=[DataRequired(_l("Choose the drive to carry them into."))])
    by = HiddenField()
    everyone = HiddenField()


class HealthExportForm(CleanForm):
    format = ChoiceField(_l("Format"), choices=[choice("xlsx", "Excel (.xlsx)"), choice("csv", "CSV (UTF-8)")], default="xlsx")
    confirm = BooleanField(_l("I need the health answers and will keep this file confidential"),
                           validators=[DataRequired(_l("Confirm that you will keep the file confidential."))])


def choices_with_none(items: Iterable[tuple[int, str]], none_label) -> list[Any]:
    return [choice(0, none_label)] + [choice(value, label) for value, label in items]


def site_label(site: Site) -> str:
    """A site as the console's forms offer it: its code, then its name."""
    return f"{site.code} · {site.name}"


def site_choices(sites: Iterable[Site]) -> list[Any]:
    return [choice(site.id, site_label(site)) for site in sites]


class AuditFilterForm(CleanForm):
    """The audit page's filters, sent as GET parameters: staff and devices, never a donor."""

    class Meta:
        csrf = False  # it changes nothing

    action = ChoiceField(_l("Action"), choices=[], default="")
    who = ChoiceField(_l("Person or device"), choices=[], default="")
    day = DateTextField(_l("Day"), validators=[OptionalValue()])

    def set_choices(self, actions: Iterable[tuple[str, str]], people: Iterable[tuple[str, str]]) -> None:
        self.action.choices = [choice("", _l("All"))] + [choice(value, label) for value, label in actions]
        self.who.choices = [choice("", _l("Everyone"))] + [choice(value, label) for value, label in people]


class DeviceForm(CleanForm):
    """A new device; the view fills `site_id`'s choices."""
    name = StringField(_l("Name"), validators=[DataRequired(_l("Give the device a name, such as Kiosk 1.")),
                                               Length(max=80, message=_l("At most %(max)d characters."))])
    site_id = ChoiceField(_l("Site"), coerce=int, choices=[])
    kind = ChoiceField(_l("Kind"), choices=[choice(kind.value, labels.DEVICE_KIND[kind]) for kind in DeviceKind],
                       default=DeviceKind.KIOSK.value)


class DeviceRenameForm(CleanForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Give the device a name, such as Kiosk 1.")),
                                               Length(max=80, message=_l("At most %(max)d characters."))])
