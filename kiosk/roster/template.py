"""The roster template the console offers to offices: an .xlsx built on the fly with the columns
the import reads, the number columns typed as text (so Excel keeps a CCCD's leading 0) and one
example row to overwrite. Plain module: no Flask."""
from __future__ import annotations

import datetime as dt
import io

from kiosk.roster.parser import CANONICAL_HEADERS, FIELDS

TEMPLATE_FILENAME = "mau-danh-sach-hien-mau.xlsx"
TEXT_COLUMNS = ("id_number", "phone")
EXAMPLE = {"full_name": "Nguyễn Văn An", "date_of_birth": dt.date(1990, 5, 17), "sex": "Nam",
           "id_number": "001090012345", "phone": "0912345678", "department": "Phòng Tham mưu",
           "rank": "Đại úy", "blood_group": "O+", "last_donation": None, "prior_donations": 2}
WIDTHS = {"full_name": 28, "department": 30, "last_donation": 18}


def template_workbook() -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Danh sách"
    sheet.append([CANONICAL_HEADERS[name] for name in FIELDS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.append([EXAMPLE[name] for name in FIELDS])
    for index, name in enumerate(FIELDS, start=1):
        letter = sheet.cell(row=1, column=index).column_letter
        sheet.column_dimensions[letter].width = WIDTHS.get(name, max(14, len(CANONICAL_HEADERS[name]) + 2))
        if name in TEXT_COLUMNS:
            # Text, not numbers, down to the last row: what the office types keeps its 0.
            for row in range(2, 1001):
                sheet.cell(row=row, column=index).number_format = "@"
        elif name in ("date_of_birth", "last_donation"):
            for row in range(2, 1001):
                sheet.cell(row=row, column=index).number_format = "DD/MM/YYYY"
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
