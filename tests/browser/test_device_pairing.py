"""Enrolled devices in Chromium, with DEVICE_PAIRING required: an unpaired tablet sees "this tablet is
not set up"; the organiser adds a kiosk tablet in the console (1280x800), the tablet (768x1024)
opens the pairing link, pairs, and checks a donor in; revoked, it is refused at its next request."""
import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import AuditLog, Device
from tests.browser.conftest import TABLET, check_page
from tests.support.browser.kiosk import a_visit, answer_questionnaire, scan_with_scanner


@pytest.mark.both_databases
def test_pair_a_tablet_check_a_donor_in_and_revoke_it(live_server, demo, signed_in, new_context, app):
    app.config["DEVICE_PAIRING"] = "required"
    tablet = new_context(viewport=TABLET).new_page()
    response = tablet.goto(f"{live_server.url}/kiosk/XNC")
    assert response.status == 403
    assert "Máy tính bảng này chưa được cài đặt" in tablet.inner_text("h1")
    check_page(tablet, "devices-not-set-up")

    console = signed_in("organiser")
    with console.expect_navigation():
        console.click("nav.console-nav >> text=Thiết bị")
    check_page(console, "admin-devices-empty")
    console.fill("#name", "Máy tiếp đón cổng chính")
    xnc = console.locator("#site_id option", has_text="XNC ·").get_attribute("value")
    console.select_option("#site_id", value=xnc)
    console.select_option("#kind", value="kiosk")
    with console.expect_navigation():
        console.click("#device-add-submit")
    link = console.locator("#pairing-link").inner_text()
    assert console.locator(".pairing-qr svg").count() == 1
    check_page(console, "admin-device-pairing")

    tablet.goto(link)
    check_page(tablet, "devices-pair")
    with tablet.expect_navigation():
        tablet.click("#pair-submit")
    tablet.wait_for_selector("[data-step=start]")
    cookie = next(c for c in tablet.context.cookies() if c["name"] == "kiosk_device")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    visit = a_visit(app)
    scan_with_scanner(tablet, f"{live_server.url}/p/{visit['token']}")
    tablet.wait_for_selector("[data-step=confirm]")
    tablet.click("[data-step=confirm] button.button-primary")
    answer_questionnaire(tablet)
    tablet.wait_for_selector("[data-step=ticket]")
    with app.app_context():
        actors = set(db.session.scalars(sa.select(AuditLog.actor).where(AuditLog.action == "checked_in")))
    assert actors == {"device:Máy tiếp đón cổng chính"}

    console.goto(f"{live_server.url}/admin/devices")
    assert "Đã ghép nối" in console.inner_text("#devices")
    check_page(console, "admin-devices")
    with console.expect_navigation():
        console.click("#devices button.button-danger")
    assert "Đã thu hồi" in console.inner_text("#devices")
    with app.app_context():
        assert db.session.scalars(sa.select(Device.revoked_at)).one() is not None
    response = tablet.goto(f"{live_server.url}/kiosk/XNC")
    assert response.status == 403
