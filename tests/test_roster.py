import csv
import datetime as dt
import io

import openpyxl
import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import Department, Donor, Drive, Site, Visit
from kiosk.roster.parser import RosterFormatError, parse_roster, read_table
from kiosk.roster.importer import import_roster
from tests.conftest import SAMPLE_ROSTER

TODAY = dt.date(2026, 11, 21)
HEADER_VI = "Họ và tên,Ngày sinh,Giới tính,Số CCCD,Số điện thoại,Đơn vị,Cấp bậc,Nhóm máu,Lần hiến gần nhất"
HEADER_EN = "full_name,date_of_birth,sex,id_number,phone,department,rank,blood_group,last_donation"


def parse_csv(text: str):
    return parse_roster(read_table("roster.csv", io.BytesIO(text.encode("utf-8"))), TODAY)


def sample_rows() -> list[str]:
    return SAMPLE_ROSTER.read_text(encoding="utf-8").splitlines()


def test_sample_roster_imports_300_donors_with_diacritics(app_ctx):
    drive = Drive(name="Đợt 2", drive_date=TODAY)
    db.session.add(drive)
    db.session.flush()
    with SAMPLE_ROSTER.open("rb") as stream:
        parsed = parse_roster(read_table(SAMPLE_ROSTER.name, stream), TODAY)
    assert parsed.errors == []
    result = import_roster(db.session, parsed, drive=drive)
    db.session.commit()
    assert (result.created, result.updated, result.visits_created) == (300, 0, 300)
    names = set(db.session.scalars(sa.select(Donor.full_name)))
    with SAMPLE_ROSTER.open(encoding="utf-8") as fh:
        expected = {row["Họ và tên"] for row in csv.DictReader(fh)}
    assert names == expected and "Lê Hồng Hương" in names
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Department)) == 6
    assert db.session.scalar(sa.select(Donor.name_search).where(Donor.full_name == "Nguyễn Công Hùng")) == "nguyen cong hung"


def test_importing_again_updates_and_creates_no_duplicates(app_ctx):
    drive = Drive(name="Đợt 2", drive_date=TODAY)
    db.session.add(drive)
    db.session.flush()
    for _ in range(2):
        with SAMPLE_ROSTER.open("rb") as stream:
            result = import_roster(db.session, parse_roster(read_table("r.csv", stream), TODAY), drive=drive)
        db.session.commit()
    assert (result.created, result.updated, result.visits_created) == (0, 300, 0)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Donor)) == 300
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit)) == 300


def test_a_returning_donor_is_matched_by_id_number_and_updated(app_ctx):
    lines = sample_rows()
    first = parse_csv("\n".join(lines[:2]))
    import_roster(db.session, first)
    db.session.commit()
    changed = lines[1].replace("0743915000", "0912345678").replace("Lê Hồng Hương", "Lê Hồng Hường")
    result = import_roster(db.session, parse_csv("\n".join([lines[0], changed])))
    db.session.commit()
    donor = db.session.scalars(sa.select(Donor)).one()
    assert result.updated == 1 and donor.phone == "0912345678" and donor.full_name == "Lê Hồng Hường"


def test_an_impossible_date_on_line_17_refuses_the_whole_file(app_ctx):
    lines = sample_rows()
    cells = lines[16].split(",")
    cells[1] = "31/02/1990"
    lines[16] = ",".join(cells)
    parsed = parse_csv("\n".join(lines))
    assert [(e.line, e.code, e.field) for e in parsed.errors] == [(17, "invalid_date", "date_of_birth")]
    result = import_roster(db.session, parsed)
    db.session.commit()
    assert result.created == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Donor)) == 0


def test_skip_bad_imports_the_good_rows(app_ctx):
    lines = sample_rows()[:6]
    lines[3] = lines[3].replace(lines[3].split(",")[3], "12345")
    result = import_roster(db.session, parse_csv("\n".join(lines)), skip_bad=True)
    db.session.commit()
    assert (result.created, result.skipped) == (4, 1)


@pytest.mark.parametrize("change, code, field", [
    (lambda c: c.__setitem__(0, ""), "required", "full_name"),
    (lambda c: c.__setitem__(1, "1990-13-01"), "invalid_date", "date_of_birth"),
    (lambda c: c.__setitem__(1, "01/01/2999"), "date_in_future", "date_of_birth"),
    (lambda c: c.__setitem__(2, "X"), "invalid_sex", "sex"),
    (lambda c: c.__setitem__(3, "12345678901"), "invalid_id_number", "id_number"),
    (lambda c: c.__setitem__(4, "12345"), "invalid_phone", "phone"),
    (lambda c: c.__setitem__(7, "C+"), "invalid_blood_group", "blood_group"),
    (lambda c: c.__setitem__(8, "hôm qua"), "invalid_date", "last_donation"),
])
def test_each_bad_value_is_reported_with_its_line(change, code, field):
    lines = sample_rows()[:4]
    cells = lines[3].split(",")
    change(cells)
    lines[3] = ",".join(cells)
    parsed = parse_csv("\n".join(lines))
    assert [(e.line, e.code, e.field) for e in parsed.errors] == [(4, code, field)]


def test_duplicate_id_in_the_file_names_both_lines():
    lines = sample_rows()[:3]
    parsed = parse_csv("\n".join(lines + [lines[1]]))
    assert [(e.line, e.code, e.value) for e in parsed.errors] == [(4, "duplicate_id_in_file", "2")]


def test_english_headers_iso_dates_and_blank_lines():
    parsed = parse_csv(f"{HEADER_EN}\nTrần Thị Lan,1992-03-04,F,001192000002,+84912345678,Cục A,Đại úy,o+,2026-01-02\n\n")
    assert parsed.errors == []
    row = parsed.rows[0]
    assert (row.sex, row.phone, row.blood_group, row.last_donation) == ("F", "0912345678", "O+", dt.date(2026, 1, 2))


