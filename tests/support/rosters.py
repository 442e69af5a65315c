"""Roster files as attackers and unlucky offices send them, for the tests and bench/roster_limits.py;
and an office's list as offices really send it (issue 13), with the donors it holds."""
from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
import zipfile

import openpyxl
from openpyxl.styles import Alignment, Font

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


# (STT, name, date of birth, sex, CCCD, phone, unit, rank, position, blood group, donations, note)
# CCCDs and phones as Excel keeps a number: the leading zeros gone.
OFFICE_DONORS = [
    (1, "Lê Hồng Hương", dt.datetime(1986, 9, 3), "Nữ", 77631706690, 743915000, "Phòng Tham mưu", "Đại úy",
     "Phó trưởng phòng", "B+", 3, ""),
    (2, "NGUYỄN CÔNG HÙNG", "22/08/1974", "Nam", 1085023456, 924158683, "Cục Quản lý xuất nhập cảnh",
     "Trung tá", "Đội trưởng", "A+", None, "Đã hiến 03/2025"),
    (3, unicodedata.normalize("NFD", "Trần Thị Ngọc Ánh"), dt.datetime(1995, 1, 30), "nữ", "079195000123",
     "0388360759", unicodedata.normalize("NFD", "Cục Quản lý xuất nhập cảnh"), "Thiếu úy", "", "O+", 0, ""),
    (4, "Phạm Văn Đức", "1990-12-01", "NAM", 1190001234, 388360760, "Phòng Tham mưu", "Thượng úy", "", "AB+",
     12, "Cộng tác viên"),
    (5, "Đỗ Minh Quân", dt.datetime(2000, 2, 29), "Nam", 36200004567, 961234567, "Phòng Tham mưu", "Hạ sĩ",
     "", "", None, ""),
]
OFFICE_DONORS_IMPORTED = {  # id_number -> (name, date of birth, sex, phone, department, prior donations)
    "077631706690": ("Lê Hồng Hương", dt.date(1986, 9, 3), "F", "0743915000", "Phòng Tham mưu", 3),
    "001085023456": ("Nguyễn Công Hùng", dt.date(1974, 8, 22), "M", "0924158683", "Cục Quản lý xuất nhập cảnh", 0),
    "079195000123": ("Trần Thị Ngọc Ánh", dt.date(1995, 1, 30), "F", "0388360759", "Cục Quản lý xuất nhập cảnh", 0),
    "001190001234": ("Phạm Văn Đức", dt.date(1990, 12, 1), "M", "0388360760", "Phòng Tham mưu", 12),
    "036200004567": ("Đỗ Minh Quân", dt.date(2000, 2, 29), "M", "0961234567", "Phòng Tham mưu", 0),
}
OFFICE_HEADER = ["STT", "Họ và tên", "Ngày, tháng, năm sinh", "Giới tính", "Số CCCD/CMND", "SĐT", "Đơn vị",
          "Cấp bậc", "Chức vụ", "Nhóm máu", "Số lần hiến", "Ghi chú"]


