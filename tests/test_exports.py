"""Exports: the CSV read back with Python's csv module has the diacritics intact and matches
the database row for row; .xlsx the same; health data only in the export marked as such."""
import csv
import datetime as dt
import io
import re

import openpyxl
import sqlalchemy as sa

from kiosk.exports import COLUMNS, build_export, csv_cell, to_csv, to_xlsx
from kiosk.extensions import db
from kiosk.models import AuditLog, Department, Donation, Donor, Drive, Site, Visit
from kiosk.screening.questionnaire import load_questionnaire
from tests.support.simulated_day import simulate_day

ZONE = __import__("zoneinfo").ZoneInfo("Asia/Ho_Chi_Minh")
HEALTH_COLUMNS = {"Câu trả lời “có”", "Cân nặng (kg)", "Hemoglobin (g/L)", "Lý do", "Cần lưu ý"}


def _read_csv(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def test_visits_csv_matches_the_database_row_for_row(app, demo):
    with app.app_context():
        simulate_day(demo["drive_id"], arrivals=12)
        drive = db.session.get(Drive, demo["drive_id"])
        rows = _read_csv(to_csv(build_export(db.session, drive, "visits", ZONE)))
        header, body = rows[0], rows[1:]
        assert header == list(COLUMNS["visits"])
        expected = db.session.execute(
            sa.select(Visit, Donor, Department.name, Site.code).join(Donor, Visit.donor_id == Donor.id)
            .outerjoin(Department, Donor.department_id == Department.id).outerjoin(Site, Visit.site_id == Site.id)
            .where(Visit.drive_id == drive.id).order_by(Visit.id)).all()
        assert len(body) == len(expected) == 200
        for row, (visit, donor, department, site) in zip(body, expected):
            record = dict(zip(header, row))
            assert record["Họ và tên"] == donor.full_name
            assert record["Ngày sinh"] == donor.date_of_birth.strftime("%d/%m/%Y")
            assert record["Số CCCD"] == donor.id_number and len(record["Số CCCD"]) == 12
            assert record["Số điện thoại"] == donor.phone
            assert record["Đơn vị"] == (department or "")
            assert record["Giới tính"] == {"M": "Nam", "F": "Nữ"}[donor.sex]
            assert record["Mã lượt"] == str(visit.id) and record["Điểm hiến"] == (site or "")
        # Diacritics intact: every Vietnamese letter of the names came back as it went in.
        assert any(re.search("[ễồạủứ]", row[0]) for row in body)


def test_donations_csv_and_xlsx_match_the_database(app, demo):
    with app.app_context():
        simulate_day(demo["drive_id"], arrivals=15)
        drive = db.session.get(Drive, demo["drive_id"])
        export = build_export(db.session, drive, "donations", ZONE)
        rows = _read_csv(to_csv(export))
        donations = db.session.execute(
            sa.select(Donation, Donor.full_name).join(Visit, Donation.visit_id == Visit.id)
            .join(Donor, Visit.donor_id == Donor.id).where(Donation.drive_id == drive.id).order_by(Donation.id)).all()
        assert len(rows) - 1 == len(donations) > 0
        for row, (donation, name) in zip(rows[1:], donations):
            record = dict(zip(rows[0], row))
            assert (record["Mã hiến"], record["Họ và tên"], record["Số túi"], record["Thể tích (ml)"]) == \
                (str(donation.id), name, donation.bag_number, str(donation.volume_ml))
            assert record["Kết quả"] == {"completed": "Hoàn thành", "incomplete": "Không hoàn thành (túi chưa đủ)"}[donation.outcome]
        sheet = openpyxl.load_workbook(io.BytesIO(to_xlsx(export))).active
        values = list(sheet.iter_rows(values_only=True))
        assert list(values[0]) == list(COLUMNS["donations"])
        assert [(r[0], r[2], r[7]) for r in values[1:]] == [(d.id, n, d.volume_ml) for d, n in donations]
        assert isinstance(values[1][11], dt.datetime)  # a real date-time cell, in local time
        assert values[1][11].hour >= 7


def test_health_data_only_in_the_health_export(app, demo):
    with app.app_context():
        simulate_day(demo["drive_id"], arrivals=10)
        drive = db.session.get(Drive, demo["drive_id"])
        for kind in ("visits", "screenings", "donations"):
            header = _read_csv(to_csv(build_export(db.session, drive, kind, ZONE)))[0]
            assert not HEALTH_COLUMNS & set(header), kind
        health = _read_csv(to_csv(build_export(db.session, drive, "health", ZONE)))
        assert HEALTH_COLUMNS <= set(health[0]) and len(health) == 11
        yes = "".join(row[5] for row in health[1:])
        # The questions as the donor read them, not their ids (issue 13).
        questionnaire = load_questionnaire()
        assert questionnaire.item("q7.cold").text["vi"] in yes and questionnaire.item("consent").text["vi"] in yes
        assert not re.search(r"\bq\d+(\.\w+)?\b", yes + "".join(row[6] for row in health[1:]))


def test_a_cell_that_excel_would_run_as_a_formula_is_quoted():
    assert csv_cell("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert csv_cell("+84912") == "'+84912" and csv_cell(-3) == "-3"
    assert csv_cell(dt.date(2026, 3, 9)) == "09/03/2026" and csv_cell(None) == ""


def csrf_token(client) -> str:
    page = client.get("/admin/drives").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def test_export_downloads_and_the_health_export_needs_confirming(app, client, auth, demo):
    auth.as_organiser()
    drive_id = demo["drive_id"]
    token = csrf_token(client)
    response = client.get(f"/admin/drives/{drive_id}/exports/visits.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")
    response = client.get(f"/admin/drives/{drive_id}/exports/screenings.xlsx")
    assert response.status_code == 200 and response.data[:2] == b"PK"
    assert client.get(f"/admin/drives/{drive_id}/exports/health.csv").status_code == 404
    assert client.get(f"/admin/drives/{drive_id}/exports/visits.pdf").status_code == 404
    response = client.post(f"/admin/drives/{drive_id}/exports/health", data={"format": "csv", "csrf_token": token})
    assert response.status_code == 422 and "bảo mật" in response.get_data(as_text=True)
    response = client.post(f"/admin/drives/{drive_id}/exports/health", data={"format": "csv", "confirm": "y", "csrf_token": token})
    assert response.status_code == 200 and "MAT" in response.headers["Content-Disposition"]
    with app.app_context():
        entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "health_export")).one()
        assert entry.drive_id == drive_id and entry.staff_id is not None


