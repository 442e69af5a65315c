"""Roster files as attackers and unlucky offices send them, for the tests and bench/roster_limits.py."""
from __future__ import annotations

import io
import re
import zipfile

import openpyxl

HEADER = ("Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD")


def xlsx_with_rows(row_xml: str, last_row: int) -> bytes:
    """A small real .xlsx whose first sheet gets extra raw rows (built as the XML, in seconds)."""
    workbook = openpyxl.Workbook()
    workbook.active.append(list(HEADER))
    buffer = io.BytesIO()
    workbook.save(buffer)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb"<dimension [^>]*/>", f'<dimension ref="A1:D{last_row}"/>'.encode(), data)
                data = data.replace(b"</sheetData>", row_xml.encode() + b"</sheetData>")
            target.writestr(item, data)
    return out.getvalue()


def blank_rows_xlsx(count: int) -> bytes:
    return xlsx_with_rows("".join(f'<row r="{n}"/>' for n in range(2, count + 2)), count + 1)


def bad_rows_xlsx(count: int) -> bytes:
    cell = '<c r="A{n}" t="inlineStr"><is><t>x</t></is></c><c r="D{n}" t="inlineStr"><is><t>1</t></is></c>'
    return xlsx_with_rows("".join(f'<row r="{n}">{cell.format(n=n)}</row>' for n in range(2, count + 2)), count + 1)


def bad_rows_csv(count: int) -> bytes:
    return "\n".join([",".join(HEADER)] + [f"Người {i},31/02/1990,X,123" for i in range(count)]).encode()
