"""Rosters as offices really send them (issue 13) and uploads bounded (issue 12.7): title rows and
merged cells above a header on row 7, STT / Chức vụ / Ghi chú columns, numbers that lost their
leading 0, a footer and a signature block; UTF-16 and Windows-1258 CSVs; a zip bomb, a million
blank rows, 100,000 bad rows, a 131,072-character cell."""
from __future__ import annotations

import datetime as dt
import io
import re
import time
import unicodedata
import zipfile

import openpyxl
import pytest
import sqlalchemy as sa
from openpyxl.styles import Alignment, Font

from kiosk.extensions import db
from kiosk.models import Department, Donor, Drive, Visit
from kiosk.roster.importer import import_roster, preview_summary
from kiosk.roster.messages import describe_format_error, describe_notes, describe_row_error
from kiosk.roster.parser import MAX_ROWS, RosterFormatError, parse_roster, read_table
from kiosk.roster.uploads import parse_upload
from tests.support.rosters import bad_rows_csv, bad_rows_xlsx, blank_rows_xlsx

TODAY = dt.date(2026, 11, 21)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

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
EXPECTED = {  # id_number -> (name, date of birth, sex, phone, department, prior donations)
    "077631706690": ("Lê Hồng Hương", dt.date(1986, 9, 3), "F", "0743915000", "Phòng Tham mưu", 3),
    "001085023456": ("Nguyễn Công Hùng", dt.date(1974, 8, 22), "M", "0924158683", "Cục Quản lý xuất nhập cảnh", 0),
    "079195000123": ("Trần Thị Ngọc Ánh", dt.date(1995, 1, 30), "F", "0388360759", "Cục Quản lý xuất nhập cảnh", 0),
    "001190001234": ("Phạm Văn Đức", dt.date(1990, 12, 1), "M", "0388360760", "Phòng Tham mưu", 12),
    "036200004567": ("Đỗ Minh Quân", dt.date(2000, 2, 29), "M", "0961234567", "Phòng Tham mưu", 0),
}
HEADER = ["STT", "Họ và tên", "Ngày, tháng, năm sinh", "Giới tính", "Số CCCD/CMND", "SĐT", "Đơn vị",
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
    for column, title in enumerate(HEADER, start=1):
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


def parse_bytes(name: str, data: bytes, **kwargs):
    return parse_roster(read_table(name, io.BytesIO(data)), TODAY, **kwargs)


def test_an_office_list_imports_with_every_donor_right(app_ctx):
    db.session.add(Department(name="Cục Quản lý xuất nhập cảnh"))
    drive = Drive(name="Đợt 3", drive_date=TODAY)
    db.session.add(drive)
    db.session.flush()
    parsed = parse_bytes("danh-sach-don-vi.xlsx", office_workbook())
    assert parsed.errors == []
    assert parsed.header_line == 7 and parsed.footer_line == 13
    assert parsed.ignored_columns == ["STT", "Chức vụ", "Ghi chú"]
    assert parsed.headers["id_number"] == "Số CCCD/CMND" and parsed.headers["phone"] == "SĐT"
    assert parsed.restored_zeros == {"id_number": [8, 9, 11, 12], "phone": [8, 9, 11, 12]}
    assert preview_summary(db.session, parsed)["new_departments"] == ["Phòng Tham mưu"]

    result = import_roster(db.session, parsed, drive=drive)
    db.session.commit()
    assert (result.created, result.visits_created) == (5, 5)
    donors = {d.id_number: d for d in db.session.scalars(sa.select(Donor))}
    assert set(donors) == set(EXPECTED)
    for id_number, (name, born, sex, phone, department, prior) in EXPECTED.items():
        donor = donors[id_number]
        assert (donor.full_name, donor.date_of_birth, donor.sex, donor.phone, donor.department.name,
                donor.prior_donations) == (name, born, sex, phone, department, prior), id_number
        assert unicodedata.is_normalized("NFC", donor.full_name)
    # The NFD "Cục Quản lý xuất nhập cảnh" is the department already there, not a second one.
    assert sorted(db.session.scalars(sa.select(Department.name))) == ["Cục Quản lý xuất nhập cảnh", "Phòng Tham mưu"]
    assert db.session.scalar(sa.select(sa.func.count(Visit.id))) == 5


def test_the_preview_notes_say_what_was_left_out_and_put_back(app):
    with app.test_request_context(headers={"Cookie": "lang=vi"}):
        parsed = parse_bytes("danh-sach.xlsx", office_workbook())
        notes = "\n".join(describe_notes(parsed))
    assert "“STT”, “Chức vụ”, “Ghi chú”" in notes
    assert "“Số CCCD/CMND”" in notes and "“SĐT”" in notes and "8, 9, 11, 12" in notes
    assert "13" in notes


def test_messages_name_the_column_as_the_file_names_it(app):
    text = "\n".join(["Danh sách", "", "STT,Họ tên,Năm sinh,Phái,Số định danh,Điện thoại",
                      "1,Trần Văn Tám,1990,Nam,12345,0912345678"])
    parsed = parse_bytes("r.csv", text.encode())
    assert [(e.code, e.field) for e in parsed.errors] == [("year_only", "date_of_birth"),
                                                          ("invalid_id_number", "id_number")]
    with app.test_request_context():
        messages = [describe_row_error(e, parsed.headers) for e in parsed.errors]
        assert "“Năm sinh”" in messages[0] and "“Số định danh”" in messages[1]
        assert not any(re.search(r"date_of_birth|id_number|full_name", m) for m in messages)
        with pytest.raises(RosterFormatError) as raised:
            parse_bytes("r.csv", "Tên,Tuổi\nA,3\n".encode())
        message = describe_format_error(raised.value)
    assert raised.value.code == "missing_columns"
    assert not re.search(r"full_name|date_of_birth|id_number|\bsex\b", message)


def test_a_csv_saved_by_excel_says_why_an_11_digit_id_is_refused(app):
    parsed = parse_bytes("r.csv", "Họ và tên,Ngày sinh,Giới tính,Số CCCD\nA B,01/01/1990,Nam,77631706690\n".encode())
    with app.test_request_context():
        message = describe_row_error(parsed.errors[0], parsed.headers)
    assert parsed.errors[0].code == "invalid_id_number" and "Excel" in message and "“Số CCCD”" in message


def test_headers_in_nfd_and_other_variants_are_recognised():
    header = unicodedata.normalize("NFD", "Họ và tên;Ngày sinh;Giới tính;Số CCCD;Số điện thoại;Đơn vị")
    parsed = parse_bytes("r.csv", (header + "\nTrần Thị Lan;04/03/1992;Nữ;001192000002;0912 345 678;Cục A\n").encode())
    assert parsed.errors == [] and parsed.rows[0].phone == "0912345678"


def test_utf16_with_a_bom_and_windows_1258_are_read():
    text = "Họ và tên,Ngày sinh,Giới tính,Số CCCD,Đơn vị\nNguyễn Thị Ưng,01/02/1990,Nữ,001190000001,Phòng Hậu cần\n"
    for encoding in ("utf-16", "utf-16-be"):
        data = text.encode(encoding)
        if encoding == "utf-16-be":
            data = b"\xfe\xff" + data
        parsed = parse_bytes("r.csv", data)
        assert parsed.errors == [] and parsed.rows[0].full_name == "Nguyễn Thị Ưng" and parsed.encoding == "utf-16"
    parsed = parse_bytes("r.csv", to_windows_1258(text))
    assert parsed.encoding == "windows-1258" and parsed.errors == []
    assert (parsed.rows[0].full_name, parsed.rows[0].department) == ("Nguyễn Thị Ưng", "Phòng Hậu cần")


def to_windows_1258(text: str) -> bytes:
    """Text as Vietnamese Windows saves it: base letters (â ê ô ơ ư ă đ) with tone marks apart."""
    out = bytearray()
    for char in text:
        try:
            out += char.encode("cp1258")
        except UnicodeEncodeError:
            decomposed = unicodedata.normalize("NFD", char)
            shape = "".join(m for m in decomposed[1:] if m in "\u0302\u0306\u031b")  # â ă ơ: one letter
            tones = "".join(m for m in decomposed[1:] if m not in shape)
            out += unicodedata.normalize("NFC", decomposed[0] + shape).encode("cp1258") + tones.encode("cp1258")
    return bytes(out)


def test_an_unknown_encoding_is_refused_by_name(app):
    with pytest.raises(RosterFormatError) as raised:
        parse_bytes("r.csv", b"H\xe4 v\xe0 t\xean,Ng\xe0y sinh\n")
    with app.test_request_context():
        message = describe_format_error(raised.value)
    assert raised.value.code == "not_utf8" and "Windows-1258" in message and "UTF-16" in message


# ---------------------------------------------------------------- bounded uploads (issue 12.7)

def test_20000_bad_rows_are_checked_in_linear_time():
    # Every bad row's errors, all collected (the time it takes is bench/roster_limits.py's: it was
    # quadratic, 10k bad rows 19 s and 20k 97 s on this machine).
    parsed = parse_bytes("r.csv", bad_rows_csv(MAX_ROWS))
    assert len(parsed.errors) == 4 * MAX_ROWS


def test_more_rows_than_the_cap_are_refused_with_a_message(app):
    lines = ["Họ và tên,Ngày sinh,Giới tính,Số CCCD"] + ["A B,01/01/1990,Nam,x"] * (MAX_ROWS + 1)
    with pytest.raises(RosterFormatError) as raised:
        parse_bytes("r.csv", "\n".join(lines).encode())
    with app.test_request_context():
        assert raised.value.code == "too_many_rows" and "20.000" in describe_format_error(raised.value)


def test_a_million_blank_rows_end_the_list_quickly():
    data = blank_rows_xlsx(1_000_000)
    assert len(data) < 3_000_000
    parsed = parse_bytes("r.xlsx", data)
    assert parsed.rows == [] and parsed.errors == []


def test_100000_bad_rows_in_a_small_xlsx_are_refused_at_the_cap():
    data = bad_rows_xlsx(100_000)
    with pytest.raises(RosterFormatError, match="too_many_rows"):
        parse_bytes("r.xlsx", data)


def test_a_zip_bomb_is_refused_before_it_is_opened():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"<row/>" * (20 * 1024 * 1024))
    assert len(buffer.getvalue()) < 1_000_000
    with pytest.raises(RosterFormatError, match="too_big_unzipped"):
        parse_bytes("r.xlsx", buffer.getvalue())


