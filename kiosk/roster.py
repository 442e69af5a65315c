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

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.models import Department, Donor, Drive, Visit, drive_site, utcnow
from kiosk.tokens import new_pass_token

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


def fold_diacritics(text: str) -> str:
    """"Nguyễn Văn Hùng" -> "nguyen van hung", for search."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).lower().split())


def parse_date(value: object) -> Optional[dt.date]:
    """dd/mm/yyyy, d/m/yyyy, yyyy-mm-dd, or a spreadsheet date. Raises ValueError if impossible."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if not text:
        return None
    match = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", text)
    if match:
        day, month, year = (int(g) for g in match.groups())
        return dt.date(year, month, day)
    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})(?:[ T].*)?", text)
    if match:
        year, month, day = (int(g) for g in match.groups())
        return dt.date(year, month, day)
    raise ValueError(text)


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


def import_roster(
    session: Session,
    parsed: ParsedRoster,
    drive: Optional[Drive] = None,
    skip_bad: bool = False,
    progress: Optional[Callable[[int], None]] = None,
) -> ImportResult:
    """Write the parsed rows in the caller's transaction (the caller commits).

    Bulk statements, not one ORM object per row: 10,000 rows take about a second."""
    result = ImportResult(errors=list(parsed.errors))
    if parsed.errors and not skip_bad:
        return result
    result.skipped = len({e.line for e in parsed.errors})
    rows = parsed.rows
    if not rows:
        return result

    departments = _departments_by_name(session, {r.department for r in rows if r.department})
    existing: dict[str, int] = {}
    for chunk in _chunks([r.id_number for r in rows], 5000):
        existing.update(session.execute(
            sa.select(Donor.id_number, Donor.id).where(Donor.id_number.in_(chunk))).all())

    now = utcnow()
    new_donors, updates = [], []
    for row in rows:
        values = {
            "full_name": row.full_name,
            "name_search": fold_diacritics(row.full_name),
            "date_of_birth": row.date_of_birth,
            "sex": row.sex,
            "phone": row.phone,
            "department_id": departments.get(row.department),
            "rank": row.rank,
            "blood_group": row.blood_group,
            "updated_at": now,
        }
        if row.last_donation:
            values["last_donation_date"] = row.last_donation
            values["last_donation_type"] = "whole_blood"
        if row.id_number in existing:
            updates.append({"id": existing[row.id_number], **values})
        else:
            new_donors.append({"id_number": row.id_number, "created_at": now,
                               "last_donation_date": None, "last_donation_type": None, **values})
    for chunk in _chunks(new_donors, 1000):
        session.execute(sa.insert(Donor), chunk)
        if progress:
            progress(len(chunk))
    for chunk in _chunks(updates, 1000):
        session.execute(sa.update(Donor), chunk)
        if progress:
            progress(len(chunk))
    result.created, result.updated = len(new_donors), len(updates)

    if drive is not None:
        result.visits_created = _add_visits(session, drive, [r.id_number for r in rows], departments)
    return result


def _departments_by_name(session: Session, names: set[str]) -> dict[str, int]:
    found = dict(session.execute(sa.select(Department.name, Department.id)).all())
    for name in sorted(names - found.keys()):
        department = Department(name=name)
        session.add(department)
        session.flush()
        found[name] = department.id
    return found


def _add_visits(session: Session, drive: Drive, id_numbers: list[str], departments: dict[str, int]) -> int:
    donor_ids: dict[int, Optional[int]] = {}
    for chunk in _chunks(id_numbers, 5000):
        donor_ids.update(session.execute(
            sa.select(Donor.id, Donor.department_id).where(Donor.id_number.in_(chunk))).all())
    has_visit = set(session.scalars(sa.select(Visit.donor_id).where(Visit.drive_id == drive.id)))
    drive_sites = list(session.scalars(sa.select(drive_site.c.site_id).where(drive_site.c.drive_id == drive.id)))
    default_sites = dict(session.execute(
        sa.select(Department.id, Department.default_site_id).where(Department.default_site_id.in_(drive_sites))).all())
    only_site = drive_sites[0] if len(drive_sites) == 1 else None
    now = utcnow()
    visits = [
        {"drive_id": drive.id, "donor_id": donor_id, "token": new_pass_token(), "status": "registered",
         "registered_via": "roster", "site_id": default_sites.get(department_id, only_site),
         "created_at": now, "version": 1}
        for donor_id, department_id in donor_ids.items() if donor_id not in has_visit
    ]
    for chunk in _chunks(visits, 1000):
        session.execute(sa.insert(Visit), chunk)
    return len(visits)


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
