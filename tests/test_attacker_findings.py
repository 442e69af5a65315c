"""Issue 22, item 6: the outside attacker's findings against main (e44e91e), each closed. Every test
here failed on that commit."""
from __future__ import annotations

import datetime as dt
import io
import stat
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import AuditLog, Department, Donor, Drive, PdfBuild, Screening, Staff, Visit
from kiosk.roster.parser import RosterFormatError
from kiosk.roster.uploads import parse_upload
from tests.support.pages import console_csrf
from tests.support.rosters import office_workbook

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


def test_pdf_pass_sheets_stay_in_the_database_and_their_builds_and_downloads_are_audited(app, client, auth, demo):
    auth.as_organiser()
    drive_id, department_id = demo["drive_id"], _small_department(app)
    _build_pdf(app, client, drive_id, department_id)
    download = client.get(f"/passes/drives/{drive_id}/passes.pdf?department={department_id}")
    assert download.status_code == 200
    # The file is in the database (issue 23: any server serves it), never on a server's disk.
    assert not (Path(app.instance_path) / "pdf").exists()
    with app.app_context():
        assert db.session.scalar(sa.select(PdfBuild.data).where(PdfBuild.state == "done")) == download.data
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


# ----- (M) a walk-in made with someone else's ID number, merged by the roster -----

def _attacker_walk_in(app, id_number: str) -> str:
    """A phone walk-in for today's drive at XNC with `id_number`: the attacker's pass token."""
    from kiosk.checkin import WalkIn, register_walk_in
    from kiosk.formatting import local_today
    from kiosk.models import Site, Visit
    from kiosk.tokens import new_nonce

    with app.app_context():
        site = db.session.scalar(sa.select(Site).where(Site.code == "XNC"))
        register_walk_in(db.session, walk_in=WalkIn(
            full_name="Kẻ Mạo Danh", date_of_birth=dt.date(1990, 1, 1), sex="M", id_number=id_number,
            phone="0912345678", department_id=None, rank="", blood_group="", last_donation_date=None),
            site=site, today=local_today(), nonce=new_nonce())
        return db.session.scalar(sa.select(Visit.token).join(Visit.donor).where(Donor.id_number == id_number))


def _roster_csv(id_number: str) -> bytes:
    return ("Họ và tên,Ngày sinh,Giới tính,Số CCCD,Đơn vị\n"
            f"Nguyễn Văn Thật,02/03/1988,Nam,{id_number},Cục Quản lý xuất nhập cảnh\n").encode()


def _upload_and_confirm(client, drive_id: int, body: bytes) -> str:
    import re

    response = client.post(f"/admin/drives/{drive_id}/roster",
                           data={"csrf_token": console_csrf(client), "roster": (io.BytesIO(body), "ds.csv")},
                           content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page[:2000]
    upload_id = re.search(r'name="upload_id" type="hidden" value="([^"]+)"', page).group(1)
    done = client.post(f"/admin/drives/{drive_id}/roster/confirm",
                       data={"csrf_token": console_csrf(client), "upload_id": upload_id})
    assert done.status_code == 303
    return page


def test_a_roster_matching_an_unverified_walk_in_gives_a_new_pass_and_flags_the_pair(app, client, auth, demo):
    id_number = "001088012345"
    stolen_token = _attacker_walk_in(app, id_number)
    assert client.get(f"/p/{stolen_token}").status_code == 200
    auth.as_organiser()
    preview = _upload_and_confirm(client, demo["drive_id"], _roster_csv(id_number))
    assert 'id="roster-walk-ins"' in preview
    with app.app_context():
        donor = db.session.scalar(sa.select(Donor).where(Donor.id_number == id_number))
        visit = db.session.scalar(sa.select(Visit).where(Visit.donor_id == donor.id))
        flagged = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "walk_in_matched_roster"))
        assert donor.full_name == "Nguyễn Văn Thật"
        assert visit.token != stolen_token
        assert flagged is not None and flagged.entity_id == visit.id
        assert flagged.old_values == {"name": "Kẻ Mạo Danh"}
        new_token = visit.token
    # The link the walk-in got opens nothing; the donor's new pass does.
    assert client.get(f"/p/{stolen_token}").status_code == 404
    assert client.get(f"/p/{new_token}").status_code == 200


