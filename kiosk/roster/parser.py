"""Roster import: a CSV or .xlsx of donors, as offices really send them, into a drive.

An office's list is rarely a bare table: the unit's name and the national motto in merged cells,
a title, a note, then the header (often on row 7) with STT, Chức vụ and Ghi chú beside the
columns we need, then the donors, a "Tổng cộng" line and a signature block. The header row is
found below the title rows; headers are matched after NFC and folding ("Số CCCD/CMND", "SĐT",
"Ngày, tháng, năm sinh", NFD or not); columns we do not use are listed, not refused; the footer
ends the list. Excel drops the leading 0 of a CCCD or a mobile number kept as a number: it is put
back and the preview says so.

Every row is validated before anything is written; with any bad row nothing is imported unless
the caller asks to skip bad rows. Validation is linear in the rows, and a file is bounded: a row
cap, a time budget, and (for .xlsx) its unzipped size checked before it is opened. Plain module:
no Flask, so it runs from the CLI, the admin page and the tests alike.
"""
from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Optional

from kiosk.inputs import (COUNTRY_CODE, clean_name, clean_text, digits_only, fold_diacritics, parse_date,
                          phone_digits)
from kiosk.roster.reader import MAX_COLUMNS, RosterFormatError, Table, read_table  # noqa: F401 (the parser's API)

FIELDS = ("full_name", "date_of_birth", "sex", "id_number", "phone", "department", "rank",
          "blood_group", "last_donation", "prior_donations")
REQUIRED = ("full_name", "date_of_birth", "sex", "id_number")

# Header variants as offices write them, folded (see header_key): no diacritics, lower case,
# punctuation as spaces. "Năm sinh" often holds a full date; a bare year is refused row by row.
HEADER_VARIANTS: dict[str, tuple[str, ...]] = {
    "full_name": ("ho va ten", "ho ten", "ho va ten can bo", "ho ten can bo", "ten", "full name", "full_name",
                  "name"),
    "date_of_birth": ("ngay sinh", "ngay thang nam sinh", "ngay thang sinh", "nam sinh", "sinh ngay",
                      "date of birth", "date_of_birth", "dob"),
    "sex": ("gioi tinh", "gioi", "phai", "sex", "gender"),
    "id_number": ("so cccd", "cccd", "so cccd cmnd", "cccd cmnd", "so cmnd cccd", "cmnd cccd", "so cmnd",
                  "cmnd", "so dinh danh", "so dinh danh ca nhan", "ma dinh danh", "so can cuoc",
                  "so can cuoc cong dan", "can cuoc cong dan", "id number", "id_number"),
    "phone": ("so dien thoai", "dien thoai", "sdt", "so dt", "dt", "dien thoai lien he", "so dien thoai lien he",
              "di dong", "phone", "mobile"),
    "department": ("don vi", "don vi cong tac", "co quan", "co quan don vi", "phong ban", "department"),
    "rank": ("cap bac", "quan ham", "cap bac quan ham", "rank"),
    "blood_group": ("nhom mau", "blood group", "blood_group"),
    "last_donation": ("lan hien gan nhat", "ngay hien gan nhat", "lan hien mau gan nhat", "last donation",
                      "last_donation"),
    "prior_donations": ("so lan hien", "so lan hien mau", "so lan da hien", "so lan da hien mau",
                        "prior donations", "prior_donations"),
}
HEADER_ALIASES = {variant: name for name, variants in HEADER_VARIANTS.items() for variant in variants}
# The words the console's template and messages use for each column.
CANONICAL_HEADERS = {"full_name": "Họ và tên", "date_of_birth": "Ngày sinh", "sex": "Giới tính",
                     "id_number": "Số CCCD", "phone": "Số điện thoại", "department": "Đơn vị", "rank": "Cấp bậc",
                     "blood_group": "Nhóm máu", "last_donation": "Lần hiến gần nhất",
                     "prior_donations": "Số lần hiến"}
# The start of a line that ends the list: totals, then the signature block.
FOOTER_STARTS = ("tong cong", "tong so", "cong ", "nguoi lap", "thu truong", "chi huy", "xac nhan", "ky ten",
                 "ky ghi ro", "ky va ghi ro", "giam doc", "truong phong", "lanh dao")