def test_a_file_over_its_time_budget_is_refused():
    text = "Họ và tên,Ngày sinh,Giới tính,Số CCCD\n" + "A B,01/01/1990,Nam,001190000001\n"
    with pytest.raises(RosterFormatError, match="too_slow"):
        parse_bytes("r.csv", text.encode(), deadline=time.monotonic() - 1)


def test_a_cell_over_131072_characters_is_a_message_not_a_500(client, auth, demo):
    auth.as_organiser()
    page = client.get("/admin/drives").get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    body = ("Họ và tên,Ngày sinh,Giới tính,Số CCCD\n\"" + "A" * 140_000 + "\",01/01/1990,Nam,001190000001\n").encode()
    with pytest.raises(RosterFormatError, match="unreadable_csv"):
        parse_upload("r.csv", body, TODAY)
    response = client.post(f"/admin/drives/{demo['drive_id']}/roster",
                           data={"csrf_token": csrf, "roster": (io.BytesIO(body), "danh-sach.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and 'id="roster-format-error"' in response.get_data(as_text=True)


def test_the_confirm_step_imports_what_was_checked_without_reading_the_file_again(client, auth, demo, app):
    from pathlib import Path

    auth.as_organiser()
    page = client.get("/admin/drives").get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    d = demo["drive_id"]
    response = client.post(f"/admin/drives/{d}/roster",
                           data={"csrf_token": csrf, "roster": (io.BytesIO(office_workbook()), "don-vi.xlsx")},
                           content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="roster-good">5<' in page and "“Chức vụ”" in page
    upload_id = re.search(r'name="upload_id" type="hidden" value="([^"]+)"', page).group(1)
    # The file itself spoiled after the check: the confirm step uses the rows it checked.
    (Path(app.instance_path) / "roster-uploads" / f"{upload_id}.xlsx").write_bytes(b"spoiled")
    done = client.post(f"/admin/drives/{d}/roster/confirm", data={"csrf_token": csrf, "upload_id": upload_id})
    assert done.status_code == 303
    with app.app_context():
        names = set(db.session.scalars(sa.select(Donor.full_name).where(Donor.id_number.in_(EXPECTED))))
    assert names == {value[0] for value in EXPECTED.values()}


def test_the_template_downloads_and_imports_as_it_is(client, auth, demo):
    auth.as_organiser()
    response = client.get("/admin/roster/template.xlsx")
    assert response.status_code == 200 and response.mimetype == XLSX and "attachment" in response.headers[
        "Content-Disposition"]
    parsed = parse_bytes("mau.xlsx", response.data)
    assert parsed.errors == [] and len(parsed.rows) == 1 and parsed.ignored_columns == []
    assert parsed.rows[0].id_number == "001090012345"
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    assert sheet["D5"].number_format == "@"  # the CCCD column is text: Excel keeps its 0
