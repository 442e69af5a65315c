"""Roster import: a CSV or .xlsx of donors, Vietnamese or English headers, into a drive.

Every row is validated before anything is written; with any bad row nothing is imported
unless the caller asks to skip bad rows. Returning donors are matched by ID number and
updated. Plain module: no Flask, so it runs from the CLI, the admin page and the tests alike.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Iterable, Iterator, Optional

from kiosk.inputs import parse_date



FIELDS = ("full_name", "date_of_birth", "sex", "id_number", "phone", "department", "rank",
          "blood_group", "last_donation")
REQUIRED = ("full_name", "date_of_birth", "sex", "id_number")

HEADER_ALIASES = {
    "họ và tên": "full_name", "họ tên": "full_name", "full_name": "full_name", "full name": "full_name",
    "ngày sinh": "date_of_birth", "date_of_birth": "date_of_birth", "date of birth": "date_of_birth",
    "giới tính": "sex", "sex": "sex", "gender": "sex",
    "số cccd": "id_number", "cccd": "id_number", "id_number": "id_number", "id number": "id_number",
    "số điện thoại": "phone", "điện thoại": "phone", "phone": "phone",
    "đơn vị": "department", "department": "department",
    "cấp bậc": "rank", "rank": "rank",
    "nhóm máu": "blood_group", "blood_group": "blood_group", "blood group": "blood_group",
    "lần hiến gần nhất": "last_donation", "last_donation": "last_donation", "last donation": "last_donation",
}
SEX_VALUES = {"nam": "M", "nữ": "F", "nu": "F", "m": "M", "f": "F", "male": "M", "female": "F"}
BLOOD_GROUPS = {"A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"}
ID_NUMBER = re.compile(r"^\d{12}$")
PHONE = re.compile(r"^0\d{9}$")
MAX_NAME = 120


@dataclass(frozen=True)
class RowError:
    line: int  # the line in the file (the header is line 1)
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


@dataclass
class ParsedRoster:
    rows: list[DonorRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    visits_created: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def imported(self) -> bool:
        return self.created + self.updated > 0 or not self.errors


class RosterFormatError(ValueError):
    """The file as a whole cannot be read: wrong type, no header, a required column missing."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(code)
        self.code = code
        self.detail = detail


def read_table(filename: str, stream: IO[bytes]) -> Iterator[tuple[int, list[object]]]:
    """Yield (line number, cells) from a CSV or .xlsx, the header first."""
    suffix = Path(filename).suffix.lower()
    if suffix == ".xlsx":
        yield from _read_xlsx(stream)
    elif suffix in (".csv", ".txt"):
        yield from _read_csv(stream)
    else:
        raise RosterFormatError("unsupported_file_type", suffix)


def _read_csv(stream: IO[bytes]) -> Iterator[tuple[int, list[object]]]:
    raw = stream.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise RosterFormatError("not_utf8") from error
    dialect: type[csv.Dialect] | csv.Dialect = csv.excel
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        pass
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    line = 1
    for cells in reader:
        yield line, list(cells)
        line = reader.line_num + 1


def _read_xlsx(stream: IO[bytes]) -> Iterator[tuple[int, list[object]]]:
    import openpyxl  # imported here: only spreadsheets need it
    from openpyxl.utils.exceptions import InvalidFileException
    from zipfile import BadZipFile

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(stream.read()), read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, KeyError, OSError) as error:
        raise RosterFormatError("not_xlsx") from error
    try:
        sheet = workbook.worksheets[0]
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, ["" if cell is None else cell for cell in row]
    finally:
        workbook.close()


def parse_roster(table: Iterable[tuple[int, list[object]]], today: dt.date) -> ParsedRoster:
    rows = iter(table)
    try:
        _, header = next(rows)
    except StopIteration as error:
        raise RosterFormatError("empty_file") from error
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        key = HEADER_ALIASES.get(" ".join(str(name).strip().lstrip("\ufeff").lower().split()))
        if key and key not in columns:
            columns[key] = index
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise RosterFormatError("missing_columns", ", ".join(missing))

    parsed = ParsedRoster()
    seen_ids: dict[str, int] = {}
    for line, cells in rows:
        if not any(str(c).strip() for c in cells):
            continue  # blank lines, common at the end of spreadsheets

        def cell(name: str) -> object:
            index = columns.get(name)
            if index is None or index >= len(cells):
                return ""
            value = cells[index]
            return value.strip() if isinstance(value, str) else value

        errors_before = len(parsed.errors)
        row = _validate_row(line, cell, today, parsed.errors)
        if row is None or len(parsed.errors) > errors_before:
            continue
        if row.id_number in seen_ids:
            parsed.errors.append(RowError(line, "duplicate_id_in_file", "id_number", str(seen_ids[row.id_number])))
            continue
        seen_ids[row.id_number] = line
        parsed.rows.append(row)
    return parsed


def _text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).replace("\x00", "").strip()


def _validate_row(line: int, cell: Callable[[str], object], today: dt.date,
                  errors: list[RowError]) -> Optional[DonorRow]:
    def error(code: str, name: str, value: object = "") -> None:
        errors.append(RowError(line, code, name, _text(value)[:60]))

    full_name = " ".join(unicodedata.normalize("NFC", _text(cell("full_name"))).split())
    if not full_name:
        error("required", "full_name")
    elif len(full_name) > MAX_NAME or any(ch.isdigit() for ch in full_name):
        error("invalid_name", "full_name", full_name)

    dates: dict[str, Optional[dt.date]] = {}
    for name in ("date_of_birth", "last_donation"):
        raw = cell(name)
        try:
            dates[name] = parse_date(raw)
        except ValueError:
            error("invalid_date", name, raw)
            dates[name] = None
            continue
        if dates[name] and dates[name] > today:
            error("date_in_future", name, raw)
    date_of_birth = dates["date_of_birth"]
    if date_of_birth is None and not any(e.field == "date_of_birth" for e in errors if e.line == line):
        error("required", "date_of_birth")
    elif date_of_birth and date_of_birth.year < 1900:
        error("invalid_date", "date_of_birth", cell("date_of_birth"))

    sex = SEX_VALUES.get(_text(cell("sex")).lower())
    if sex is None:
        error("invalid_sex", "sex", cell("sex"))

    id_number = _text(cell("id_number")).replace(" ", "")
    if not ID_NUMBER.match(id_number):
        error("invalid_id_number", "id_number", id_number)

    phone = _text(cell("phone")).replace(" ", "").replace(".", "")
    if phone.startswith("+84"):
        phone = "0" + phone[3:]
    if phone and not PHONE.match(phone):
        error("invalid_phone", "phone", phone)

    department = " ".join(_text(cell("department")).split())
    rank = " ".join(_text(cell("rank")).split())
    if len(department) > 200:
        error("too_long", "department")
    if len(rank) > 60:
        error("too_long", "rank")
    blood_group = _text(cell("blood_group")).upper().replace(" ", "")
    if blood_group and blood_group not in BLOOD_GROUPS:
        error("invalid_blood_group", "blood_group", blood_group)

    if any(e.line == line for e in errors):
        return None
    assert date_of_birth is not None and sex is not None
    return DonorRow(line, full_name, date_of_birth, sex, id_number, phone, department, rank,
                    blood_group, dates["last_donation"])