def office_workbook() -> bytes:
    """A unit's list as it arrives: unit and motto in merged cells, a title, a note, the header
    on row 7, the donors, a total, a place and date, the signature block."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "DS hiến máu"
    sheet["A1"], sheet["G1"] = "BỘ CÔNG AN", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
    sheet["A2"], sheet["G2"] = "CỤC QUẢN LÝ XUẤT NHẬP CẢNH", "Độc lập - Tự do - Hạnh phúc"
    sheet.merge_cells("A1:E1"), sheet.merge_cells("G1:L1"), sheet.merge_cells("A2:E2"), sheet.merge_cells("G2:L2")
    sheet["A4"] = "DANH SÁCH CÁN BỘ, CHIẾN SĨ ĐĂNG KÝ HIẾN MÁU TÌNH NGUYỆN NĂM 2026"
    sheet.merge_cells("A4:L4")
    sheet["A5"] = "(Kèm theo Công văn số 123/CV-XNC ngày 01/11/2026)"
    sheet.merge_cells("A5:L5")
    sheet["A6"] = "Lưu ý: mỗi đồng chí mang theo CCCD khi đến điểm hiến máu."
    for cell in ("A1", "G1", "A4"):
        sheet[cell].font = Font(bold=True)
        sheet[cell].alignment = Alignment(horizontal="center")
    for column, title in enumerate(OFFICE_HEADER, start=1):
        sheet.cell(row=7, column=column, value=title).font = Font(bold=True)
    for offset, donor in enumerate(OFFICE_DONORS):
        for column, value in enumerate(donor, start=1):
            if value is not None:
                sheet.cell(row=8 + offset, column=column, value=value)
    end = 8 + len(OFFICE_DONORS)
    sheet.cell(row=end, column=1, value="Tổng cộng: 5 đồng chí")
    sheet.merge_cells(start_row=end, start_column=1, end_row=end, end_column=4)
    sheet.cell(row=end + 2, column=8, value="Hà Nội, ngày 10 tháng 11 năm 2026")
    sheet.cell(row=end + 3, column=2, value="NGƯỜI LẬP BIỂU")
    sheet.cell(row=end + 3, column=8, value="THỦ TRƯỞNG ĐƠN VỊ")
    sheet.cell(row=end + 4, column=2, value="(Ký, ghi rõ họ tên)")
    sheet.cell(row=end + 4, column=8, value="(Ký tên, đóng dấu)")
    sheet.cell(row=end + 8, column=2, value="Nguyễn Văn Lập")
    sheet.cell(row=end + 8, column=8, value="Trần Văn Trưởng")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# Issue 22: an office's list with no "Giới tính" (the CCCD says it), blood groups without Rh, and a
# signature block whose lines sit under the ID column too.
SECOND_OFFICE_DONORS = (
    # STT, name, born, CCCD (its 4th digit: 1 a woman of the 1900s, 0 a man, 2 a man of the 2000s), phone,
    # department, rank, blood group
    (1, "Vũ Thị Hoa", "12/04/1991", "001191004321", "0912000111", "Phòng Hậu cần", "Thượng úy", "A"),
    (2, "Bùi Văn Nam", dt.datetime(1985, 6, 1), "001085004322", "0912000112", "Phòng Hậu cần", "Thiếu tá", "B"),
    (3, "Lý Minh Khôi", "03/03/2001", "001201004323", "0912000113", "Phòng Hậu cần", "Hạ sĩ", "O+"),
)
SECOND_OFFICE_SEX = ("F", "M", "M")


def second_office_workbook(sex_column: tuple[str, ...] = ()) -> bytes:
    """Title rows, the header on row 7, three donors, "Tổng cộng", a note, the place and date, and
    "NGƯỜI LẬP BIỂU" / a rank / a name under the ID column (D) and under column G. With
    `sex_column`, a "Giới tính" column holding those words (after "Ngày sinh")."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet["A1"], sheet["F1"] = "CÔNG AN TỈNH BẮC NINH", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
    sheet["A2"], sheet["F2"] = "PHÒNG HẬU CẦN", "Độc lập - Tự do - Hạnh phúc"
    sheet.merge_cells("A1:C1"), sheet.merge_cells("F1:H1")
    sheet["A4"] = "DANH SÁCH ĐĂNG KÝ HIẾN MÁU TÌNH NGUYỆN"
    sheet.merge_cells("A4:H4")
    sheet["A5"] = "(Kèm theo Kế hoạch số 45/KH-PH10)"
    header = ["STT", "Họ và tên", "Ngày sinh", "Số CCCD", "Số điện thoại", "Đơn vị", "Cấp bậc", "Nhóm máu"]
    donors = [list(donor) for donor in SECOND_OFFICE_DONORS]
    if sex_column:
        header.insert(3, "Giới tính")
        for donor, sex in zip(donors, sex_column):
            donor.insert(3, sex)
    for column, title in enumerate(header, start=1):
        sheet.cell(row=7, column=column, value=title).font = Font(bold=True)
    for offset, donor in enumerate(donors):
        for column, value in enumerate(donor, start=1):
            sheet.cell(row=8 + offset, column=column, value=value)
    id_column = header.index("Số CCCD") + 1
    sheet.cell(row=11, column=1, value="Tổng cộng: 3 đồng chí")
    sheet.cell(row=12, column=2, value="Danh sách gồm 3 đồng chí, đã được thủ trưởng đơn vị duyệt.")
    sheet.cell(row=14, column=6, value="Bắc Ninh, ngày 20 tháng 11 năm 2026")
    for row, text in ((15, "NGƯỜI LẬP BIỂU"), (16, "Đại úy"), (19, "Phạm Văn Lập")):
        sheet.cell(row=row, column=id_column, value=text)
    for row, text in ((15, "TRƯỞNG PHÒNG"), (16, "Thượng tá"), (19, "Nguyễn Văn Trưởng")):
        sheet.cell(row=row, column=7, value=text)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
