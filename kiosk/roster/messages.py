"""Roster import errors in words, in the user's language (kiosk.roster.parser gives codes)."""
from __future__ import annotations

from flask_babel import gettext as _

from kiosk.roster.parser import RosterFormatError, RowError


def field_label(name: str) -> str:
    return {
        "full_name": _("Full name"), "date_of_birth": _("Date of birth"), "sex": _("Sex"),
        "id_number": _("ID number"), "phone": _("Phone"), "department": _("Department"), "rank": _("Rank"),
        "blood_group": _("Blood group"), "last_donation": _("Last donation"),
    }.get(name, name)


def describe_row_error(error: RowError) -> str:
    reasons = {
        "required": _("%(field)s is missing"),
        "invalid_name": _("%(field)s is not a valid name: %(value)s"),
        "invalid_date": _("%(field)s is not a valid date (dd/mm/yyyy): %(value)s"),
        "date_in_future": _("%(field)s is in the future: %(value)s"),
        "invalid_sex": _("%(field)s must be Nam or Nữ: %(value)s"),
        "invalid_id_number": _("%(field)s must have 12 digits: %(value)s"),
        "invalid_phone": _("%(field)s is not a Vietnamese phone number: %(value)s"),
        "invalid_blood_group": _("%(field)s is not a blood group: %(value)s"),
        "too_long": _("%(field)s is too long"),
        "duplicate_id_in_file": _("%(field)s already appears on line %(value)s"),
    }
    reason = reasons.get(error.code, error.code) % {"field": field_label(error.field), "value": error.value}
    return _("Line %(line)d: %(reason)s", line=error.line, reason=reason)


def describe_format_error(error: RosterFormatError) -> str:
    messages = {
        "unsupported_file_type": _("Only .csv and .xlsx files can be imported."),
        "not_utf8": _("The CSV file is not UTF-8. Save it as “CSV UTF-8” and try again."),
        "not_xlsx": _("The file is not a readable .xlsx spreadsheet."),
        "empty_file": _("The file is empty."),
        "missing_columns": _("Required columns are missing: %(columns)s", columns=error.detail),
    }
    return messages.get(error.code, error.code)