def test_exports_are_for_organisers_only(client, auth, demo):
    assert client.get(f"/admin/drives/{demo['drive_id']}/exports/visits.csv").status_code in (302, 401)
    auth.as_nurse()
    assert client.get(f"/admin/drives/{demo['drive_id']}/exports/visits.csv").status_code == 403


def test_taking_the_health_export_is_in_the_audit_log(app, demo):
    from kiosk.exports import record_health_export

    with app.app_context():
        record_health_export(db.session, drive_id=demo["drive_id"], staff_id=None, fmt="csv")
        entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "health_export")).one()
        assert (entry.entity, entry.entity_id, entry.drive_id) == ("drive", demo["drive_id"], demo["drive_id"])
        assert entry.new_values == {"format": "csv"}


def _export_of(rows, kind="visits"):
    from kiosk.exports import Export

    columns = COLUMNS[kind]
    return Export(kind, 1, columns, [list(r) + [None] * (len(columns) - len(r)) for r in rows])


def test_every_csv_field_is_quoted_so_a_semicolon_locale_splits_nothing():
    body = to_csv(_export_of([["Trần A;=1+2", dt.date(1990, 1, 2), "Nam", "001090000001"]]))
    lines = body.decode("utf-8-sig").splitlines()
    assert lines[0].startswith('"Họ và tên","Ngày sinh"')
    assert lines[1].startswith('"Trần A;=1+2","02/01/1990","Nam","001090000001",""')
    # Read with ";" as Excel in such a locale would: the ";" inside the quotes splits nothing.
    cells = next(csv.reader(io.StringIO(lines[1]), delimiter=";"))
    assert len(cells) == 1 and not cells[0].startswith("=")


