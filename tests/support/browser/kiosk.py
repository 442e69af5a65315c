"""The donor kiosk as a donor uses it: a pass to scan, the kiosk opened, a pass scanned, the
questionnaire answered screen by screen."""
from __future__ import annotations

import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import Site, Visit
from tests.browser.conftest import check_page, wait_for_next_screen, wait_until


def a_visit(app, site_code="XNC", sex=None) -> dict:
    with app.app_context():
        query = sa.select(Visit).join(Site).where(Site.code == site_code, Visit.checked_in_at.is_(None))
        if sex:
            query = query.where(Visit.donor.has(sex=sex))
        visit = db.session.scalars(query.order_by(Visit.id.desc()).limit(1)).one()
        return {"id": visit.id, "token": visit.token, "name": visit.donor.full_name, "sex": visit.donor.sex,
                "given_name": visit.donor.given_name, "department": visit.donor.department.name}


def open_kiosk(page, live_server, code="XNC"):
    page.goto(f"{live_server.url}/kiosk/{code}")
    page.wait_for_selector("[data-step=start]")


def scan_with_scanner(page, text: str):
    """A USB scanner types the pass URL into whatever has focus, then Enter: no touch at all.
    The start screen gives its input the focus once its scripts have run (DOMContentLoaded, after the
    deferred scripts): on a busy machine that comes a moment after the page shows, so wait for it."""
    wait_until(page, "document.activeElement !== null && document.activeElement.id === 'scan-code'")
    page.keyboard.type(text, delay=2)
    page.keyboard.press("Enter")


def arrive(page, live_server, app, **which) -> dict:
    """A donor's pass scanned at the XNC kiosk (a_visit's `which`): the visit, "is this you?" on screen."""
    visit = a_visit(app, **which)
    open_kiosk(page, live_server)
    scan_with_scanner(page, visit["token"])
    page.wait_for_selector("[data-step=confirm]")
    return visit


def arrive_at_the_questions(page, live_server, app, **which) -> dict:
    """arrive(), then "Đúng, là tôi": the questionnaire's first screen on screen."""
    visit = arrive(page, live_server, app, **which)
    page.click("text=Đúng, là tôi")
    page.wait_for_selector("[data-step=questionnaire-0]")
    return visit


def answer_questionnaire(page, yes=(), screens=None, details=None, none_of_these=()):
    """Answer every screen: "Không" except the items in `yes` (with their `details`: a kind's id or a
    text); "Không có điều nào ở trên" on the screens in `none_of_these`; the confirmation "Tôi đồng ý"."""
    seen = 0
    details = details or {}
    page.wait_for_selector("[data-step^=questionnaire]")
    while page.locator("[data-step^=questionnaire]").count():
        # Eleven screens at most: more means the questionnaire started again (and says why).
        assert seen <= 11, page.locator(".notice-error").all_inner_texts()
        step_name = page.locator("[data-step^=questionnaire]").get_attribute("data-step")
        items = [radio.get_attribute("name") for radio in page.locator(".choice-pair input.choice-input[value=no]").all()]
        if any(item.split(".")[0] in none_of_these for item in items):
            page.click("[data-q-none]")
            wait_for_next_screen(page, step_name)
            seen += 1
            continue
        for item in items:
            choice = "yes" if item in yes or item == "consent" else "no"
            page.click(f"label[for='{item}-{choice}']")
            if choice == "yes" and item in details:
                answer_detail(page, item, details[item])
        if screens is not None:
            check_page(page, f"{screens}-{step_name}")
        page.click("[data-q-next]")
        wait_for_next_screen(page, step_name)
        seen += 1
    return seen


def answer_detail(page, item: str, value: str):
    """What a "yes" asks next: a kind (big radio choices), a date, or a short text."""
    kind = page.locator(f"label[for='{item}-kind-{value}']")
    if kind.count():
        kind.click()
    elif page.locator(f"[id='{item}-date']").count():
        page.fill(f"[id='{item}-date']", value)
    else:
        page.fill(f"[id='{item}-detail']", value)
