"""An office's own roster through the console in Chromium at 1366x768: title rows, merged cells,
STT / Chức vụ / Ghi chú, numbers that lost their 0, a footer; the preview says what it did."""
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import Donor
from tests.browser.conftest import check_page
from tests.support.rosters import OFFICE_DONORS_IMPORTED, office_workbook

CONSOLE = {"width": 1366, "height": 768}


def test_an_office_list_uploads_previews_and_imports(live_server, demo, signed_in, app, tmp_path):
    page = signed_in("organiser", viewport=CONSOLE)
    roster = tmp_path / "danh-sach-don-vi.xlsx"
    roster.write_bytes(office_workbook())
    with page.expect_navigation():
        page.click("nav.console-nav >> text=Danh sách hiến máu")
    assert page.locator("#roster-template").get_attribute("href") == "/admin/roster/template.xlsx"
    check_page(page, "admin-roster-console")
    page.set_input_files("#roster", str(roster))
    with page.expect_navigation():
        page.click("#roster-check")
    assert page.locator("#roster-good").inner_text() == "5" and page.locator("#roster-bad").inner_text() == "0"
    notes = page.locator("#roster-notes").inner_text()
    assert "“STT”, “Chức vụ”, “Ghi chú”" in notes  # the columns left out, as the file names them
    assert "“Số CCCD/CMND”" in notes and "“SĐT”" in notes and "số 0" in notes  # the zeros put back
    assert "dòng 7" in notes and "dòng 13" in notes  # the header's line, the footer's line
    sample = page.locator("#roster-sample ~ table, section[aria-labelledby='roster-sample'] table").first
    assert "001085023456" in sample.inner_text() and "0743915000" in sample.inner_text()
    assert "Số CCCD/CMND" in sample.locator("thead").inner_text()
    check_page(page, "admin-roster-office-preview")
    with page.expect_navigation():
        page.click("#roster-import")
    assert "/passes" in page.url and "5" in page.locator(".notice-ok").inner_text()
    with app.app_context():
        names = set(db.session.scalars(sa.select(Donor.full_name).where(Donor.id_number.in_(OFFICE_DONORS_IMPORTED))))
    assert names == {value[0] for value in OFFICE_DONORS_IMPORTED.values()}