def test_xlsx_formula_cells_are_text_without_a_visible_quote():
    export = _export_of([["=HYPERLINK(\"http://x\")", None, "+84912", "-3", "@SUM(A1)"]])
    workbook = openpyxl.load_workbook(io.BytesIO(to_xlsx(export)))
    row = list(workbook.active.iter_rows(min_row=2))[0]
    assert row[0].value == "=HYPERLINK(\"http://x\")" and row[0].data_type == "s" and row[0].quotePrefix
    assert [c.value for c in row[2:5]] == ["+84912", "-3", "@SUM(A1)"]
    assert all(c.data_type == "s" and c.quotePrefix for c in row[2:5])
    assert not any(str(c.value).startswith("'") for c in row if c.value)


def test_xlsx_column_widths_fit_the_longest_value():
    long_name = "Tôn Nữ Hoàng Thị Phương Thảo Nguyễn"
    export = _export_of([[long_name, dt.date(1990, 1, 2), "Nữ", "001090000001", "0912345678",
                          "Cục Quản lý xuất nhập cảnh - Phòng Tham mưu tổng hợp"]] * 300 + [["A"]])
    sheet = openpyxl.load_workbook(io.BytesIO(to_xlsx(export))).active
    assert sheet.column_dimensions["A"].width >= len(long_name) + 2
    assert sheet.column_dimensions["F"].width >= len("Cục Quản lý xuất nhập cảnh - Phòng Tham mưu tổng hợp")
    assert sheet.column_dimensions["B"].width >= len("Ngày sinh")
    assert all(sheet.column_dimensions[c].width <= 60 for c in "ABCDEFGH")


def test_the_visits_export_is_next_years_roster(app, demo):
    """Its last donation date and times donated, read back by the roster reader as it is: a drive's
    .xlsx and .csv are the next drive's roster, with this drive's donations counted."""
    from kiosk.recognition import donation_count
    from kiosk.roster.uploads import parse_upload

    with app.app_context():
        simulate_day(demo["drive_id"], arrivals=15)
        drive = db.session.get(Drive, demo["drive_id"])
        export = build_export(db.session, drive, "visits", ZONE)
        donated = set(db.session.scalars(
            sa.select(Visit.donor_id).join(Donation, Donation.visit_id == Visit.id)
            .where(Donation.drive_id == drive.id, Donation.outcome == "completed", Donation.voided.is_(False))))
        assert donated
        donors = {donor.id_number: donor for donor in db.session.scalars(
            sa.select(Donor).join(Visit, Visit.donor_id == Donor.id).where(Visit.drive_id == drive.id))}
        next_year = drive.drive_date + dt.timedelta(days=365)
        for name, data in (("luot.xlsx", to_xlsx(export)), ("luot.csv", to_csv(export))):
            parsed = parse_upload(name, data, next_year)
            assert parsed.errors == [] and len(parsed.rows) == len(donors) == 200
            for row in parsed.rows:
                donor = donors[row.id_number]
                assert row.prior_donations == donation_count(db.session, donor)
                expected = drive.drive_date if donor.id in donated else donor.last_donation_date
                assert row.last_donation == expected
                assert (row.full_name, row.blood_group, row.rank) == (donor.full_name, donor.blood_group, donor.rank)


def test_the_visits_export_imported_again_in_the_same_database_counts_each_donation_once(app, demo):
    """The export's count is every donation, those recorded here included: imported again here (next
    year's drive on the same server), a donor's count stays what it was, never the two added."""
    from kiosk.recognition import donation_count
    from kiosk.roster.importer import import_roster
    from kiosk.roster.uploads import parse_upload

    with app.app_context():
        simulate_day(demo["drive_id"], arrivals=15)
        drive = db.session.get(Drive, demo["drive_id"])
        donors = list(db.session.scalars(sa.select(Donor).join(Visit, Visit.donor_id == Donor.id)
                                         .where(Visit.drive_id == drive.id)))
        before = {donor.id: donation_count(db.session, donor) for donor in donors}
        assert any(before[d.id] > (d.prior_donations or 0) for d in donors)  # some gave today
        parsed = parse_upload("luot.xlsx", to_xlsx(build_export(db.session, drive, "visits", ZONE)),
                              drive.drive_date + dt.timedelta(days=365))
        import_roster(db.session, parsed)
        db.session.commit()
        db.session.expire_all()
        assert {donor.id: donation_count(db.session, donor) for donor in donors} == before