FOOTER_EXACT = ("cong", "tong")
FOOTER_PLACE_DATE = re.compile(r"(^|\s)ngay\s+\S*\s*thang\s+\S*\s*nam\b")

SEX_VALUES = {"nam": "M", "nu": "F", "m": "M", "f": "F", "male": "M", "female": "F"}
BLOOD_GROUPS = {"A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"}
ID_NUMBER = re.compile(r"^\d{12}$", flags=re.ASCII)
PHONE = re.compile(r"^0\d{9}$", flags=re.ASCII)
# Every CCCD starts with 0 (its province: 001 Hà Nội ... 096 Cà Mau), so Excel keeps 10 or 11 digits
# of it; a mobile number without its 0 is 9 digits starting 3, 5, 7, 8 or 9.
CCCD_WITHOUT_ZEROS = re.compile(r"^\d{10,11}$", flags=re.ASCII)
MOBILE_WITHOUT_ZERO = re.compile(r"^[35789]\d{8}$", flags=re.ASCII)
MAX_NAME = 120
MAX_PRIOR_DONATIONS = 200

HEADER_SEARCH_ROWS = 30  # the header is looked for in the first rows only
MAX_ROWS = 20_000  # donors in one file: a whole campaign's list fits
MAX_BLANK_RUN = 1_000  # so many blank rows in a row: the list has ended (a sheet formatted to row 1,048,576)
TIME_BUDGET_SECONDS = 20.0  # well under gunicorn's 60 s timeout


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


