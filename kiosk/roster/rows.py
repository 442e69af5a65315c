"""A roster's row checked, field by field: each check appends this row's errors only and gives its
value, so a file's validation is linear in its rows. kiosk.roster.parser finds the rows; this
module knows what a name, a date, a CCCD, a phone, a sex and a blood group must be. Plain module."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Callable, Optional

from kiosk.inputs import COUNTRY_CODE, clean_name, clean_text, digits_only, fold_diacritics, parse_date, phone_digits

SEX_VALUES = {"nam": "M", "nu": "F", "m": "M", "f": "F", "male": "M", "female": "F"}
BLOOD_GROUPS = {"A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"}
# ABO written without its Rh ("A", "B"): accepted, Rh unknown (stored as the ABO letters alone).
ABO_ONLY = {"A", "B", "AB", "O"}
ID_NUMBER = re.compile(r"^\d{12}$", flags=re.ASCII)
PHONE = re.compile(r"^0\d{9}$", flags=re.ASCII)
# Every CCCD starts with 0 (its province: 001 Hà Nội ... 096 Cà Mau), so Excel keeps 10 or 11 digits
# of it; a mobile number without its 0 is 9 digits starting 3, 5, 7, 8 or 9.
CCCD_WITHOUT_ZEROS = re.compile(r"^\d{10,11}$", flags=re.ASCII)
MOBILE_WITHOUT_ZERO = re.compile(r"^[35789]\d{8}$", flags=re.ASCII)
MAX_NAME = 120
MAX_PRIOR_DONATIONS = 200


@dataclass(frozen=True)
class RowError:
    line: int  # the line in the file (the first line is 1)
    code: str  # machine-readable: the admin page and CLI turn it into words
    field: str = ""
    value: str = ""


@dataclass
class DonorRow:
    line: int
    full_name: str
    date_of_birth: dt.date
    sex: str
    id_number: str
    phone: str
    department: str
    rank: str
    blood_group: str
    last_donation: Optional[dt.date]
    prior_donations: Optional[int] = None
    site: str = ""  # as the file names it ("" without a site column); the importer matches it
    sex_from_id_number: bool = False  # no sex given: read from the CCCD


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return clean_text(value)


def _number(value: object, length: int, pattern: re.Pattern, restored: list[int], line: int) -> str:
    """A CCCD or a phone: ASCII digits (full-width made plain, spaces and dots dropped). A cell
    kept as a number that matches `pattern` (what Excel leaves of a number that began with 0)
    gets its zeros back and the line is noted."""
    text = _text(value)
    digits = digits_only(text)
    if digits is None:
        return text.replace(" ", "")
    # Only a cell the spreadsheet kept as a number: in a CSV, "12345678901" may be a typo, and
    # the message says what Excel may have done instead.
    if isinstance(value, (int, float)) and not isinstance(value, bool) and pattern.match(digits):
        restored.append(line)
        return digits.zfill(length)
    return digits


@dataclass
class _RowCheck:
    """A row being checked: each field's check appends this row's errors only, and gives its value."""
    line: int
    cell: Callable[[str], object]
    today: dt.date
    errors: list[RowError]
    values: dict[str, object] = field(default_factory=dict)  # the fields checked so far
    restored: dict[str, list[int]] = field(default_factory=dict)  # field -> [line], where a 0 was put back

    def text(self, name: str) -> str:
        return _text(self.cell(name))

    def error(self, code: str, name: str, value: object = "") -> None:
        self.errors.append(RowError(self.line, code, name, _text(value)[:60]))


def _full_name(row: _RowCheck) -> str:
    full_name = clean_name(row.text("full_name"))
    if not full_name:
        row.error("required", "full_name")
    elif len(full_name) > MAX_NAME or any(ch.isdigit() for ch in full_name):
        row.error("invalid_name", "full_name", full_name)
    return full_name


def _date(row: _RowCheck, name: str) -> Optional[dt.date]:
    raw = row.cell(name)
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and 1900 <= raw <= 2100 and float(raw).is_integer():
        row.error("year_only", name, raw)  # "Năm sinh: 1990": a year is not a date of birth
        return None
    try:
        value = parse_date(raw if isinstance(raw, (dt.date, dt.datetime)) else _text(raw))
    except (ValueError, OverflowError):
        row.error("year_only" if re.fullmatch(r"\d{4}", _text(raw), flags=re.ASCII) else "invalid_date", name, raw)
        return None
    if value and value > row.today:
        row.error("date_in_future", name, raw)
    return value


def _date_of_birth_given(row: _RowCheck) -> Optional[dt.date]:
    """Required (unless refused already), not before 1900: after both dates' own errors."""
    date_of_birth = row.values["date_of_birth"]
    if date_of_birth is None and not any(e.field == "date_of_birth" for e in row.errors):
        row.error("required", "date_of_birth")
    elif date_of_birth and date_of_birth.year < 1900:
        row.error("invalid_date", "date_of_birth", row.cell("date_of_birth"))
    return date_of_birth


