"""Kiosks through a network drop (issue 20), in Chromium with Playwright's offline switch: two paired
tablets check donors in while the server cannot be reached, and everything arrives once."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from kiosk import devices
from kiosk.extensions import db
from kiosk.models import Device, OfflineAction, QuestionnaireResponse, Site, Visit
from kiosk.tokens import pass_url
from tests.browser.conftest import TABLET, check_page, wait_until
from tests.support.browser.kiosk import answer_questionnaire, scan_with_scanner

QUEUE = "kiosk-offline-queue:XNC"


def paired_kiosk(app, live_server, new_context, name):
    with app.app_context():
        site = db.session.scalars(sa.select(Site).where(Site.code == "XNC")).one()
        _device, code = devices.add_device(db.session, staff_id=None, site_id=site.id, kind="kiosk", name=name)
    page = new_context(viewport=TABLET).new_page()
    page.goto(f"{live_server.url}/pair/{code}")
    with page.expect_navigation():
        page.click("#pair-submit")
    page.wait_for_selector("[data-step=start]")
    # The pack is in, and the service worker keeps the shell (the page, its files).
    wait_until(page, "localStorage.getItem('kiosk-offline-pack:XNC') !== null", 10_000)
    wait_until(page, "navigator.serviceWorker.controller !== null", 10_000)
    return page


def waiting(page) -> int:
    return page.evaluate(f"JSON.parse(localStorage.getItem('{QUEUE}') || '[]').length")


def check_in_offline(page, live_server, token, *, phone_answers=False):
    """A pass scanned and the donor checked in on a tablet that is offline: the ticket's number."""
    page.wait_for_selector("[data-step=start]")
    scan_with_scanner(page, pass_url(live_server.url, token))
    page.wait_for_selector("[data-step=confirm]")
    page.click("[data-step=confirm] button.button-primary")
    if phone_answers:
        page.wait_for_selector("[data-step=phone-answers]")
        page.click("[data-step=phone-answers] button.button-primary")
    else:
        answer_questionnaire(page)
    page.wait_for_selector("[data-step=ticket]")
    number = int(page.inner_text("[data-queue-number]"))
    page.click("[data-step=ticket] button.button-primary")
    return number


@pytest.mark.both_databases
def test_two_kiosks_through_a_drop(live_server, demo, new_context, app):
    app.config.update(DEVICE_PAIRING="required", KIOSK_OFFLINE_RETRY_SECONDS=1)
    with app.app_context():
        visits = db.session.scalars(sa.select(Visit).join(Site).where(Site.code == "XNC", Visit.checked_in_at.is_(None))
                                    .order_by(Visit.id).limit(3)).all()
        tokens = [(v.id, v.token) for v in visits]
    first = paired_kiosk(app, live_server, new_context, "Kiosk A")
    first.context.set_offline(True)
    number = check_in_offline(first, live_server, tokens[0][1])
    assert waiting(first) == 1
    banner = first.locator("#kiosk-offline-banner")
    assert banner.is_visible() and banner.inner_text() == "Đang ngoại tuyến — 1 lượt chờ gửi"
    check_page(first, "kiosk-offline-start")
    first.context.set_offline(False)
    wait_until(first, f"JSON.parse(localStorage.getItem('{QUEUE}') || '[]').length === 0", 10_000)
    with app.app_context():
        assert db.session.get(Visit, tokens[0][0]).queue_number == number