def test_a_walk_in_whose_id_card_a_nurse_saw_is_updated_by_the_roster_as_any_donor(app, client, auth, demo):
    from tests.support.donors import check_in

    id_number = "001088054321"
    token = _attacker_walk_in(app, id_number)
    with app.app_context():
        visit_id = db.session.scalar(sa.select(Visit.id).where(Visit.token == token))
    check_in(app, visit_id, "XNC")
    with app.app_context():
        db.session.add(Screening(visit_id=visit_id, decision="deferred", identity_document="cccd",
                                 nurse_id=db.session.scalar(sa.select(Staff.id).where(Staff.username == "yta")),
                                 nonce="verified-walk-in"))
        db.session.commit()
    auth.as_organiser()
    preview = _upload_and_confirm(client, demo["drive_id"], _roster_csv(id_number))
    assert 'id="roster-walk-ins"' not in preview
    with app.app_context():
        assert db.session.scalar(sa.select(Visit.token).where(Visit.id == visit_id)) == token
        assert db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "walk_in_matched_roster")) is None


def test_closing_the_drive_removes_unverified_walk_ins_who_never_came(app, demo):
    from kiosk.audit import fingerprint
    from kiosk.drives import drive_values, update_drive

    came = _attacker_walk_in(app, "001088011111")
    never_came = _attacker_walk_in(app, "001088022222")
    from tests.support.donors import check_in

    with app.app_context():
        came_id = db.session.scalar(sa.select(Visit.id).where(Visit.token == came))
    check_in(app, came_id, "XNC")
    with app.app_context():
        drive = db.session.get(Drive, demo["drive_id"])
        staff_id = db.session.scalar(sa.select(Staff.id).where(Staff.username == "bantochuc"))
        values = drive_values(drive)
        update_drive(db.session, drive_id=drive.id, staff_id=staff_id, expected_fingerprint=fingerprint(values),
                     name=drive.name, drive_date=drive.drive_date, target_bags=drive.target_bags, status="closed",
                     hospital=drive.hospital, organiser=drive.organiser, site_ids=[s.id for s in drive.sites])
        ids = set(db.session.scalars(sa.select(Donor.id_number).where(Donor.id_number.like("00108801%"))))
        ids |= set(db.session.scalars(sa.select(Donor.id_number).where(Donor.id_number.like("00108802%"))))
        assert ids == {"001088011111"}
        assert db.session.scalar(sa.select(Visit.id).where(Visit.token == never_came)) is None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Donor)) == 201  # the demo's 200 + who came


# ----- (L) the pairing code in the organiser's cookie; (info) failed pairings not audited -----

def test_the_pairing_code_is_kept_on_the_server_not_in_the_session_cookie(app, client, auth, demo):
    import re

    from kiosk.models import Site

    auth.as_organiser()
    with app.app_context():
        site_id = db.session.scalar(sa.select(Site.id).where(Site.code == "XNC"))
    page = client.get("/admin/devices").get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    added = client.post("/admin/devices", data={"name": "Kiosk 9", "site_id": str(site_id), "kind": "kiosk",
                                                "csrf_token": csrf})
    assert added.status_code == 303
    shown = client.get(added.headers["Location"]).get_data(as_text=True)
    code = re.search(r'id="pairing-link"[^>]*>[^<]*/pair/([^<]+)<', shown).group(1)
    cookie = client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session")).value
    session_data = app.session_interface.get_signing_serializer(app).loads(cookie)
    assert code not in repr(session_data)
    folder = Path(app.instance_path) / "pairing-codes"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in folder.iterdir())


def test_a_failed_pairing_is_audited_and_a_flood_of_them_stops_before_it_writes(app, client, demo):
    import re

    page = client.get("/").get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    statuses = [client.post(f"/pair/{'x' * 20}{n}", data={"csrf_token": csrf}).status_code for n in range(12)]
    assert statuses[:10] == [404] * 10 and statuses[10:] == [429, 429]
    with app.app_context():
        failed = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "pairing_failed")).all()
    assert len(failed) == 10 and failed[0].source_address


