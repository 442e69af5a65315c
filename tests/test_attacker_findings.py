"""Issue 22, item 6: the outside attacker's findings against main (e44e91e), each closed. Every test
here failed on that commit."""
from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import AuditLog, Department
from kiosk.roster.parser import RosterFormatError
from kiosk.roster.uploads import parse_upload
from tests.support.pages import console_csrf
from tests.support.rosters import office_workbook

import datetime as dt

TODAY = dt.date(2026, 11, 21)


def _xlsx_with_sheet(sheet_xml: bytes) -> bytes:
    """The office workbook with its first sheet's XML replaced."""
    source = zipfile.ZipFile(io.BytesIO(office_workbook()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            data = source.read(member.filename)
            if member.filename == "xl/worksheets/sheet1.xml":
                data = sheet_xml
            target.writestr(member, data)
    return buffer.getvalue()


ENTITY_SHEET = (b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY x "Nguy\xc3\xa1\xbb\x85n">]>'
                b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
                b'<row r="1"><c r="A1" t="inlineStr"><is><t>&x;</t></is></c></row></sheetData></worksheet>')
UNDEFINED_ENTITY_SHEET = (b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
                          b'spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&nope;'
                          b'</t></is></c></row></sheetData></worksheet>')
TRUNCATED_SHEET = (b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/'
                   b'main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>H')
UTF16_DOCTYPE_SHEET = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE worksheet [<!ENTITY x "y">]><worksheet/>'.encode(
    "utf-16")


@pytest.mark.parametrize("sheet", [ENTITY_SHEET, UNDEFINED_ENTITY_SHEET, TRUNCATED_SHEET, UTF16_DOCTYPE_SHEET],
                         ids=["internal-entity", "undefined-entity", "truncated", "utf16-doctype"])
def test_an_xlsx_with_a_dtd_an_entity_or_broken_xml_is_refused_with_a_message(client, auth, demo, sheet):
    data = _xlsx_with_sheet(sheet)
    with pytest.raises(RosterFormatError) as refused:
        parse_upload("r.xlsx", data, TODAY)
    assert refused.value.code in ("xlsx_dtd", "not_xlsx")
    auth.as_organiser()
    response = client.post(f"/admin/drives/{demo['drive_id']}/roster",
                           data={"csrf_token": console_csrf(client), "roster": (io.BytesIO(data), "r.xlsx")},
                           content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="roster-format-error"' in page


def test_an_internal_entity_is_never_expanded():
    with pytest.raises(RosterFormatError, match="xlsx_dtd"):
        parse_upload("r.xlsx", _xlsx_with_sheet(ENTITY_SHEET), TODAY)


def _build_pdf(app, client, drive_id: int, department_id: int):
    app.config["PDF_BUILDS_IN_BACKGROUND"] = False
    response = client.post(f"/passes/drives/{drive_id}/pdf",
                           data={"department": str(department_id), "csrf_token": console_csrf(client)})
    assert response.status_code == 303


def _small_department(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Department.id).where(Department.name == "Cục Kỹ thuật nghiệp vụ"))


def test_pdf_pass_sheets_are_private_files_and_their_builds_and_downloads_are_audited(app, client, auth, demo):
    auth.as_organiser()
    drive_id, department_id = demo["drive_id"], _small_department(app)
    _build_pdf(app, client, drive_id, department_id)
    download = client.get(f"/passes/drives/{drive_id}/passes.pdf?department={department_id}")
    assert download.status_code == 200
    folder = Path(app.instance_path) / "pdf"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = list(folder.iterdir())
    assert files and all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in files), \
        {path.name: oct(path.stat().st_mode) for path in files}
    with app.app_context():
        actions = list(db.session.scalars(sa.select(AuditLog.action).order_by(AuditLog.id)))
    assert "pass_pdf_built" in actions and "pass_pdf_downloaded" in actions


@pytest.mark.parametrize("value", ["²", "١", "½", "-1", "1.5", "9" * 30, "0x1"])
def test_a_department_of_any_shape_in_the_pdf_query_is_no_500(client, auth, demo, value):
    auth.as_organiser()
    for path in (f"/passes/drives/{demo['drive_id']}/pdf", f"/passes/drives/{demo['drive_id']}/passes.pdf",
                 "/passes/sheet"):
        response = client.get(path, query_string={"department": value})
        assert response.status_code in (200, 303, 404), (path, value, response.status_code)


def test_a_csv_export_names_its_charset_once(client, auth, demo):
    auth.as_organiser()
    response = client.get(f"/admin/drives/{demo['drive_id']}/exports/visits.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].lower().count("charset") == 1, response.headers["Content-Type"]
