"""The camera scanner (static/js/camera.js) in Chromium, on both pages that use it: a pass's QR
code held to the kiosk's camera checks the donor in, a ticket's held to the nurse station's camera
opens the donor. Chromium's fake camera plays a still image of the code."""
from __future__ import annotations

import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import Visit
from kiosk.qr import qr_png
from kiosk.tokens import pass_url
from tests.browser.conftest import LAPTOP, TABLET
from tests.support.browser.camera import page_whose_camera_shows, y4m_of
from tests.support.browser.kiosk import a_visit, open_kiosk
from tests.conftest import NURSE_PASSWORD
from tests.support.donors import check_in, pick_donor


def test_camera_scanned_pass(live_server, demo, playwright_instance, app, tmp_path, page_problems):
    visit = a_visit(app)
    video = tmp_path / "pass.y4m"
    y4m_of(qr_png(pass_url(live_server.url, visit["token"]), box_size=6), video)
    with page_whose_camera_shows(playwright_instance, page_problems, video, TABLET) as page:
        open_kiosk(page, live_server)
        page.click("#camera-button")
        page.wait_for_selector("[data-step=confirm]", timeout=15_000)
        assert page.locator(".identity-name").inner_text() == visit["name"]


def test_camera_scanned_ticket_opens_the_donor_at_the_nurse_station(live_server, demo, playwright_instance, app,
                                                                     tmp_path, page_problems):
    visit_id = pick_donor(app, "XNC")
    check_in(app, visit_id, "XNC")
    with app.app_context():
        token = db.session.scalars(sa.select(Visit.token).where(Visit.id == visit_id)).one()
    video = tmp_path / "ticket.y4m"
    y4m_of(qr_png(pass_url(live_server.url, token), box_size=6), video)
    with page_whose_camera_shows(playwright_instance, page_problems, video, LAPTOP) as page:
        page.goto(f"{live_server.url}/auth/sign-in?next=/nurse/XNC")
        page.fill("#username", "yta")
        page.fill("#password", NURSE_PASSWORD)
        page.click("#sign-in-submit")
        page.wait_for_url(f"{live_server.url}/nurse/XNC")
        page.click("#camera-start")
        page.wait_for_url(f"{live_server.url}/nurse/XNC/visit/{visit_id}", timeout=15_000)
        page.wait_for_selector(".donor-head")
