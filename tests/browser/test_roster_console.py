"""An office's own roster through the console in Chromium at 1366x768: title rows, merged cells,
STT / Chức vụ / Ghi chú, numbers that lost their 0, a footer; the preview says what it did."""
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import Donor, Site, Visit
from tests.browser.conftest import check_page
from tests.support.rosters import OFFICE_DONORS_IMPORTED, SECOND_OFFICE_DONORS, office_workbook, second_office_workbook

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
    # The demo drive has two sites: the new department's is asked before anything is imported.
    page.locator("#roster-sites select").first.select_option(label="Hội trường Cục Quản lý xuất nhập cảnh (XNC)")
    with page.expect_navigation():
        page.click("#roster-import")
    assert "/passes" in page.url and "5" in page.locator(".notice-ok").inner_text()
    with app.app_context():
        names = set(db.session.scalars(sa.select(Donor.full_name).where(Donor.id_number.in_(OFFICE_DONORS_IMPORTED))))
    assert names == {value[0] for value in OFFICE_DONORS_IMPORTED.values()}


def test_a_list_without_sex_or_rh_asks_the_site_shows_what_it_read_and_skips_the_signatures(
        live_server, demo, signed_in, app, tmp_path):
    """Issue 22, item 1: no "Giới tính" (the CCCD says it), "A" and "B" without Rh, "NGƯỜI LẬP BIỂU",
    a rank and a name under the ID column; a new department in a drive with two sites."""
    page = signed_in("organiser", viewport=CONSOLE)
    roster = tmp_path / "ds-phong-hau-can.xlsx"
    roster.write_bytes(second_office_workbook())
    page.goto(f"{live_server.url}/admin/drives/{demo['drive_id']}/roster")
    page.set_input_files("#roster", str(roster))
    with page.expect_navigation():
        page.click("#roster-check")
    assert page.locator("#roster-good").inner_text() == "3" and page.locator("#roster-bad").inner_text() == "0"
    sample = page.locator("section[aria-labelledby='roster-sample'] table").inner_text()
    assert "Nữ (theo CCCD)" in sample and "Nam (theo CCCD)" in sample
    assert "A (chưa rõ Rh)" in sample and "Thượng úy" in sample and "Thiếu tá" in sample
    skipped = page.locator("#roster-skipped").inner_text()
    assert "NGƯỜI LẬP BIỂU" in skipped and "Đại úy" in skipped and "Tổng cộng" in skipped
    assert page.locator("#roster-error-table").count() == 0
    check_page(page, "admin-roster-without-sex-preview")
    # Import without choosing the site: refused in words, nothing written.
    with page.expect_navigation():
        page.click("#roster-import")
    assert page.locator("#roster-sites-error").is_visible()
    check_page(page, "admin-roster-site-missing")
    page.locator("#roster-sites select").first.select_option(label="Hội trường Bộ Tư lệnh Cảnh sát cơ động (CSCD)")
    with page.expect_navigation():
        page.click("#roster-import")
    assert "/passes" in page.url
    with app.app_context():
        sites = set(db.session.scalars(
            sa.select(Site.code).join(Visit, Visit.site_id == Site.id).join(Donor, Donor.id == Visit.donor_id)
            .where(Donor.id_number.in_([donor[3] for donor in SECOND_OFFICE_DONORS]))))
    assert sites == {"CSCD"}
