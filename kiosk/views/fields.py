"""What every form does to what people type, in one place: the base form (text NFC, no invisible
characters), the filters for numbers typed as text (a CCCD, a phone) and the one date field.

Every form of the kiosk, the phone, the nurse station and the console derives from CleanForm, so a
new text field is cleaned without anyone remembering to; kiosk.inputs holds the rules themselves."""
from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Optional

from flask_babel import get_translations, ngettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, TextAreaField, widgets

from kiosk.inputs import DATE_FORMAT, DATE_YEARS, clean_lines, clean_text, digits_only, parse_date


def text_filter(value):
    """One line of text: NFC, no control, bidi or zero-width characters, single spaces."""
    return clean_text(value) if isinstance(value, str) else value


def lines_filter(value):
    """A text area: as text_filter, line by line (a reason may take several lines)."""
    return clean_lines(value) if isinstance(value, str) else value


def digits_filter(value):
    """A number typed as text: ASCII digits once full-width digits, spaces, dots and dashes are
    dealt with; anything else is left as typed (NFKC) for the field's own check to refuse in words."""
    if not isinstance(value, str):
        return value
    return digits_only(value) or unicodedata.normalize("NFKC", value).strip()


def N_(message: str) -> str:
    """Marks a string for the catalogue; whoever shows it translates it."""
    return message


# WTForms' own messages that a person can meet (a stale or tampered choice, a number field): WTForms
# ships no Vietnamese, so the app's catalogue says them (CleanForm.Meta.get_translations).
WTFORMS_MESSAGES = (
    N_("Not a valid choice."), N_("Invalid Choice: could not coerce."), N_("Not a valid integer value."),
    N_("Invalid choice(s): one or more data inputs could not be coerced."), N_("This field is required."),
    N_("Invalid input."), N_("Field must be between %(min)d and %(max)d characters long."),
    N_("Number must be at least %(min)s."), N_("Number must be at most %(max)s."),
    N_("Number must be between %(min)s and %(max)s."),
)


def _wtforms_plural_messages(n: int) -> tuple[str, ...]:  # never called: marks WTForms' plurals for the catalogue
    return (ngettext("'%(value)s' is not a valid choice for this field.",
                     "'%(value)s' are not valid choices for this field.", n),
            ngettext("Field must be at least %(min)d character long.",
                     "Field must be at least %(min)d characters long.", n),
            ngettext("Field cannot be longer than %(max)d character.",
                     "Field cannot be longer than %(max)d characters.", n),
            ngettext("Field must be exactly %(max)d character long.",
                     "Field must be exactly %(max)d characters long.", n))


class CatalogueWords:
    """WTForms' gettext and ngettext answered from the app's catalogue in the request's language
    (formatting is WTForms' own, so no variables are filled in here)."""

    def gettext(self, string: str) -> str:
        return get_translations().ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return get_translations().ungettext(singular, plural, n)


CATALOGUE_WORDS = CatalogueWords()


class CleanForm(FlaskForm):
    """A FlaskForm whose text fields are cleaned on the way in (passwords are taken as typed), and
    whose WTForms messages come from the app's catalogue."""

    class Meta:
        def get_translations(self, form):
            return CATALOGUE_WORDS

        def bind_field(self, form, unbound_field, options):
            field_class = unbound_field.field_class
            if issubclass(field_class, StringField) and not issubclass(field_class, PasswordField):
                extra = lines_filter if issubclass(field_class, TextAreaField) else text_filter
                filters = unbound_field.kwargs.get("filters") or ()
                options = dict(options, filters=(extra, *filters))
            return unbound_field.bind(form=form, **options)


class DateTextField(StringField):
    """A date typed in a text box, as kiosk.inputs.parse_date reads it: dd/mm/yyyy, d/m/yyyy,
    ddmmyyyy (a phone's number pad has no "/"), or yyyy-mm-dd; nothing else, and no year outside
    DATE_YEARS (a drive on 31/12/9999 has no "next donation" date). `data` is a date or None;
    the box shows what was typed. A text box, not type=date: a browser's date picker speaks the
    browser's locale (mm/dd/yyyy on many laptops), and our screens always say dd/mm/yyyy."""

    widget = widgets.TextInput()

    def __init__(self, label=None, validators=None, message=None, years: range = DATE_YEARS, **kwargs):
        render_kw = {"placeholder": "dd/mm/yyyy", "inputmode": "numeric", "autocomplete": "off"}
        render_kw.update(kwargs.pop("render_kw", None) or {})
        super().__init__(label, validators, render_kw=render_kw, **kwargs)
        self.message = message or _l("Enter a date as dd/mm/yyyy.")
        self.years = years

    def _value(self):
        if self.raw_data:
            return clean_text(self.raw_data[0])
        return self.data.strftime(DATE_FORMAT) if isinstance(self.data, dt.date) else ""

    def validate(self, form, extra_validators=()):
        # A date that could not be read says so, once: not also "enter a date" from DataRequired.
        if self.process_errors:
            self.errors = list(self.process_errors)
            return False
        return super().validate(form, extra_validators)

    def process_formdata(self, valuelist):
        self.data = None
        text = clean_text(valuelist[0]) if valuelist else ""
        if not text:
            return
        parsed: Optional[dt.date]
        try:
            parsed = parse_date(text)
        except ValueError:
            parsed = None
        if parsed is None or parsed.year not in self.years:
            raise ValueError(str(self.message))
        self.data = parsed
