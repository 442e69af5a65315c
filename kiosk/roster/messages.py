"""Roster import errors in words, in the user's language (kiosk.roster.parser gives codes).

A column is named as the file names it ("Số CCCD/CMND", "SĐT"), never by its internal name;
a column the file lacks is named by the header the console's template uses."""
from __future__ import annotations

from typing import Mapping, Optional

from flask_babel import gettext as _
from flask_babel import ngettext

from kiosk.roster.parser import MAX_ROWS, ParsedRoster, RosterFormatError, RowError


def field_label(name: str, headers: Optional[Mapping[str, str]] = None) -> str:
    if headers and headers.get(name):
        return f"“{headers[name]}”"
    return {
        "full_name": _("Full name"), "date_of_birth": _("Date of birth"), "sex": _("Sex"),
        "id_number": _("ID number"), "phone": _("Phone"), "department": _("Department"), "rank": _("Rank"),
        "blood_group": _("Blood group"), "last_donation": _("Last donation"),
        "prior_donations": _("Number of donations"), "site": _("Site"),
    }.get(name, name)


def describe_row_error(error: RowError, headers: Optional[Mapping[str, str]] = None, with_line: bool = True) -> str:
    """The error in words; with_line=False where the line number stands beside it already (the
    preview's table), so it is said once."""
    reasons = {
        "required": _("%(field)s is missing"),
        "invalid_name": _("%(field)s is not a valid name: %(value)s"),
        "invalid_date": _("%(field)s is not a valid date (dd/mm/yyyy): %(value)s"),
        "year_only": _("%(field)s has only a year (%(value)s): the full date is needed (dd/mm/yyyy)"),
        "date_in_future": _("%(field)s is in the future: %(value)s"),
        "invalid_sex": _("%(field)s must be Nam or Nữ: %(value)s"),
        "invalid_id_number": _("%(field)s must have 12 digits: %(value)s"),
        "invalid_phone": _("%(field)s is not a Vietnamese phone number: %(value)s"),
        "invalid_blood_group": _("%(field)s is not a blood group: %(value)s"),
        "invalid_count": _("%(field)s is not a number of donations: %(value)s"),
        "too_long": _("%(field)s is too long"),
        "duplicate_id_in_file": _("%(field)s already appears on line %(value)s"),
    }
    reason = reasons.get(error.code, error.code) % {"field": field_label(error.field, headers), "value": error.value}
    digits = error.value.isdigit() and error.value.isascii()
    if (error.code == "invalid_id_number" and digits and len(error.value) in (10, 11)) or \
            (error.code == "invalid_phone" and digits and len(error.value) == 9):
        # What Excel does to a number that starts with 0, in a file saved as CSV.
        reason += " " + _("(the leading 0 may have been dropped by Excel: format the column as Text and save "
                          "the file again)")
    if not with_line:
        return reason[:1].upper() + reason[1:]
    return _("Line %(line)d: %(reason)s", line=error.line, reason=reason)


def describe_format_error(error: RosterFormatError) -> str:
    if error.code == "missing_columns":
        names = ", ".join(f"“{field_label(name)}”" for name in error.detail.split(",") if name)
        return _("Required columns are missing: %(columns)s. The header row must name them (for example "
                 "“Họ và tên”, “Ngày sinh”, “Giới tính”, “Số CCCD”); the template shows every column.",
                 columns=names)
    messages = {
        "unsupported_file_type": _("Only .csv and .xlsx files can be imported."),
        "not_utf8": _("The CSV file is in an encoding that cannot be read: it is not UTF-8, UTF-16 or "
                      "Windows-1258 (Vietnamese). Save it as “CSV UTF-8” and try again."),
        "not_xlsx": _("The file is not a readable .xlsx spreadsheet."),
        "xlsx_dtd": _("The spreadsheet holds declarations (a DTD) that no spreadsheet program writes, so it is "
                      "not read. Open it in Excel, save it again as .xlsx and try again."),
        "empty_file": _("The file is empty."),
        "too_many_rows": _("The file has more than %(rows)s donors. Split it into smaller files.",
                           rows=f"{MAX_ROWS:,}".replace(",", ".")),
        "too_big_unzipped": _("The spreadsheet is too large once unpacked (over %(mb)s MB). Keep only the "
                              "roster's sheet and its columns, and try again.", mb=error.detail),
        "too_slow": _("The file took too long to check (stopped at line %(line)s). Remove empty rows and "
                      "other sheets, or split it, and try again.", line=error.detail),
        "unreadable_csv": _("Line %(line)s of the CSV file cannot be read: a cell is far too long or a "
                            "quotation mark is not closed.", line=error.detail),
    }
    return messages.get(error.code, error.code)


def describe_notes(parsed: ParsedRoster) -> list[str]:
    """What the reader did for the organiser to know: columns left out, zeros put back, the
    footer skipped, the encoding guessed."""
    notes = []
    if parsed.header_line > 1:
        notes.append(_("The header is on line %(line)d; the lines above it (titles) are not read.",
                       line=parsed.header_line))
    if parsed.ignored_columns:
        notes.append(_("Columns not imported: %(columns)s.",
                       columns=", ".join(f"“{name}”" for name in parsed.ignored_columns)))
    for name, lines in sorted(parsed.restored_zeros.items()):
        notes.append(ngettext("%(num)d value in %(column)s had lost its leading 0 (Excel drops it from numbers): "
                              "it was put back (line %(lines)s).",
                              "%(num)d values in %(column)s had lost their leading 0 (Excel drops it from "
                              "numbers): it was put back (lines %(lines)s).",
                              len(lines), column=field_label(name, parsed.headers), lines=_line_list(lines)))
    if parsed.skipped:
        notes.append(ngettext("Line %(lines)s is not a donor (a total, a note or a signature) and was skipped.",
                              "Lines %(lines)s are not donors (totals, notes, signatures) and were skipped.",
                              len(parsed.skipped), lines=_line_list([line for line, _text in parsed.skipped])))
    from_id = [row.line for row in parsed.rows if row.sex_from_id_number]
    if from_id:
        notes.append(ngettext("%(num)d donor's sex was read from the CCCD (its 4th digit), the file giving none.",
                              "%(num)d donors' sex was read from the CCCD (its 4th digit), the file giving none.",
                              len(from_id)))
    if parsed.sex_disagrees:
        notes.append(ngettext("On line %(lines)s the sex written disagrees with the CCCD (its 4th digit): it was "
                              "kept as written; check it.",
                              "On lines %(lines)s the sex written disagrees with the CCCD (its 4th digit): it "
                              "was kept as written; check them.", len(parsed.sex_disagrees),
                              lines=_line_list(parsed.sex_disagrees)))
    abo_only = [row.line for row in parsed.rows if row.blood_group in ("A", "B", "AB", "O")]
    if abo_only:
        notes.append(ngettext("%(num)d blood group has no Rh (line %(lines)s): kept with the Rh unknown.",
                              "%(num)d blood groups have no Rh (lines %(lines)s): kept with the Rh unknown.",
                              len(abo_only), lines=_line_list(abo_only)))
    if parsed.encoding == "windows-1258":
        notes.append(_("The file was read as Windows-1258 (Vietnamese); check the names below."))
    elif parsed.encoding == "utf-16":
        notes.append(_("The file was read as UTF-16."))
    return notes


def _line_list(lines: list[int], shown: int = 10) -> str:
    text = ", ".join(str(line) for line in lines[:shown])
    return text + (" …" if len(lines) > shown else "")