# ----- (L) the phone's pass look-up, its questionnaire and its walk-ins -----

def _csrf_of(page: str) -> str:
    import re

    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def _a_token(app) -> str:
    with app.app_context():
        return db.session.scalars(sa.select(Visit.token).limit(1)).one()


def test_misses_from_a_halls_address_never_refuse_a_real_pass_from_that_address(app, client, demo):
    """A hall's phones share one address: 30 misses by one phone (or 100 by cookie-less scripts)
    must not give the next donor's phone, with a real pass, a 429."""
    token = _a_token(app)
    attacker = app.test_client()
    for _ in range(100):
        attacker.delete_cookie("kiosk_phone")
        assert attacker.get("/p/" + "Z" * 32).status_code == 404
    assert client.get("/p/" + token).status_code == 200  # another phone, the same address (127.0.0.1)


def test_misses_past_the_address_limit_refuse_unknown_tokens_only(app, client, demo):
    from kiosk.views.donor_kiosk.phone_limits import ADDRESS_MISS_LIMIT

    token = _a_token(app)
    attacker = app.test_client()
    statuses = []
    for _ in range(ADDRESS_MISS_LIMIT + 1):
        attacker.delete_cookie("kiosk_phone")
        statuses.append(attacker.get("/p/" + "Z" * 32).status_code)
    assert statuses[-1] == 429 and statuses.count(404) == ADDRESS_MISS_LIMIT
    assert client.get("/p/" + token).status_code == 200


def test_one_pass_is_limited_per_token(app, client, demo):
    from kiosk.views.donor_kiosk.phone_limits import TOKEN_LIMIT

    token = _a_token(app)
    statuses = []
    for _ in range(TOKEN_LIMIT + 1):
        client.delete_cookie("kiosk_phone")
        statuses.append(client.get("/p/" + token).status_code)
    assert statuses == [200] * TOKEN_LIMIT + [429]


def test_the_phone_questionnaire_post_is_limited_like_the_look_up(app, client, demo):
    page = client.get("/p/" + _a_token(app)).get_data(as_text=True)
    import re

    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    statuses = [client.post("/p/" + "Z" * 32 + "/questionnaire", data={"csrf_token": csrf}).status_code
                for _ in range(31)]
    assert statuses == [404] * 30 + [429]


def _phone_walk_in(id_number: str, csrf: str) -> dict:
    from kiosk.tokens import new_nonce

    return {"csrf_token": csrf, "full_name": "Đinh Thị Mai", "date_of_birth": "05/05/1995", "sex": "F", "id_number": id_number,
            "phone": "0912345678", "department_id": "0", "rank": "", "blood_group": "", "last_donation": "",
            "nonce": new_nonce()}


def test_walk_ins_from_one_phone_are_limited_per_day(app, client, demo):
    from kiosk.views.donor_kiosk.phone_limits import PHONE_WALK_INS_PER_DAY

    page = client.get("/kiosk/XNC/walk-in")
    assert page.status_code == 200 and client.get_cookie("kiosk_phone")
    csrf = _csrf_of(page.get_data(as_text=True))
    statuses = [client.post("/kiosk/XNC/walk-in", data=_phone_walk_in(f"00119701{n:04d}", csrf)).status_code
                for n in range(PHONE_WALK_INS_PER_DAY + 1)]
    assert statuses == [303] * PHONE_WALK_INS_PER_DAY + [429]


def test_a_refused_walk_in_is_audited_without_the_number_typed(app, client, demo):
    with app.app_context():
        known = db.session.scalars(sa.select(Donor.id_number).limit(1)).one()
    csrf = _csrf_of(client.get("/kiosk/XNC/walk-in").get_data(as_text=True))
    assert client.post("/kiosk/XNC/walk-in", data=_phone_walk_in(known, csrf)).status_code == 422
    with app.app_context():
        entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "walk_in_refused"))
    assert entry is not None and known not in repr(entry.new_values) and entry.source_address
