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

from kiosk.inputs import clean_text, fold_diacritics
from kiosk.roster.rows import (ABO_ONLY, BLOOD_GROUPS, CCCD_WITHOUT_ZEROS, ID_NUMBER, MAX_NAME,  # noqa: F401 (API)
                               MAX_PRIOR_DONATIONS, MOBILE_WITHOUT_ZERO, PHONE, SEX_VALUES, DonorRow, RowError,
                               _text, _validate_row, sex_from_id_number)
from kiosk.roster.reader import MAX_COLUMNS, RosterFormatError, Table, read_table  # noqa: F401 (the parser's API)

FIELDS = ("full_name", "date_of_birth", "sex", "id_number", "phone", "department", "rank",
          "blood_group", "last_donation", "prior_donations")
# Read when the file has them, not in the template: the site a donor donates at.
EXTRA_FIELDS = ("site",)
# No "Giới tính": the 12-digit CCCD says the sex (kiosk.roster.parser.sex_from_id_number).
REQUIRED = ("full_name", "date_of_birth", "id_number")

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
    "site": ("diem hien", "diem hien mau", "dia diem", "dia diem hien", "dia diem hien mau", "noi hien",
             "noi hien mau", "site"),
}
HEADER_ALIASES = {variant: name for name, variants in HEADER_VARIANTS.items() for variant in variants}
# The words the console's template and messages use for each column.
CANONICAL_HEADERS = {"full_name": "Họ và tên", "date_of_birth": "Ngày sinh", "sex": "Giới tính",
                     "id_number": "Số CCCD", "phone": "Số điện thoại", "department": "Đơn vị", "rank": "Cấp bậc",
                     "blood_group": "Nhóm máu", "last_donation": "Lần hiến gần nhất",
                     "prior_donations": "Số lần hiến", "site": "Điểm hiến"}
# The start of a line that ends the list: totals, then the signature block.
FOOTER_STARTS = ("tong cong", "tong so", "cong ", "nguoi lap", "thu truong", "chi huy", "xac nhan", "ky ten",
                 "ky ghi ro", "ky va ghi ro", "giam doc", "truong phong", "lanh dao")
FOOTER_EXACT = ("cong", "tong")
FOOTER_PLACE_DATE = re.compile(r"(^|\s)ngay\s+\S*\s*thang\s+\S*\s*nam\b")


HEADER_SEARCH_ROWS = 30  # the header is looked for in the first rows only
MAX_ROWS = 20_000  # donors in one file: a whole campaign's list fits
MAX_BLANK_RUN = 1_000  # so many blank rows in a row: the list has ended (a sheet formatted to row 1,048,576)
TIME_BUDGET_SECONDS = 20.0  # well under gunicorn's 60 s timeout


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
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line, its text): totals, notes, signatures
    sex_disagrees: list[int] = field(default_factory=list)  # lines whose sex column contradicts the CCCD

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

    seen_ids: dict[str, int] = {}
    pending: list[tuple[int, list[object]]] = []  # rows that are not donors, unless a donor follows
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
        if _is_footer(cells) and not _looks_like_a_donor(cells, columns):
            # Totals, a place and date, a signature block: never a donor, in whichever column.
            parsed.footer_line = parsed.footer_line or line
            _skip(parsed, line, cells)
            continue
        if not any(_text(cells[i]) for i in data_columns if i < len(cells)):
            continue  # a pre-numbered STT with nothing else
        if not _looks_like_a_donor(cells, columns):
            # No ID number and no date of birth: a note, a rank or a name under a signature. Skipped
            # if it is after the last donor; a line like it between donors is a donor with gaps.
            pending.append((line, cells))
            if data_lines + len(pending) > MAX_ROWS:
                raise RosterFormatError("too_many_rows", str(MAX_ROWS))
            continue
        for held_line, held_cells in pending:
            data_lines = _validate_line(parsed, held_line, held_cells, columns, today, seen_ids, data_lines)
        pending.clear()
        data_lines = _validate_line(parsed, line, cells, columns, today, seen_ids, data_lines)
    for held_line, held_cells in pending:
        _skip(parsed, held_line, held_cells)
    if pending and parsed.footer_line is None:
        parsed.footer_line = pending[0][0]
    parsed.skipped.sort()
    return parsed


def _skip(parsed: ParsedRoster, line: int, cells: list[object]) -> None:
    parsed.skipped.append((line, " ".join(_text(cell) for cell in cells if _text(cell))[:120]))


def _looks_like_a_donor(cells: list[object], columns: dict[str, int]) -> bool:
    """Has the row a digit where the ID number or the date of birth goes?"""
    def cell(name: str) -> str:
        index = columns.get(name)
        return _text(cells[index]) if index is not None and index < len(cells) else ""

    return bool(re.search(r"\d", cell("id_number"))) or bool(re.search(r"\d", cell("date_of_birth")))


def _validate_line(parsed: ParsedRoster, line: int, cells: list[object], columns: dict[str, int], today: dt.date,
                   seen_ids: dict[str, int], data_lines: int) -> int:
    """Validate one donor's line into `parsed` (its row or its errors). Returns the lines so far."""
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
        return data_lines
    if row.id_number in seen_ids:
        parsed.errors.append(RowError(line, "duplicate_id_in_file", "id_number", str(seen_ids[row.id_number])))
        return data_lines
    if row.sex_from_id_number is None:  # a sex column that contradicts the CCCD: kept as written, shown
        parsed.sex_disagrees.append(line)
        row.sex_from_id_number = False
    seen_ids[row.id_number] = line
    parsed.rows.append(row)
    return data_lines


