"""Issue 21, item 9: recall for the next drive: who may give again by a date, with phones, as a
file; carried into another drive's roster with new passes."""
import datetime as dt
import io

import sqlalchemy as sa
from openpyxl import load_workbook

from kiosk.exports import to_csv, to_xlsx
from kiosk.extensions import db
from kiosk.models import AuditLog, DriveStatus, Screening, Visit
from kiosk.recall import RecallError, carry_into_drive, recall_export, recall_list
from kiosk.screening.rules import load_rules
from tests.test_donor_search import _donation, _donor, _drive, _nurse

INTERVAL = load_rules().interval


def _defer(donation, nurse, decision, until=None, nonce="n"):
    db.session.add(Screening(visit_id=donation.visit_id, nurse_id=nurse.id, decision=decision, deferral_until=until,
                             reason="x", nonce=nonce))


def _setup():
    nurse = _nurse()
    march = _drive("Tháng 3", dt.date(2026, 3, 1))
    may = _drive("Tháng 5", dt.date(2026, 5, 1))
    lan = _donor("Lê Thị Lan", "001090000011", "0911111111", prior_donations=4)
    hung = _donor("Trần Văn Hùng", "001090000012", "0922222222")
    minh = _donor("Phạm Minh", "001090000013", "0933333333")
    tuan = _donor("Đỗ Tuấn", "001090000014", "0944444444")
    _donation(march, lan, nurse)  # may give from 24/05/2026
    _donation(may, hung, nurse)  # from 24/07/2026
    _defer(_donation(march, minh, nurse, outcome="incomplete"), nurse, "deferred_temporary", dt.date(2026, 9, 1))
    _defer(_donation(march, tuan, nurse), nurse, "deferred_permanent", nonce="p")
    db.session.commit()
    return nurse, march, may


def test_who_may_give_again_by_a_date(app_ctx):
    _nurse, march, may = _setup()
    names = lambda day, drive=None: [r.full_name for r in recall_list(db.session, drive, day, INTERVAL)]  # noqa: E731
    assert names(dt.date(2026, 5, 23)) == []
    assert names(dt.date(2026, 5, 24)) == ["Lê Thị Lan"]
    assert names(dt.date(2026, 7, 24)) == ["Lê Thị Lan", "Trần Văn Hùng"]
    assert names(dt.date(2026, 7, 24), march.id) == ["Lê Thị Lan"]  # one drive's donors
    # A temporary deferral holds until its date; a permanent one is never recalled.
    assert names(dt.date(2027, 1, 1)) == ["Lê Thị Lan", "Phạm Minh", "Trần Văn Hùng"]
    lan = recall_list(db.session, march.id, dt.date(2026, 6, 1), INTERVAL)[0]
    assert (lan.phone, lan.last_donation, lan.may_donate_from, lan.count) == (
        "0911111111", dt.date(2026, 3, 1), dt.date(2026, 5, 24), 5)


def test_the_recall_file_opens_in_excel_and_as_csv(app_ctx):
    _setup()
    export = recall_export(recall_list(db.session, None, dt.date(2026, 7, 24), INTERVAL), None)
    sheet = load_workbook(io.BytesIO(to_xlsx(export))).active
    rows = list(sheet.values)
    assert rows[0][:3] == ("Họ và tên", "Số điện thoại", "Đơn vị") and rows[0][5] == "Được hiến lại từ"
    assert [row[0] for row in rows[1:]] == ["Lê Thị Lan", "Trần Văn Hùng"]
    assert rows[1][1] == "0911111111" and rows[1][5].date() == dt.date(2026, 5, 24)
    assert "Trần Văn Hùng" in to_csv(export).decode("utf-8-sig")
    assert export.filename("xlsx", dt.date(2026, 7, 24)) == "moi-hien-lai-2026-07-24-tat-ca.xlsx"


def test_carried_into_a_new_drive_with_new_passes_once(app_ctx):
    nurse, march, _may = _setup()
    june = _drive("Tháng 6", dt.date(2026, 6, 15), status=DriveStatus.PLANNED)
    rows = recall_list(db.session, None, dt.date(2026, 7, 24), INTERVAL)
    ids = [r.donor_id for r in rows]
    assert carry_into_drive(db.session, drive_id=june.id, donor_ids=ids, staff_id=nurse.id, source="test") == 2
    assert carry_into_drive(db.session, drive_id=june.id, donor_ids=ids, staff_id=nurse.id, source="test") == 0
    tokens = set(db.session.scalars(sa.select(Visit.token).where(Visit.drive_id == june.id)))
    assert len(tokens) == 2 and not tokens & set(db.session.scalars(sa.select(Visit.token).where(
        Visit.drive_id != june.id)))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog).where(
        AuditLog.action == "recall_carried")) == 2
    try:
        carry_into_drive(db.session, drive_id=march.id, donor_ids=ids, staff_id=nurse.id, source="test")
    except RecallError as refused:
        assert refused.code == "closed"
    else:
        raise AssertionError("a closed drive took new passes")


def test_the_recall_page_and_its_files(app, client, auth, demo):
    auth.as_organiser()
    drive_id = demo["drive_id"]
    page = client.get(f"/admin/drives/{drive_id}/recall?by=01/01/2030&everyone=1")
    assert page.status_code == 200 and "recall-table" in page.get_data(as_text=True)
    assert client.get(f"/admin/drives/{drive_id}/recall?by=31/02/2030").status_code == 422
    xlsx = client.get(f"/admin/drives/{drive_id}/recall.xlsx?by=01/01/2030")
    assert xlsx.status_code == 200 and load_workbook(io.BytesIO(xlsx.data)).active["B1"].value == "Số điện thoại"
    assert client.get(f"/admin/drives/{drive_id}/recall.pdf").status_code == 404
