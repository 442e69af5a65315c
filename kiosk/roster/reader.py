"""Reading a roster file: the bytes an office sends, as lines of cells, bounded.

CSV in UTF-8 (with or without Excel's byte-order mark), UTF-16 with a byte-order mark, or
Windows-1258 when the text reads as Vietnamese; .xlsx with its unzipped size checked before
openpyxl opens it (a zip bomb is refused, not unpacked). kiosk.roster.parser finds the header
and validates the rows. Plain module: no Flask.
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Iterator

MAX_COLUMNS = 60
MAX_XLSX_UNZIPPED = 64 * 1024 * 1024  # a zip bomb is refused before openpyxl opens it
MAX_CSV_FIELD = 4_096  # longer cells are refused by the csv module, not read into memory first


class RosterFormatError(ValueError):
    """The file as a whole cannot be read: wrong type, no header, a required column missing, too big."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(code)
        self.code = code
        self.detail = detail


@dataclass
class Table:
    """The cells of a file, line by line, and how its text was decoded."""
    lines: Iterable[tuple[int, list[object]]]
    encoding: str = "utf-8"

    def __iter__(self) -> Iterator[tuple[int, list[object]]]:
        return iter(self.lines)


def read_table(filename: str, stream: IO[bytes]) -> Table:
    """The lines of a CSV or .xlsx as (line number, cells), the first line 1."""
    suffix = Path(filename).suffix.lower()
    if suffix == ".xlsx":
        return Table(_read_xlsx(stream))
    if suffix in (".csv", ".txt"):
        text, encoding = decode_csv(stream.read())
        return Table(_read_csv(text), encoding)
    raise RosterFormatError("unsupported_file_type", suffix)


def decode_csv(raw: bytes) -> tuple[str, str]:
    """The text of a CSV and the encoding it was in: UTF-8 (with or without a BOM), UTF-16 with
    a BOM (Excel's "Unicode text"), or Windows-1258 (Vietnamese Windows' own code page)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as error:
            raise RosterFormatError("not_utf8") from error
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as error:
        try:
            text = raw.decode("cp1258")
        except UnicodeDecodeError:
            raise RosterFormatError("not_utf8") from error
        # Windows-1258 writes Vietnamese with its own letters (ă đ ơ ư) and combining tone marks;
        # text without them is some other code page, which we do not guess.
        if not re.search("[\u0300\u0301\u0303\u0309\u0323ăđơưĂĐƠƯ]", text):
            raise RosterFormatError("not_utf8") from error
        return unicodedata.normalize("NFC", text), "windows-1258"


def _read_csv(text: str) -> Iterator[tuple[int, list[object]]]:
    dialect: type[csv.Dialect] | csv.Dialect = csv.excel
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        pass
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    line = 1
    previous_limit = csv.field_size_limit(MAX_CSV_FIELD)
    try:
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:  # a field over the limit, a stray quote at the end
                raise RosterFormatError("unreadable_csv", str(line)) from error
            yield line, list(cells[:MAX_COLUMNS])
            line = reader.line_num + 1
    finally:
        csv.field_size_limit(previous_limit)


# A DTD is what both entity attacks need (a billion laughs, an external file); no spreadsheet
# program writes one, so any member declaring one refuses the file before openpyxl parses it.
DTD_MARKERS = tuple(marker.encode(encoding) for marker in ("<!DOCTYPE", "<!ENTITY")
                    for encoding in ("utf-8", "utf-16-le", "utf-16-be"))
SCAN_CHUNK = 1024 * 1024


def check_xlsx(data: bytes) -> None:
    """Refuse an .xlsx whose members unzip to more than MAX_XLSX_UNZIPPED bytes, or whose XML
    declares a DTD or an entity, before parsing."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total = sum(member.file_size for member in archive.infolist())
            if total > MAX_XLSX_UNZIPPED:
                raise RosterFormatError("too_big_unzipped", str(MAX_XLSX_UNZIPPED // (1024 * 1024)))
            for member in archive.infolist():
                if _declares_a_dtd(archive, member):
                    raise RosterFormatError("xlsx_dtd")
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as error:
        if isinstance(error, RosterFormatError):
            raise
        raise RosterFormatError("not_xlsx") from error


def _declares_a_dtd(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bool:
    """Whether the member holds "<!DOCTYPE" or "<!ENTITY" anywhere (read in chunks, the chunks
    overlapping so a marker across two is found), case-insensitively."""
    overlap = max(len(marker) for marker in DTD_MARKERS)
    tail = b""
    with archive.open(member) as stream:
        while chunk := stream.read(SCAN_CHUNK):
            window = (tail + chunk).upper()
            if any(marker in window for marker in DTD_MARKERS):
                return True
            tail = window[-overlap:]
    return False


def _read_xlsx(stream: IO[bytes]) -> Iterator[tuple[int, list[object]]]:
    import openpyxl  # imported here: only spreadsheets need it

    data = stream.read()
    check_xlsx(data)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001 - whatever a broken file makes openpyxl raise: a message, not a 500
        raise RosterFormatError("not_xlsx") from error
    try:
        sheet = workbook.worksheets[0]
        # Merged cells keep their value in the first cell, the rest read as empty: a merged
        # title row is just a row with one value.
        rows = enumerate(sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS), start=1)
        while True:
            try:
                number, row = next(rows)
            except StopIteration:
                return
            except Exception as error:  # noqa: BLE001 - truncated or malformed XML in the sheet itself
                raise RosterFormatError("not_xlsx") from error
            yield number, ["" if cell is None else cell for cell in row]
    finally:
        workbook.close()
