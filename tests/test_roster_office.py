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

from kiosk.extensions import db
from kiosk.database import write_transaction
from kiosk.models import Department, Donor, Drive, RosterUpload, Visit
from kiosk.roster.importer import import_roster, preview_summary
from kiosk.roster.messages import describe_format_error, describe_notes, describe_row_error
from kiosk.roster.parser import MAX_ROWS, RosterFormatError, parse_roster, read_table
from kiosk.roster.uploads import parse_upload
from tests.support.rosters import OFFICE_DONORS_IMPORTED, bad_rows_csv, bad_rows_xlsx, blank_rows_xlsx, office_workbook

TODAY = dt.date(2026, 11, 21)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

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
    assert set(donors) == set(OFFICE_DONORS_IMPORTED)
    for id_number, (name, born, sex, phone, department, prior) in OFFICE_DONORS_IMPORTED.items():
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

@pytest.mark.slow
def test_20000_bad_rows_are_checked_in_linear_time():
    # Every bad row's errors, all collected (the time it takes is bench/roster_limits.py's: it was
    # quadratic, 10k bad rows 19 s and 20k 97 s on this machine).
    parsed = parse_bytes("r.csv", bad_rows_csv(MAX_ROWS))
    assert len(parsed.errors) == 4 * MAX_ROWS


@pytest.mark.slow
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


@pytest.mark.slow
def test_100000_bad_rows_in_a_small_xlsx_are_refused_at_the_cap():
    data = bad_rows_xlsx(100_000)
    with pytest.raises(RosterFormatError, match="too_many_rows"):
        parse_bytes("r.xlsx", data)


@pytest.mark.slow
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
    with app.app_context(), write_transaction(db.session):
        db.session.execute(sa.update(RosterUpload).where(RosterUpload.id == upload_id).values(data=b"spoiled"))
    # The demo drive has two sites: the new department's is asked, and nothing imports without it.
    fields = re.findall(r'<select id="(site_for_[0-9a-f]+)"', page)
    assert len(fields) == 1
    refused = client.post(f"/admin/drives/{d}/roster/confirm", data={"csrf_token": csrf, "upload_id": upload_id})
    assert refused.status_code == 422 and 'id="roster-sites-error"' in refused.get_data(as_text=True)
    site_id = re.search(r'<option value="(\d+)"', page).group(1)
    done = client.post(f"/admin/drives/{d}/roster/confirm",
                       data={"csrf_token": csrf, "upload_id": upload_id, fields[0]: site_id})
    assert done.status_code == 303
    with app.app_context():
        names = set(db.session.scalars(sa.select(Donor.full_name).where(Donor.id_number.in_(OFFICE_DONORS_IMPORTED))))
    assert names == {value[0] for value in OFFICE_DONORS_IMPORTED.values()}


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


# ----- issue 22, item 1: a list without "Giới tính", ABO without Rh, signatures under any column -----

def test_a_list_without_a_sex_column_takes_the_sex_from_the_cccd(app):
    from tests.support.rosters import SECOND_OFFICE_DONORS, SECOND_OFFICE_SEX, second_office_workbook

    parsed = parse_bytes("ds.xlsx", second_office_workbook())
    assert parsed.errors == [] and parsed.header_line == 7
    assert [row.sex for row in parsed.rows] == list(SECOND_OFFICE_SEX)
    assert all(row.sex_from_id_number for row in parsed.rows) and parsed.sex_disagrees == []
    assert [row.blood_group for row in parsed.rows] == ["A", "B", "O+"]  # Rh unknown: the ABO alone
    assert [row.rank for row in parsed.rows] == [donor[6] for donor in SECOND_OFFICE_DONORS]
    # The total, the note, the place and date and the signature block (under the ID column too) are
    # skipped and listed, not refused.
    assert [line for line, _text in parsed.skipped] == [11, 12, 14, 15, 16, 19]
    assert "NGƯỜI LẬP BIỂU" in dict(parsed.skipped)[15] and "Đại úy" in dict(parsed.skipped)[16]
    with app.test_request_context():
        notes = "\n".join(describe_notes(parsed))
    assert "11, 12, 14, 15, 16, 19" in notes and "CCCD" in notes and "Rh" in notes


def test_a_sex_that_disagrees_with_the_cccd_is_kept_and_shown(app):
    from tests.support.rosters import second_office_workbook

    parsed = parse_bytes("ds.xlsx", second_office_workbook(sex_column=("Nam", "Nam", "Nam")))
    assert parsed.errors == [] and [row.sex for row in parsed.rows] == ["M", "M", "M"]
    assert parsed.sex_disagrees == [8]  # Vũ Thị Hoa's CCCD says a woman
    with app.test_request_context():
        notes = "\n".join(describe_notes(parsed))
    assert "8" in notes and "CCCD" in notes


def test_a_row_error_in_the_preview_table_says_its_line_once(client, auth, demo):
    auth.as_organiser()
    page = client.get("/admin/drives").get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    body = "Họ và tên,Ngày sinh,Giới tính,Số CCCD\nTrần Văn Tám,31/02/1990,Nam,001190000001\n".encode()
    response = client.post(f"/admin/drives/{demo['drive_id']}/roster",
                           data={"csrf_token": csrf, "roster": (io.BytesIO(body), "ds.csv")},
                           content_type="multipart/form-data")
    table = response.get_data(as_text=True).split('id="roster-error-table"')[1].split("</table>")[0]
    assert table.count("2") >= 1 and "Dòng 2" not in table and "Line 2" not in table