def sex_from_id_number(id_number: str) -> Optional[str]:
    """The sex a 12-digit CCCD encodes: its 4th digit is the century and sex (0 man / 1 woman born
    1900-1999, 2 / 3 in 2000-2099, 4 / 5 in 2100-2199 ...): even a man, odd a woman."""
    if not ID_NUMBER.match(id_number or ""):
        return None
    return "M" if int(id_number[3]) % 2 == 0 else "F"


def _sex(row: _RowCheck) -> Optional[str]:
    """The sex column as written; without one (or blank), the CCCD's. A column that contradicts the
    CCCD is kept and the line noted (row.values["sex_from_id_number"] None: see _validate_line)."""
    written = row.text("sex")
    from_id = sex_from_id_number(row.values.get("id_number") or "")
    if not written:
        if from_id is None:
            if not any(e.field == "id_number" for e in row.errors):
                row.error("required", "sex")
            return None
        row.values["sex_from_id_number"] = True
        return from_id
    sex = SEX_VALUES.get(fold_diacritics(written))
    if sex is None:
        row.error("invalid_sex", "sex", row.cell("sex"))
    elif from_id is not None and sex != from_id:
        row.values["sex_from_id_number"] = None
    return sex


def _id_number(row: _RowCheck) -> str:
    restored: list[int] = []
    id_number = _number(row.cell("id_number"), 12, CCCD_WITHOUT_ZEROS, restored, row.line)
    if not ID_NUMBER.match(id_number):
        row.error("invalid_id_number", "id_number", id_number)
    elif restored:
        row.restored["id_number"] = restored
    return id_number


def _phone(row: _RowCheck) -> str:
    restored: list[int] = []
    phone = row.text("phone")
    if phone.startswith("+" + COUNTRY_CODE):
        phone = phone_digits(phone)
    else:
        phone = _number(row.cell("phone"), 10, MOBILE_WITHOUT_ZERO, restored, row.line) if phone else ""
    if phone and not PHONE.match(phone):
        row.error("invalid_phone", "phone", phone)
    elif restored:
        row.restored["phone"] = restored
    return phone


def _at_most(row: _RowCheck, name: str, length: int) -> str:
    text = row.text(name)
    if len(text) > length:
        row.error("too_long", name)
    return text


def _blood_group(row: _RowCheck) -> str:
    """"O+", "Nhóm A Rh+", "AB (Rh-)"; "A" or "B" without Rh is kept as the ABO alone (Rh unknown)."""
    blood_group = fold_diacritics(row.text("blood_group")).upper()
    for noise in ("NHOM", "RH", " ", "(", ")"):
        blood_group = blood_group.replace(noise, "")
    if blood_group and blood_group not in BLOOD_GROUPS | ABO_ONLY:
        row.error("invalid_blood_group", "blood_group", row.text("blood_group"))
    return blood_group


def _prior_donations(row: _RowCheck) -> Optional[int]:
    prior_text = row.text("prior_donations")
    digits = digits_only(prior_text) if prior_text else None
    if prior_text and (digits is None or int(digits) > MAX_PRIOR_DONATIONS):
        row.error("invalid_count", "prior_donations", prior_text)
        return None
    return int(digits) if prior_text else None


# Each field's check, in the order a row's errors are listed.
ROW_CHECKS: tuple[tuple[str, Callable[[_RowCheck], object]], ...] = (
    ("full_name", _full_name),
    ("date_of_birth", lambda row: _date(row, "date_of_birth")),
    ("last_donation", lambda row: _date(row, "last_donation")),
    ("date_of_birth", _date_of_birth_given),
    ("id_number", _id_number),
    ("sex", _sex),
    ("phone", _phone),
    ("department", lambda row: _at_most(row, "department", 200)),
    ("rank", lambda row: _at_most(row, "rank", 60)),
    ("blood_group", _blood_group),
    ("prior_donations", _prior_donations),
    ("site", lambda row: _at_most(row, "site", 120)),
)


def _validate_row(line: int, cell: Callable[[str], object], today: dt.date,
                  errors: list[RowError], restored_zeros: dict[str, list[int]]) -> Optional[DonorRow]:
    """One row's donor, or None with its errors appended (this row's errors only: linear)."""
    row = _RowCheck(line, cell, today, errors)
    row.values["sex_from_id_number"] = False
    for name, check in ROW_CHECKS:
        row.values[name] = check(row)
    if errors:
        return None
    for name, lines in row.restored.items():
        restored_zeros.setdefault(name, []).extend(lines)
    return DonorRow(line=line, **row.values)
