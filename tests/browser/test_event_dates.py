"""Issue 21 in the browser: a "Có" asks "khi nào?" (a month and year is enough), at the kiosk and
on the phone, and the wait counts from it; the 12-hour advice reaches the donor's ticket; a
woman's ninth question shares question 8's screen, which fits the tablet either way up."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.formatting import local_today
from kiosk.models import QuestionnaireResponse
from kiosk.tokens import pass_url
from tests.browser.conftest import PHONE, TABLET, check_page, wait_for_next_screen
from tests.support.browser.kiosk import a_visit, answer_no_until, answer_questionnaire, scan_and_confirm

TABLET_LANDSCAPE = {"width": 1024, "height": 768}


def last_month(app) -> tuple[str, str]:
    """Last month as typed ("11/2026") and as stored ("2026-11")."""
    with app.app_context():
        day = local_today().replace(day=1) - dt.timedelta(days=1)
    return day.strftime("%m/%Y"), day.strftime("%Y-%m")


def stored_response(app) -> QuestionnaireResponse:
    with app.app_context():
        response = db.session.scalars(sa.select(QuestionnaireResponse)).one()
        db.session.expunge(response)
        return response


def test_a_yes_with_a_month_and_year_at_the_kiosk_and_the_advice_on_the_ticket(live_server, demo, page, app):
    """"Có" to a cold shows "khi nào?" (hidden under "Không": no tap for a donor answering no);
    last month typed as mm/yyyy is stored as a month; a "Có" to the work question puts its advice
    on the ticket."""
    typed, stored = last_month(app)
    scan_and_confirm(page, live_server, a_visit(app, sex="M")["token"])
    answer_no_until(page, "7")
    assert page.locator("[id='q7.cold-date']").is_hidden()
    page.click("label[for='q7.cold-yes']")
    assert page.locator("[id='q7.cold-date']").is_visible()
    page.fill("[id='q7.cold-date']", typed)
    check_page(page, "kiosk-q7-when")
    answer_questionnaire(page, yes={"q7.cold", "work.12_hours"}, details={"q7.cold": typed})
    page.wait_for_selector("[data-step=ticket]")
    advice = page.locator("[data-step=ticket] [data-advice]")
    assert "12 giờ sau khi hiến" in advice.inner_text()
    check_page(page, "kiosk-ticket-advice")
    response = stored_response(app)
    assert response.details == {"q7.cold#date": stored}
    assert {flag["item"] for flag in response.flags} == {"q7.cold", "work.12_hours"}


def test_a_yes_with_a_month_and_year_on_the_phone(live_server, demo, new_context, app):
    """The phone asks the same, with the same one tap a screen of "no"; its last screen shows the advice."""
    typed, stored = last_month(app)
    visit = a_visit(app, sex="F")
    phone = new_context(viewport=PHONE).new_page()
    phone.goto(pass_url(live_server.url, visit["token"]))
    answer_no_until(phone, "4")
    phone.click("label[for='q4.vaccine-yes']")
    phone.click("label[for='q4.vaccine-kind-live']")
    phone.fill("[id='q4.vaccine-date']", typed)
    check_page(phone, "phone-q4-when")
    step = phone.locator("[data-step^=questionnaire]").get_attribute("data-step")
    phone.click("label[for='q4.recovered-no']")
    phone.click("label[for='q4.transfusion-no']")
    phone.click("[data-q-next]")
    wait_for_next_screen(phone, step)
    answer_questionnaire(phone, yes={"work.12_hours"})
    phone.wait_for_selector(".outcome-accepted")
    assert phone.locator("[data-advice]").count() == 1
    check_page(phone, "phone-answered-advice")
    response = stored_response(app)
    assert response.details == {"q4.vaccine": "live", "q4.vaccine#date": stored}
    assert response.channel == "phone"


@pytest.mark.parametrize("viewport", [pytest.param(TABLET, id="768x1024"),
                                      pytest.param(TABLET_LANDSCAPE, id="1024x768")])
def test_the_womens_question_shares_question_8s_screen(live_server, demo, new_context, app, viewport):
    """Questions 8 and 9 on one screen, each under its number; the bar on screen before any scroll;
    a "Có" to a birth asks when."""
    page = new_context(viewport=viewport).new_page()
    scan_and_confirm(page, live_server, a_visit(app, sex="F")["token"])
    answer_no_until(page, "8")
    assert page.locator(".q-section-number").inner_text() == "9"
    assert page.locator("[data-q-next]").is_visible() and page.locator("[data-q-none]").is_enabled()
    box = page.locator(".q-bar").bounding_box()
    assert box["y"] + box["height"] <= viewport["height"] + 1
    page.click("label[for='q9.pregnancy_ended-yes']")
    assert page.locator("[id='q9.pregnancy_ended-date']").is_visible()
    assert page.locator("[data-q-none]").is_disabled()
    check_page(page, f"kiosk-q8-q9-{viewport['width']}x{viewport['height']}")


def test_the_donors_own_page_on_a_phone_in_both_languages(live_server, demo, new_context, app):
    """Issue 21, item 8: the pass page shows the donor's donations (date, volume, drive), the day
    they may give again, the count and the next recognition step, at 390x844; no health detail."""
    import secrets

    from kiosk.models import Donation, Drive, DriveStatus, Staff, Visit, VisitStatus

    visit = a_visit(app, sex="M")
    with app.app_context():
        today = local_today()
        donor_id = db.session.get(Visit, visit["id"]).donor_id
        earlier = Drive(name="Chủ nhật Đỏ", drive_date=today - dt.timedelta(days=30), status=DriveStatus.CLOSED)
        db.session.add(earlier)
        db.session.flush()
        past = Visit(drive_id=earlier.id, donor_id=donor_id, token=secrets.token_urlsafe(24), status=VisitStatus.DONE)
        db.session.add(past)
        db.session.flush()
        nurse = db.session.scalars(sa.select(Staff).where(Staff.role == "nurse")).first()
        db.session.add(Donation(visit_id=past.id, drive_id=earlier.id, volume_ml=350, bag_number="B-own",
                                outcome="completed", nurse_id=nurse.id, nonce=secrets.token_urlsafe(16)))
        db.session.commit()
        again = (today + dt.timedelta(days=54)).strftime("%d/%m/%Y")
        donated = earlier.drive_date.strftime("%d/%m/%Y")
    phone = new_context(viewport=PHONE).new_page()
    phone.goto(pass_url(live_server.url, visit["token"]))
    record = phone.locator("[data-own-record]")
    assert record.locator("[data-may-donate-from]").inner_text() == f"Được hiến lại từ {again}"
    assert f"{donated} · 350 ml · Chủ nhật Đỏ" in record.inner_text()
    assert "mốc vinh danh tiếp theo" in record.inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    check_page(phone, "phone-own-record-vi")
    phone.click("text=EN")
    phone.wait_for_selector("html[lang=en]")
    assert phone.locator("[data-may-donate-from]").inner_text() == f"May donate again from {again}"
    check_page(phone, "phone-own-record-en")
