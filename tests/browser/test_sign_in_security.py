"""Issue 12's sign-in and staff pages in Chromium: a nurse's sites, the claim button, two-factor
enrolment and sign-in with a code, the activity page; axe on each, at laptop and tablet sizes."""
from __future__ import annotations

import datetime as dt

import pyotp
import sqlalchemy as sa

from kiosk.auth import hash_password
from kiosk.extensions import db
from kiosk.models import Staff, StaffRole
from tests.browser.conftest import TABLET, check_page
from tests.conftest import NURSE_PASSWORD
from tests.support.donors import check_in, pick_donor


def test_a_nurse_without_sites_then_with_one(app, live_server, demo, signed_in, new_context):
    with app.app_context():
        db.session.add(Staff(username="ytamoi", display_name="Y tá Phạm Thu Trang", role=StaffRole.NURSE,
                             password_hash=hash_password(NURSE_PASSWORD)))
        db.session.commit()
    nurse = new_context(viewport=TABLET).new_page()
    nurse.goto(f"{live_server.url}/auth/sign-in")
    nurse.fill("#username", "ytamoi")
    nurse.fill("#password", NURSE_PASSWORD)
    with nurse.expect_navigation():
        nurse.click("#sign-in-submit")
    nurse.wait_for_selector("#no-sites")
    check_page(nurse, "nurse-no-sites-768")

    organiser = signed_in("organiser")
    organiser.goto(f"{live_server.url}/admin/staff")
    with organiser.expect_navigation():
        organiser.click('#staff-ytamoi a:has-text("Điểm")')
    organiser.wait_for_selector("#staff-sites")
    check_page(organiser, "admin-staff-sites-1280")
    organiser.check("#staff-sites input >> nth=0")
    with organiser.expect_navigation():
        organiser.click("#staff-sites-save")
    organiser.wait_for_selector("#staff-ytamoi .staff-sites")
    assert "XNC" in organiser.locator("#staff-ytamoi .staff-sites").inner_text() or \
        "CSCD" in organiser.locator("#staff-ytamoi .staff-sites").inner_text()
    check_page(organiser, "admin-staff-1280")
    nurse.reload()
    assert nurse.locator(".site-choice").count() == 1


def test_the_claim_button_takes_the_donor(app, live_server, demo, signed_in):
    visit_id = pick_donor(app, "XNC")
    check_in(app, visit_id, "XNC")
    page = signed_in("nurse", viewport=TABLET)
    page.goto(f"{live_server.url}/nurse/XNC/visit/{visit_id}")
    page.wait_for_selector("#claim-button")
    check_page(page, "nurse-claim-768")
    with page.expect_navigation():
        page.click("#claim-button")
    page.wait_for_selector(".status-in_screening")
    assert page.locator("#claim-button").count() == 0


def test_two_factor_enrolment_and_sign_in_with_a_code(app, live_server, demo, signed_in, new_context):
    page = signed_in("organiser")
    with page.expect_navigation():
        page.click("#own-account")
    page.wait_for_selector("#own-password-save")
    check_page(page, "own-account-1280")
    with page.expect_navigation():
        page.click("#two-factor-link")
    with page.expect_navigation():
        page.click("#two-factor-start")
    page.wait_for_selector(".two-factor-qr svg")
    check_page(page, "two-factor-enrol-1280")
    secret = page.locator("#two-factor-secret").inner_text()
    enrolment_code = pyotp.TOTP(secret).now()
    page.fill("#code", enrolment_code)
    page.click("#two-factor-confirm")
    page.wait_for_selector("#two-factor-on")

    from tests.conftest import ORGANISER_PASSWORD

    fresh = new_context(viewport=TABLET).new_page()
    fresh.goto(f"{live_server.url}/auth/sign-in")
    fresh.fill("#username", "bantochuc")
    fresh.fill("#password", ORGANISER_PASSWORD)
    with fresh.expect_navigation():
        fresh.click("#sign-in-submit")
    fresh.wait_for_selector("#code-submit")
    check_page(fresh, "sign-in-code-768")
    # A code works once: the one that confirmed the app is spent; the app's next one signs in.
    fresh.fill("#code", enrolment_code)
    with fresh.expect_navigation():
        fresh.click("#code-submit")
    fresh.wait_for_selector(".notice-error")
    assert "đã được dùng" in fresh.locator(".notice-error").inner_text()
    check_page(fresh, "sign-in-code-used-768")
    next_step = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30)
    fresh.fill("#code", pyotp.TOTP(secret).at(next_step))
    with fresh.expect_navigation():
        fresh.click("#code-submit")
    fresh.wait_for_url(f"{live_server.url}/admin/**")


def test_the_activity_page(app, live_server, demo, signed_in, new_context):
    wrong = new_context().new_page()
    wrong.goto(f"{live_server.url}/auth/sign-in")
    wrong.fill("#username", "yta")
    wrong.fill("#password", "sai-mat-khau")
    wrong.click("#sign-in-submit")
    wrong.wait_for_selector(".notice-error")
    page = signed_in("organiser")
    page.goto(f"{live_server.url}/admin/activity")
    page.wait_for_selector("#activity-table")
    assert page.locator('tr[data-action="sign_in_failed"]').count() == 1
    check_page(page, "admin-activity-1280")
    page.select_option("#filter-action", "sign_in_failed")
    page.click("#activity-filter")
    page.wait_for_url("**action=sign_in_failed**")
    assert page.locator('tr[data-action="sign_in"]').count() == 0
    page.set_viewport_size(TABLET)
    check_page(page, "admin-activity-768")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Staff)) >= 2