def test_whole_file_errors():
    with pytest.raises(RosterFormatError) as error:
        parse_csv("name,phone\nA,1\n")
    assert error.value.code == "missing_columns"
    with pytest.raises(RosterFormatError, match="empty_file"):
        parse_csv("")
    with pytest.raises(RosterFormatError, match="not_utf8"):
        parse_roster(read_table("r.csv", io.BytesIO(b"H\xe4 v\xe0 t\xean,Ng\xe0y sinh\n")), TODAY)
    with pytest.raises(RosterFormatError, match="unsupported_file_type"):
        list(read_table("roster.pdf", io.BytesIO(b"%PDF")))
    with pytest.raises(RosterFormatError, match="not_xlsx"):
        list(read_table("roster.xlsx", io.BytesIO(b"not a zip")))


def test_xlsx_with_real_dates():
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADER_VI.split(","))
    sheet.append(["Phạm Mỹ Nhung", dt.datetime(1998, 6, 26), "Nữ", "068595748906", "0388360759",
                  "Bộ Tư lệnh Cảnh sát cơ động", "Đại úy", "A+", None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    parsed = parse_roster(read_table("roster.xlsx", buffer), TODAY)
    assert parsed.errors == [] and parsed.rows[0].date_of_birth == dt.date(1998, 6, 26)


def test_visits_go_to_the_department_site_and_none_without_one_in_a_drive_with_several(app_ctx):
    """Issue 22: donors of a department with no site landed at no site (passes without a venue)."""
    from kiosk.roster.importer import RosterImportError
    from kiosk.roster.sites import plan_sites, site_field_name

    site_a, site_b = Site(code="A", name="A"), Site(code="B", name="B")
    drive = Drive(name="Đợt", drive_date=TODAY, sites=[site_a, site_b])
    db.session.add(drive)
    db.session.flush()
    db.session.add(Department(name="Cục Quản lý xuất nhập cảnh", default_site_id=site_b.id))
    db.session.commit()
    with SAMPLE_ROSTER.open("rb") as stream:
        parsed = parse_roster(read_table("r.csv", stream), TODAY)
    with pytest.raises(RosterImportError, match="site_missing"):
        import_roster(db.session, parsed, drive=drive)
    db.session.rollback()
    needs = plan_sites(db.session, drive, parsed.rows).needs
    assert len(needs) == 5 and "Cục Quản lý xuất nhập cảnh" not in {need["name"] for need in needs}
    choices = {need["field"]: str(site_a.id) for need in needs}
    import_roster(db.session, parsed, drive=drive, site_choices=choices)
    db.session.commit()
    department_sites = db.session.execute(
        sa.select(Department.name, Visit.site_id).join(Donor, Visit.donor_id == Donor.id)
        .join(Department, Donor.department_id == Department.id).distinct()).all()
    assert ("Cục Quản lý xuất nhập cảnh", site_b.id) in department_sites
    assert all(site == site_a.id for name, site in department_sites if name != "Cục Quản lý xuất nhập cảnh")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit).where(Visit.site_id.is_(None))) == 0
    # The new departments keep the site chosen: the next roster asks nothing.
    assert all(d.default_site_id == site_a.id for d in db.session.scalars(sa.select(Department))
               if d.name != "Cục Quản lý xuất nhập cảnh")
    assert site_field_name("Phòng A") == site_field_name(" phòng  a ")


def test_the_preview_counts_new_and_returning_donors_and_new_departments(app_ctx):
    from kiosk.roster.importer import preview_summary

    lines = sample_rows()
    first = parse_csv("\n".join(lines[:4]))
    import_roster(db.session, first)
    db.session.commit()
    bad = "Trần Văn Tám,31/02/1990,Nam,123,0912345678,Phòng Mới,,,"
    parsed = parse_csv("\n".join(lines[:8] + [bad]))
    summary = preview_summary(db.session, parsed)
    assert (summary["good"], summary["bad"], summary["returning"], summary["new"]) == (7, 1, 3, 4)
    known = set(db.session.scalars(sa.select(Department.name)))
    assert summary["new_departments"] == sorted({r.department for r in parsed.rows} - known)


def test_the_consoles_import_is_audited_and_refused_for_a_closed_drive(app_ctx):
    from kiosk.models import AuditLog, DriveStatus
    from kiosk.roster.importer import RosterImportError, import_for_drive

    drive = Drive(name="Đợt 2", drive_date=TODAY)
    db.session.add(drive)
    db.session.commit()
    drive_id = drive.id
    lines = sample_rows()
    parsed = parse_csv("\n".join(lines[:6] + ["Trần Văn Tám,31/02/1990,Nam,123,0912345678,,,,"]))
    result = import_for_drive(db.session, parsed, drive_id=drive_id, staff_id=None, skip_bad=True)
    assert (result.created, result.visits_created, result.skipped) == (5, 5, 1)
    entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "roster_imported")).one()
    assert (entry.entity, entry.entity_id, entry.drive_id) == ("drive", drive_id, drive_id)
    assert entry.new_values == {"created": 5, "updated": 0, "visits_created": 5, "skipped": 1, "walk_ins_flagged": 0}
    for code, target in (("not_found", 999), ("drive_closed", drive_id)):
        db.session.get(Drive, drive_id).status = DriveStatus.CLOSED
        db.session.commit()
        with pytest.raises(RosterImportError) as raised:
            import_for_drive(db.session, parse_csv("\n".join(lines[:1] + lines[6:9])), drive_id=target,
                             staff_id=None)
        assert raised.value.code == code
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Donor)) == 5
