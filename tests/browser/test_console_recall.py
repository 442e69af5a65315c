"""Issue 21, item 9 in the browser: the console's recall list, its .xlsx opened with openpyxl, and
the list carried into another drive's roster with new passes."""
from __future__ import annotations

import datetime as dt
import io

import sqlalchemy as sa
from openpyxl import load_workbook

from kiosk.extensions import db
from kiosk.formatting import local_today
from kiosk.models import Drive, DriveStatus, Visit
from kiosk.recall import recall_list
from kiosk.screening.rules import load_rules
from tests.browser.conftest import check_page

CONSOLE = {"width": 1366, "height": 768}


def test_the_recall_list_its_file_and_new_passes(live_server, demo, signed_in, app):
    with app.app_context():
        drive = db.session.get(Drive, demo["drive_id"])
        later = Drive(name="Chủ nhật Đỏ tháng sau", drive_date=local_today() + dt.timedelta(days=40),
                      status=DriveStatus.PLANNED, sites=list(drive.sites))
        db.session.add(later)
        db.session.commit()
        later_id = later.id
        # The demo roster's donors, but for those who gave within the interval before it.
        listed = recall_list(db.session, drive.id, local_today(), load_rules().interval)
        donors = len(listed)
        assert 0 < donors < db.session.scalar(sa.select(sa.func.count(sa.distinct(Visit.donor_id))).where(
            Visit.drive_id == drive.id))
    page = signed_in("organiser", viewport=CONSOLE)
    page.goto(f"{live_server.url}/admin/drives/{demo['drive_id']}/recall")
    assert page.locator("#recall-table tbody tr").count() == donors
    check_page(page, "console-recall")
    with page.expect_download() as download:
        page.click("#recall-xlsx")
    assert download.value.suggested_filename.endswith(".xlsx")
    with open(download.value.path(), "rb") as downloaded:
        sheet = load_workbook(io.BytesIO(downloaded.read())).active
    rows = list(sheet.values)
    assert rows[0] == ("Họ và tên", "Số điện thoại", "Đơn vị", "Nhóm máu", "Lần hiến gần nhất", "Được hiến lại từ",
                       "Số lần hiến")
    assert len(rows) == donors + 1 and all(row[1] for row in rows[1:])
    page.select_option("#recall-target", str(later_id))
    page.click("text=Thêm vào danh sách của đợt đó, cấp thẻ mới")
    page.wait_for_url(f"**/admin/drives/{later_id}/passes")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit).where(
            Visit.drive_id == later_id)) == donors