@dataclass
class ParsedRoster:
    rows: list[DonorRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # field -> the column's name in the file
    header_line: int = 1
    ignored_columns: list[str] = field(default_factory=list)  # as the file names them
    restored_zeros: dict[str, list[int]] = field(default_factory=dict)  # field -> lines whose 0 was put back
    footer_line: Optional[int] = None  # where the totals or signatures began
    encoding: str = "utf-8"

    def header_of(self, name: str) -> str:
        return self.headers.get(name) or CANONICAL_HEADERS.get(name, name)


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    visits_created: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    flagged: list[int] = field(default_factory=list)  # lines that matched an unverified walk-in: new pass

    @property
    def imported(self) -> bool:
        return self.created + self.updated > 0 or not self.errors


def header_key(text: object) -> str:
    """A header as matched: NFC, no diacritics, lower case, punctuation as spaces
    ("Ngày, tháng, năm sinh" -> "ngay thang nam sinh", "Số CCCD/CMND" -> "so cccd cmnd")."""
    folded = fold_diacritics(clean_text(text))
    return " ".join(re.sub(r"[^0-9a-z_]+", " ", folded).split())


def _find_header(lines: Iterator[tuple[int, list[object]]]) -> tuple[int, list[object], dict[str, int], int]:
    """The header: the first of the first rows naming every required column, else the one that
    names the most. Returns its line, its cells, the columns it maps and how many rows were read."""
    best: Optional[tuple[int, list[object], dict[str, int]]] = None
    read = 0
    for line, cells in lines:
        read += 1
        columns = _map_columns(cells)
        if all(name in columns for name in REQUIRED):
            return line, cells, columns, read
        if best is None or len(columns) > len(best[2]):
            best = (line, cells, columns)
        if read >= HEADER_SEARCH_ROWS:
            break
    if best is None:
        raise RosterFormatError("empty_file")
    missing = [name for name in REQUIRED if name not in best[2]]
    raise RosterFormatError("missing_columns", ",".join(missing))


def _map_columns(cells: list[object]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, cell in enumerate(cells):
        if not isinstance(cell, str):
            continue
        key = HEADER_ALIASES.get(header_key(cell))
        if key and key not in columns:
            columns[key] = index
    return columns


def _is_footer(cells: list[object]) -> bool:
    """Whether the first words of a line start the totals or the signature block."""
    for cell in cells:
        text = header_key(cell) if isinstance(cell, str) else ""
        if re.search("[a-z]", text):
            return text in FOOTER_EXACT or text.startswith(FOOTER_STARTS) or bool(FOOTER_PLACE_DATE.search(text))
    return False


def parse_roster(table: Iterable[tuple[int, list[object]]], today: dt.date,
                 deadline: Optional[float] = None) -> ParsedRoster:
    """Validate a file's rows. deadline: a time.monotonic() after which the file is refused
    (too_slow); by default TIME_BUDGET_SECONDS from now."""
    deadline = time.monotonic() + TIME_BUDGET_SECONDS if deadline is None else deadline
    lines = iter(table)
    header_line, header, columns, _ = _find_header(lines)
    parsed = ParsedRoster(header_line=header_line, encoding=getattr(table, "encoding", "utf-8"))
    parsed.headers = {name: clean_text(header[index]) for name, index in columns.items()}
    used = set(columns.values())
    parsed.ignored_columns = [clean_text(cell) for index, cell in enumerate(header)
                              if index not in used and clean_text(cell)]
    data_columns = sorted(used)
    key_columns = [columns[name] for name in ("id_number", "date_of_birth") if name in columns]

    seen_ids: dict[str, int] = {}
    blank_run = 0
    count = data_lines = 0
    for line, cells in lines:
        if count % 256 == 0 and time.monotonic() > deadline:
            raise RosterFormatError("too_slow", str(line))
        count += 1
        if not any(_text(cell) for cell in cells):
            # Blank lines, and the end of a sheet formatted far below its last line.
            blank_run += 1
            if blank_run >= MAX_BLANK_RUN:
                break
            continue
        blank_run = 0
        if not any(_text(cells[i]) for i in key_columns if i < len(cells)):
            # No ID number and no date of birth: the totals line, the signature block and the
            # names under it are not donors.
            if parsed.footer_line is None and _is_footer(cells):
                parsed.footer_line = line
            if parsed.footer_line is not None:
                continue
        if not any(_text(cells[i]) for i in data_columns if i < len(cells)):
            continue  # a pre-numbered STT with nothing else
        data_lines += 1
        if data_lines > MAX_ROWS:
            raise RosterFormatError("too_many_rows", str(MAX_ROWS))

        def cell(name: str) -> object:
            index = columns.get(name)
            if index is None or index >= len(cells):
                return ""
            return cells[index]

        row_errors: list[RowError] = []
        row = _validate_row(line, cell, today, row_errors, parsed.restored_zeros)
        if row_errors or row is None:
            parsed.errors.extend(row_errors)
            continue
        if row.id_number in seen_ids:
            parsed.errors.append(RowError(line, "duplicate_id_in_file", "id_number", str(seen_ids[row.id_number])))
            continue
        seen_ids[row.id_number] = line
        parsed.rows.append(row)
    return parsed


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


def _sex(row: _RowCheck) -> Optional[str]:
    sex = SEX_VALUES.get(fold_diacritics(row.text("sex")))
    if sex is None:
        row.error("invalid_sex", "sex", row.cell("sex"))
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
    blood_group = row.text("blood_group").upper().replace(" ", "").replace("RH", "")
    if blood_group and blood_group not in BLOOD_GROUPS:
        row.error("invalid_blood_group", "blood_group", blood_group)
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
    ("sex", _sex),
    ("id_number", _id_number),
    ("phone", _phone),
    ("department", lambda row: _at_most(row, "department", 200)),
    ("rank", lambda row: _at_most(row, "rank", 60)),
    ("blood_group", _blood_group),
    ("prior_donations", _prior_donations),
)


def _validate_row(line: int, cell: Callable[[str], object], today: dt.date,
                  errors: list[RowError], restored_zeros: dict[str, list[int]]) -> Optional[DonorRow]:
    """One row's donor, or None with its errors appended (this row's errors only: linear)."""
    row = _RowCheck(line, cell, today, errors)
    for name, check in ROW_CHECKS:
        row.values[name] = check(row)
    if errors:
        return None
    for name, lines in row.restored.items():
        restored_zeros.setdefault(name, []).extend(lines)
    return DonorRow(line=line, **row.values)
