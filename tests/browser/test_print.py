"""The console at 1366x768: a pass sheet's PDF made in the background with a progress bar and
downloaded, and the audit log's pages and filters."""
import re
import subprocess

import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import Department, Donor, Visit
from tests.browser.conftest import check_page
from tests.support.audit import fill_audit_log

CONSOLE = {"width": 1366, "height": 768}


def test_the_passes_page_makes_a_pdf_and_downloads_it(live_server, demo, signed_in, app, tmp_path):
    page = signed_in("organiser", viewport=CONSOLE)
    drive_id = demo["drive_id"]
    with app.app_context():
        department = db.session.scalars(sa.select(Department).where(Department.name == "Cục Kỹ thuật nghiệp vụ")).one()
        department_id = department.id
        count = db.session.scalar(sa.select(sa.func.count(Visit.id)).join(Donor, Donor.id == Visit.donor_id)
                                  .where(Donor.department_id == department_id))
    page.goto(f"{live_server.url}/admin/drives/{drive_id}/passes")
    check_page(page, "admin-passes-pdf-before")
    widget = page.locator(f"#pdf-passes-{drive_id}-department-{department_id}")
    widget.locator("button.pdf-make").click()
    # The bar shows while it runs (it may already be done on a fast machine), then the link.
    page.wait_for_selector(f"#pdf-passes-{drive_id}-department-{department_id} progress, "
                           f"#pdf-passes-{drive_id}-department-{department_id} a.pdf-download", timeout=30000)
    if page.locator(f"#pdf-passes-{drive_id}-department-{department_id} progress").count():
        check_page(page, "admin-passes-pdf-progress")
    link = page.locator(f"#pdf-passes-{drive_id}-department-{department_id} a.pdf-download")
    link.wait_for(timeout=120000)
    assert f"{count} thẻ" in page.locator(f"#pdf-passes-{drive_id}-department-{department_id}").inner_text()
    check_page(page, "admin-passes-pdf-done")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename.endswith(".pdf")
    saved = tmp_path / "passes.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF-")
    text = subprocess.run(["pdftotext", str(saved), "-"], capture_output=True, text=True, check=True).stdout
    assert "Cục Kỹ thuật nghiệp vụ" in " ".join(text.split())
    # Polling stopped once it was done: the link stays put.
    page.wait_for_timeout(1500)
    assert link.count() == 1


def test_the_audit_log_pages_and_filters_in_the_browser(live_server, demo, signed_in, app):
    page = signed_in("organiser", viewport=CONSOLE)
    drive_id = demo["drive_id"]
    log = fill_audit_log(app, drive_id)
    page.goto(f"{live_server.url}/admin/drives/{drive_id}/audit")
    assert page.locator("#audit-table tbody tr").count() == 50
    check_page(page, "admin-audit-paged")
    with page.expect_navigation():
        page.click("#audit-older")
    assert "page=2" in page.url and page.locator("#audit-table tbody tr").count() == 50
    page.goto(f"{live_server.url}/admin/drives/{drive_id}/audit")
    page.select_option("#action", "kiosk-scan")
    page.select_option("#who", "device:kiosk:XNC")
    page.fill("#day", log["today"].strftime("%d/%m/%Y"))
    with page.expect_navigation():
        page.click("#audit-filter")
    assert re.search(r"action=kiosk-scan", page.url) and "who=device" in page.url
    summary = page.locator("#audit-summary").inner_text()
    assert "60 mục khớp" in summary  # today's scans: entries 120..299, one in three
    assert page.locator("#audit-table tbody tr").count() == 50
    check_page(page, "admin-audit-filtered")
    with page.expect_navigation():
        page.click("#audit-older")
    assert page.locator("#audit-table tbody tr").count() == 10 and "who=device" in page.url
    with page.expect_navigation():
        page.click("text=Hiện tất cả")
    assert page.locator("#audit-table tbody tr").count() == 50
