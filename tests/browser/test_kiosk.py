"""The donor kiosk in Chromium at 768x1024, as donors use it."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import QuestionnaireResponse, Visit
from kiosk.tokens import pass_url
from tests.browser.conftest import LAPTOP, PHONE, SCREENS, TABLET, check_page, wait_for_next_screen
from tests.support.browser.kiosk import (a_visit, answer_no_until, answer_questionnaire, arrive_at_the_questions,
                                        open_kiosk, scan_with_scanner, tap_none_of_these)

TABLET_LANDSCAPE = {"width": 1024, "height": 768}


@pytest.mark.both_databases
def test_scanner_typed_pass_to_ticket(live_server, demo, page, app):
    visit = a_visit(app)
    open_kiosk(page, live_server)
    check_page(page, "kiosk-start-768")
    scan_with_scanner(page, pass_url(live_server.url, visit["token"]))
    page.wait_for_selector("[data-step=confirm]")
    assert page.locator(".identity-name").inner_text() == visit["name"]
    assert visit["department"] in page.locator(".identity").inner_text()
    assert "Đây có phải là anh/chị?" in page.locator("h1").inner_text()
    check_page(page, "kiosk-confirm-768")
    page.click("text=Đúng, là tôi")
    page.wait_for_selector("[data-step=questionnaire-0]")
    screens = answer_questionnaire(page, screens="kiosk")
    assert screens == 10  # nine questions (the ninth for women, on the eighth's screen), work, consent
    page.wait_for_selector("[data-step=ticket]")
    assert page.locator("[data-queue-number]").inner_text() == "1"
    assert visit["given_name"] in page.locator(".ticket-name").inner_text()
    assert page.locator(".ticket-qr svg").count() == 1
    check_page(page, "kiosk-ticket-768")
    # The kiosk never changed its URL: nothing about the donor in it.
    assert page.url == f"{live_server.url}/kiosk/XNC"
    # Touch targets of at least 48 px on every button of the ticket screen.
    heights = page.eval_on_selector_all("button", "els => els.filter(e => e.offsetParent).map(e => e.getBoundingClientRect().height)")
    assert min(heights) >= 48


def test_the_ticket_prints_on_an_80mm_receipt(live_server, demo, page, app, tmp_path):
    visit = a_visit(app)
    open_kiosk(page, live_server)
    scan_with_scanner(page, visit["token"])
    page.click("text=Đúng, là tôi")
    answer_questionnaire(page)
    page.wait_for_selector("[data-step=ticket]")
    page.emulate_media(media="print")
    assert not page.locator(".kiosk-header").is_visible()
    assert page.locator(".ticket-drive").is_visible()
    pdf = page.pdf(width="80mm", height="140mm", print_background=True)
    assert pdf[:4] == b"%PDF"


@pytest.mark.both_databases
def test_duplicate_scan_shows_the_number_again_and_creates_nothing(live_server, demo, page, app):
    visit = a_visit(app)
    open_kiosk(page, live_server)
    scan_with_scanner(page, visit["token"])
    page.click("text=Đúng, là tôi")
    answer_questionnaire(page)
    number = page.locator("[data-queue-number]").inner_text()
    page.click("text=Xong")
    page.wait_for_selector("[data-step=start]")
    scan_with_scanner(page, pass_url(live_server.url, visit["token"]))
    page.wait_for_selector("[data-step=outcome-already]")
    assert page.locator(".outcome-already .outcome-kicker").text_content() == "Đã đến rồi"
    assert page.locator(".ticket-number").inner_text() == number
    assert re.search(r"\d{2}:\d{2}", page.locator(".outcome-title").inner_text())
    check_page(page, "kiosk-already-768")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(QuestionnaireResponse)) == 1


def test_forged_and_wrong_codes(live_server, demo, page, app):
    open_kiosk(page, live_server)
    scan_with_scanner(page, f"{live_server.url}/p/{'x' * 32}")
    page.wait_for_selector("[data-step=outcome-unknown]")
    assert "không phải thẻ hợp lệ" in page.locator("h1").inner_text()
    check_page(page, "kiosk-unknown-768")
    page.click("text=Về màn hình đầu")
    page.wait_for_selector("[data-step=start]")
    scan_with_scanner(page, "https://example.com/not-a-pass")
    page.wait_for_selector("[data-step=outcome-unknown]")
    # On a day that is not the drive's, the kiosk says so and offers no scanning at all.
    with app.app_context():
        from kiosk.models import Drive
        drive = db.session.get(Drive, demo["drive_id"])
        drive.drive_date = drive.drive_date.replace(year=drive.drive_date.year + 1)
        db.session.commit()
    page.goto(f"{live_server.url}/kiosk/XNC")
    assert "Hôm nay không có đợt hiến máu" in page.locator("h1").inner_text()
    assert page.locator("[data-scan-input]").count() == 0
    check_page(page, "kiosk-closed-768")


def test_wrong_day_pass_is_told_apart(live_server, demo, page, app):
    """A real pass of another drive at a kiosk that is open today: amber, not red."""
    from kiosk.models import Drive, DriveStatus, Donor
    from kiosk.tokens import new_pass_token
    import datetime as dt

    with app.app_context():
        donor = db.session.scalars(sa.select(Donor).limit(1)).one()
        old = Drive(name="Đợt 1 năm 2026", drive_date=dt.date(2026, 4, 8), status=DriveStatus.CLOSED, target_bags=100)
        db.session.add(old)
        db.session.flush()
        token = new_pass_token()
        db.session.add(Visit(drive_id=old.id, donor_id=donor.id, token=token))
        db.session.commit()
    open_kiosk(page, live_server)
    scan_with_scanner(page, pass_url(live_server.url, token))
    page.wait_for_selector("[data-step=outcome-wrong_drive]")
    assert "đợt hiến máu khác" in page.locator("h1").inner_text()
    check_page(page, "kiosk-wrong-drive-768")


@pytest.mark.both_databases
def test_walk_in_with_a_validation_error_then_success(live_server, demo, page, app):
    open_kiosk(page, live_server)
    page.click("text=Đăng ký người hiến mới")
    page.wait_for_selector("[data-step=walk-in]")
    check_page(page, "kiosk-walk-in-768")
    page.fill("#full_name", "Đinh Thị Mai")
    page.fill("#date_of_birth", "05/05/2012")  # 14 years old
    page.click("label[for=sex-1]")
    page.fill("#id_number", "12345")
    page.fill("#phone", "0123")
    page.click("[data-step=walk-in] button[type=submit]")
    page.wait_for_selector(".field-error")
    errors = page.locator(".field-error").all_inner_texts()
    text = " ".join(errors)
    assert "từ 18 đến 60 tuổi" in text
    assert "12 chữ số" in text
    assert "số di động Việt Nam" in text
    # Nothing typed is lost.
    assert page.input_value("#full_name") == "Đinh Thị Mai"
    check_page(page, "kiosk-walk-in-errors-768")
    page.fill("#date_of_birth", "05/05/1995")
    page.fill("#id_number", "001195009999")
    page.fill("#phone", "912 345 678")  # its 0 lost: repaired, as the roster does
    page.select_option("#department_id", label="Cục Quản lý xuất nhập cảnh")
    page.fill("#rank", "đại uý")
    page.click("[data-step=walk-in] button[type=submit]")
    # Issue 22: the details to check before the questions, as they will be stored.
    page.wait_for_selector("[data-step=walk-in-check]")
    details = page.locator("#walk-in-details").inner_text()
    assert "Đại úy" in details and "0912345678" in details and "Cục Quản lý xuất nhập cảnh" in details
    check_page(page, "kiosk-walk-in-check-768")
    page.set_viewport_size(TABLET_LANDSCAPE)
    check_page(page, "kiosk-walk-in-check-1024")
    page.click("[data-step=walk-in-check] button.button-primary")
    page.wait_for_selector("[data-step=questionnaire-0]")
    answer_questionnaire(page)
    page.wait_for_selector("[data-step=ticket]")
    assert "Mai" in page.locator(".ticket-name").inner_text()
    with app.app_context():
        walk_in = db.session.scalars(sa.select(Visit).where(Visit.registered_via == "walk_in")).one()
        assert walk_in.donor.phone == "0912345678" and walk_in.queue_number == 1
        assert walk_in.donor.rank == "Đại úy" and walk_in.donor.department.name == "Cục Quản lý xuất nhập cảnh"


def test_a_yes_answer_raises_a_flag_the_donor_never_sees(live_server, demo, page, app):
    visit = a_visit(app)
    open_kiosk(page, live_server)
    scan_with_scanner(page, visit["token"])
    page.click("text=Đúng, là tôi")
    answer_questionnaire(page, yes={"q7.cold"})
    page.wait_for_selector("[data-step=ticket]")
    ticket_text = page.locator("#kiosk-stage").inner_text()
    assert "14" not in ticket_text and "7 ngày" not in ticket_text and "cúm" not in ticket_text
    with app.app_context():
        response = db.session.scalars(sa.select(QuestionnaireResponse)).one()
        assert response.flags == [{"item": "q7.cold", "kind": "wait", "days": 7, "row": "7_days",
                                   "source": "TT 26/2013 Art. 5.4"}]


def test_idle_reset_wipes_the_previous_donor(live_server, demo, page, app):
    app.config["KIOSK_IDLE_SECONDS"] = 2
    app.config["KIOSK_STILL_THERE_SECONDS"] = 2
    visit = a_visit(app)
    open_kiosk(page, live_server)
    history_before = page.evaluate("history.length")
    scan_with_scanner(page, visit["token"])
    page.wait_for_selector("[data-step=confirm]")
    assert visit["name"] in page.content()
    # Nobody touches the tablet: "are you still there?" first, then back to the start screen by itself.
    page.wait_for_selector("#still-there", state="visible", timeout=4_000)
    page.wait_for_selector("[data-step=start]", timeout=6_000)
    assert visit["name"] not in page.content()
    assert page.evaluate("history.length") == history_before
    assert page.evaluate("JSON.stringify(history.state)") in ("null", None)
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('htmx')).length") == 0
    # The kiosk adds nothing to the history, so Back leaves it; coming Forward again (from the
    # browser's page cache, or loaded anew) shows the start screen, never the donor.
    page.go_back()
    assert not page.url.startswith(live_server.url)
    page.go_forward()
    page.wait_for_selector("[data-step=start]")
    assert visit["name"] not in page.content()
    # The server closed the kiosk session too: its id no longer confirms anything.
    with app.app_context():
        from kiosk.models import KioskSession
        assert db.session.scalars(sa.select(KioskSession.closed_at)).one() is not None


@pytest.mark.both_databases
def test_phone_pre_check_in_then_the_kiosk_only_confirms_arrival(live_server, demo, new_context, app):
    visit = a_visit(app)
    phone = new_context(viewport=PHONE).new_page()
    phone.goto(pass_url(live_server.url, visit["token"]))
    assert visit["given_name"] in phone.locator("h1").first.inner_text()
    check_page(phone, "phone-pass-390")
    answer_questionnaire(phone, screens="phone")
    assert phone.locator(".outcome .outcome-kicker").text_content() == "Đã trả lời câu hỏi sức khỏe"
    check_page(phone, "phone-pass-answered-390")
    kiosk = new_context(viewport=TABLET).new_page()
    open_kiosk(kiosk, live_server)
    scan_with_scanner(kiosk, pass_url(live_server.url, visit["token"]))
    kiosk.click("text=Đúng, là tôi")
    # Anyone holding the pass link could have answered: the donor says whether the answers were theirs.
    kiosk.wait_for_selector("[data-step=phone-answers]")
    assert "trên điện thoại lúc" in kiosk.locator("h1").inner_text()
    check_page(kiosk, "kiosk-phone-answers-768")
    kiosk.click("text=Đúng, tôi đã trả lời")
    kiosk.wait_for_selector("[data-step=ticket]")  # no questionnaire at the kiosk
    assert kiosk.locator("[data-queue-number]").inner_text() == "1"
    with app.app_context():
        assert db.session.scalars(sa.select(QuestionnaireResponse.channel)).all() == ["phone"]


def test_the_phone_questions_need_no_script(live_server, demo, new_context, app):
    """A slow phone shows the form before its scripts have run, and a tap then sends what the
    server rendered: with scripts off, every screen and the answers' save still work."""
    visit = a_visit(app)
    phone = new_context(viewport=PHONE, java_script_enabled=False).new_page()
    phone.goto(pass_url(live_server.url, visit["token"]))
    screens = answer_questionnaire(phone)
    assert screens == 10  # a woman's ninth question is on the eighth's screen
    assert phone.locator(".outcome .outcome-kicker").text_content() == "Đã trả lời câu hỏi sức khỏe"
    # A screenshot only: axe runs as a script, and scripts are off.
    SCREENS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(SCREENS / "phone-pass-answered-no-script-390.png"), full_page=True)
    with app.app_context():
        response = db.session.scalars(sa.select(QuestionnaireResponse)).one()
        assert response.channel == "phone" and response.answers["consent"] is True


# What a busy machine does to a page: timers run late, while a pending tap is handled first.
# htmx settles a swap (wires up the new step's forms, fills their nonces) in a 20 ms timer.
LATE_SETTLE = """
(() => {
  const original = window.setTimeout;
  window.setTimeout = function (callback, delay, ...rest) {
    return original.call(window, callback, delay === 20 ? 1500 : delay, ...rest);
  };
})();
"""


def test_a_tap_right_after_a_step_appears_is_answered_by_that_step(live_server, demo, new_context, app):
    """Issue 14, item 6: "Đúng, là tôi" tapped before htmx had settled the swap submitted the bare
    form to the page's own URL (a GET with the kiosk session in the query string) and the kiosk
    went back to the start screen; the ticket never came. htmx now settles in the swap's own task."""
    context = new_context()
    context.add_init_script(LATE_SETTLE)
    kiosk = context.new_page()
    arrive_at_the_questions(kiosk, live_server, app)
    assert kiosk.url == f"{live_server.url}/kiosk/XNC"


def test_answers_from_the_phone_that_were_not_the_donors_are_given_again_at_the_kiosk(live_server, demo,
                                                                                     new_context, app):
    from kiosk.models import AuditLog

    visit = a_visit(app)
    phone = new_context(viewport=PHONE).new_page()
    phone.goto(pass_url(live_server.url, visit["token"]))
    answer_questionnaire(phone, yes={"q7.cold"})
    kiosk = new_context(viewport=TABLET).new_page()
    open_kiosk(kiosk, live_server)
    scan_with_scanner(kiosk, pass_url(live_server.url, visit["token"]))
    kiosk.click("text=Đúng, là tôi")
    kiosk.wait_for_selector("[data-step=phone-answers]")
    kiosk.click("text=Không, trả lời lại tại đây")
    answer_questionnaire(kiosk)
    kiosk.wait_for_selector("[data-step=ticket]")
    with app.app_context():
        channels = db.session.scalars(sa.select(QuestionnaireResponse.channel).order_by(QuestionnaireResponse.id)).all()
        assert channels == ["phone", "kiosk"]
        assert db.session.scalars(sa.select(AuditLog.action).where(AuditLog.action == "phone_answers_replaced")).one()


def _walk_in_typed_on(page, name: str, born: str):
    page.fill("#full_name", name)
    page.fill("#date_of_birth", born)
    page.click("label[for=sex-1]")
    page.fill("#id_number", "".join(chr(ord(c) + 0xFEE0) for c in "001190000999"))  # full-width, as some keyboards type
    page.fill("#phone", "0912 345 678")
    page.select_option("#department_id", label="Cục Quản lý xuất nhập cảnh")


def _details_confirmed(page, phone: bool = False):
    """The walk-in's check-your-details step (issue 22): "Đúng, tiếp tục"."""
    page.wait_for_selector("[data-step=walk-in-check]")
    if phone:
        with page.expect_navigation():
            page.click("[data-step=walk-in-check] button.button-primary")
    else:
        page.click("[data-step=walk-in-check] button.button-primary")


# NFD and lower case, as a Mac or some phone keyboards send it.
NFD_NAME = "tra\u0302\u0300n thi\u0323 ngo\u0323c a\u0301nh"


def test_a_walk_in_at_the_kiosk_with_an_8_digit_birth_date_and_an_nfd_name(live_server, demo, page, app):
    page.set_viewport_size(TABLET)
    open_kiosk(page, live_server)
    page.click("text=Đăng ký người hiến mới")
    page.wait_for_selector("[data-step=walk-in]")
    assert page.get_attribute("#date_of_birth", "inputmode") == "numeric"
    _walk_in_typed_on(page, NFD_NAME, "05091990")  # a number pad has no "/"
    check_page(page, "kiosk-walk-in-8-digit-768")
    page.click("[data-step=walk-in] button[type=submit]")
    _details_confirmed(page)
    page.wait_for_selector("[data-step=questionnaire-0]")
    answer_questionnaire(page)
    page.wait_for_selector("[data-step=ticket]")
    assert "Ánh" in page.locator(".ticket-name").inner_text()
    check_page(page, "kiosk-walk-in-ticket-768")
    with app.app_context():
        donor = db.session.scalars(sa.select(Visit).where(Visit.registered_via == "walk_in")).one().donor
        assert donor.full_name == "Trần Thị Ngọc Ánh" and donor.id_number == "001190000999"
        assert donor.date_of_birth.isoformat() == "1990-09-05"


def test_a_walk_in_on_a_phone_with_an_8_digit_birth_date_and_an_nfd_name(live_server, demo, new_context, app):
    phone = new_context(viewport=PHONE).new_page()
    phone.goto(f"{live_server.url}/kiosk/XNC/walk-in")
    _walk_in_typed_on(phone, NFD_NAME, "05091990")
    check_page(phone, "phone-walk-in-8-digit-390")
    with phone.expect_navigation():  # on the phone a plain form: its answer is a new page
        phone.click("form.kiosk-form button[type=submit]")
    phone.wait_for_selector("[data-step=walk-in-check]")
    check_page(phone, "phone-walk-in-check-390")
    _details_confirmed(phone, phone=True)
    phone.wait_for_selector("[data-step=questionnaire-0]")
    assert "Xin chào Ánh" in phone.locator("h1").first.inner_text()
    check_page(phone, "phone-walk-in-greeting-390")
    # The same CCCD again (whatever the date of birth): the desk, never the pass.
    phone.goto(f"{live_server.url}/kiosk/XNC/walk-in")
    _walk_in_typed_on(phone, "Trần Thị Ngọc Ánh", "06091990")
    with phone.expect_navigation():
        phone.click("form.kiosk-form button[type=submit]")
    _details_confirmed(phone, phone=True)
    phone.wait_for_selector(".notice-error")
    assert "vui lòng đến bàn đăng ký với giấy tờ tùy thân" in phone.locator(".notice-error").first.inner_text()
    assert "/p/" not in phone.url
    check_page(phone, "phone-walk-in-known-390")


def test_the_pass_page_outside_the_drive_day_says_when_and_where(live_server, demo, page, app):
    from kiosk.models import Drive

    visit = a_visit(app)
    with app.app_context():
        drive = db.session.get(Drive, demo["drive_id"])
        drive.drive_date = drive.drive_date.replace(year=drive.drive_date.year + 1)
        db.session.commit()
        expected_date = drive.drive_date.strftime("%d/%m/%Y")
    page.set_viewport_size(PHONE)
    page.goto(pass_url(live_server.url, visit["token"]))
    notice = page.locator(".notice-info").inner_text()
    assert expected_date in notice and "Hội trường" in notice
    assert page.locator("input.choice-input").count() == 0
    check_page(page, "phone-pass-not-today-390")


def test_english_and_landscape(live_server, demo, new_context, app):
    page = new_context(viewport=LAPTOP).new_page()
    open_kiosk(page, live_server)
    with page.expect_navigation():  # a plain form: the page loads again, in English
        page.click("button.lang-button[value=en]")
    page.wait_for_selector("html[lang=en] [data-step=start]")
    assert "Scan the QR code on your pass" in page.locator(".scan-label").inner_text()
    check_page(page, "kiosk-start-1280-en")
    visit = a_visit(app)
    scan_with_scanner(page, visit["token"])
    page.wait_for_selector("[data-step=confirm]")
    assert "Is this you?" in page.locator("h1").inner_text()
    page.click("text=Yes, that is me")
    page.wait_for_selector("[data-step=questionnaire-0]")
    assert page.locator("label.choice-yes").first.inner_text().strip().endswith("Yes")
    check_page(page, "kiosk-questionnaire-1280-en")


@pytest.mark.parametrize("viewport", [TABLET, TABLET_LANDSCAPE], ids=["768x1024", "1024x768"])
def test_a_vaccine_and_its_kind_at_the_kiosk_and_none_of_these(live_server, demo, new_context, app, viewport):
    size = f"{viewport['width']}x{viewport['height']}"
    page = new_context(viewport=viewport).new_page()
    arrive_at_the_questions(page, live_server, app)
    answer_no_until(page, "4")
    live = page.locator("label[for='q4.vaccine-kind-live']")
    assert not live.is_visible()  # nothing asked before a "yes"
    page.click("label[for='q4.vaccine-yes']")
    assert live.is_visible() and "sởi" in live.inner_text()
    assert live.bounding_box()["height"] >= 64
    live.click()
    for item in ("q4.recovered", "q4.transfusion"):
        page.click(f"label[for='{item}-no']")
    check_page(page, f"kiosk-q4-vaccine-{size}")
    page.click("[data-q-next]")
    # Question 4 has its own "none of these" button: wait for its screen to go, not for a button.
    wait_for_next_screen(page, "questionnaire-3")
    # Question 5: ten sub-items, "Không có điều nào ở trên" answers them all and moves on.
    assert page.locator(".q-number").inner_text() == "5"
    check_page(page, f"kiosk-q5-{size}")
    tap_none_of_these(page)
    wait_for_next_screen(page, "questionnaire-4")
    assert page.locator(".q-number").inner_text() == "6"
    answer_questionnaire(page)
    page.wait_for_selector("[data-step=ticket]")
    with app.app_context():
        response = db.session.scalars(sa.select(QuestionnaireResponse)).one()
        assert response.details == {"q4.vaccine": "live"}
        assert response.answers["q4.vaccine"] is True
        assert all(response.answers[item] is False for item in response.answers if item.startswith("q5."))
        assert response.flags == [{"item": "q4.vaccine", "kind": "wait", "weeks": 4, "row": "4_weeks",
                                   "detail": "live", "source": "TT 26/2013 Art. 5.3"}]


def test_a_too_long_other_is_refused_with_a_message(live_server, demo, page, app):
    arrive_at_the_questions(page, live_server, app)
    answer_no_until(page, "3")
    page.click("label[for='q3.listed-no']")
    page.click("label[for='q3.other-yes']")
    field = page.locator("[id='q3.other-detail']")
    assert field.is_visible() and field.get_attribute("maxlength") == "200"
    # An old browser, or a script, sends more than the box lets a person type: the server says no.
    field.evaluate("el => el.removeAttribute('maxlength')")
    field.fill("đau " * 60)
    page.click("[data-q-next]")
    page.wait_for_selector(".notice-error")
    assert "tối đa 200 ký tự" in page.locator(".notice-error").inner_text()
    assert page.locator(".q-number").inner_text() == "3"
    assert page.locator("[id='q3.other-detail']").is_visible()  # the "yes" and its text are kept
    check_page(page, "kiosk-q3-too-long-768")
    page.fill("[id='q3.other-detail']", "đau lưng <b>mãn tính</b>")
    page.click("[data-q-next]")
    wait_for_next_screen(page, "questionnaire-2")
    answer_questionnaire(page)
    page.wait_for_selector("[data-step=ticket]")
    with app.app_context():
        response = db.session.scalars(sa.select(QuestionnaireResponse)).one()
        assert response.details == {"q3.other": "đau lưng <b>mãn tính</b>"}


@pytest.mark.both_databases
def test_a_vaccine_kind_on_the_phone(live_server, demo, new_context, app):
    visit = a_visit(app, sex="F")
    phone = new_context(viewport=PHONE).new_page()
    phone.goto(pass_url(live_server.url, visit["token"]))
    phone.wait_for_selector("[data-step=questionnaire-0]")
    answer_no_until(phone, "4")
    phone.click("label[for='q4.vaccine-yes']")
    phone.click("label[for='q4.vaccine-kind-live']")
    for item in ("q4.recovered", "q4.transfusion"):
        phone.click(f"label[for='{item}-no']")
    check_page(phone, "phone-q4-vaccine-390")
    phone.click("[data-q-next]")
    wait_for_next_screen(phone, "questionnaire-3")
    phone.click("[data-q-none]")  # question 5
    wait_for_next_screen(phone, "questionnaire-4")
    answer_no_until(phone, "9")
    phone.click("label[for='q9.pregnant_or_nursing-no']")
    phone.click("label[for='q9.pregnancy_ended-yes']")
    phone.fill("[id='q9.pregnancy_ended-date']", "01032026")
    check_page(phone, "phone-q9-390")
    answer_questionnaire(phone, yes={"q9.pregnancy_ended"})
    assert phone.locator(".outcome .outcome-kicker").text_content() == "Đã trả lời câu hỏi sức khỏe"
    with app.app_context():
        response = db.session.scalars(sa.select(QuestionnaireResponse)).one()
        assert response.channel == "phone"
        assert response.details == {"q4.vaccine": "live", "q9.pregnancy_ended#date": "2026-03-01"}


def test_a_lost_answer_then_the_next_donors_scan_never_shows_the_previous_donor(live_server, demo, page, app):
    """The Wi-Fi drops after the server recorded donor A's scan: the tablet never gets the answer. It
    says so and empties the scan input (keeping its nonce, so A's own retry is a retry). Donor B scans
    next: never shown A's name, B gets a fresh start screen, scans again, and is asked "is this you?"."""
    first, second = a_visit(app, sex="M"), a_visit(app, sex="F")
    open_kiosk(page, live_server)
    assert page.locator("#kiosk-offline").is_hidden()

    def lose_the_answer(route):
        route.fetch()  # the server answers ...
        route.abort("internetdisconnected")  # ... and the answer never arrives

    page.route("**/kiosk/XNC/scan", lose_the_answer)
    with page.expect_event("requestfailed"):
        scan_with_scanner(page, first["token"])
    page.unroute("**/kiosk/XNC/scan")
    page.wait_for_selector("#kiosk-offline", state="visible")
    assert "Không kết nối được máy chủ" in page.locator("#kiosk-offline").inner_text()
    assert page.locator("#scan-code").input_value() == ""
    check_page(page, "kiosk-scan-lost-768")
    scan_with_scanner(page, second["token"])
    page.wait_for_selector(".kiosk-notice")
    assert "quét lại" in page.locator(".kiosk-notice").inner_text()
    assert first["name"] not in page.locator("#kiosk-stage").inner_text()
    assert page.locator("#kiosk-offline").is_hidden()
    check_page(page, "kiosk-scan-again-768")
    scan_with_scanner(page, second["token"])
    page.wait_for_selector("[data-step=confirm]")
    assert page.locator(".identity-name").inner_text() == second["name"]


def _the_rest_answered_no(page, app):
    """"Tiếp" on question 4, "Không" on every later screen: the response stored (after the kiosk's
    ticket or the phone's last screen)."""
    page.click("[data-q-next]")
    wait_for_next_screen(page, "questionnaire-3")
    answer_questionnaire(page)
    page.wait_for_selector("[data-step=ticket], .outcome")
    with app.app_context():
        return db.session.scalars(sa.select(QuestionnaireResponse)).one()


@pytest.mark.parametrize("viewport", [TABLET, TABLET_LANDSCAPE, PHONE],
                         ids=["kiosk-768x1024", "kiosk-1024x768", "phone-390x844"])
def test_a_yes_then_none_of_these_keeps_the_yes(live_server, demo, new_context, app, viewport):
    """Issue 19's worst finding: a donor taps "Có" on the vaccine, picks its kind, then taps "Không
    có điều nào ở trên" out of habit. The shortcut is off while an item is "Có" and says why; a "Có"
    is undone only by its own "Không"; the answer reaches the nurse."""
    size = f"{viewport['width']}x{viewport['height']}"
    page = new_context(viewport=viewport).new_page()
    if viewport is PHONE:
        visit = a_visit(app)
        page.goto(pass_url(live_server.url, visit["token"]))
        page.wait_for_selector("[data-step=questionnaire-0]")
    else:
        arrive_at_the_questions(page, live_server, app)
    answer_no_until(page, "4")
    shortcut, hint = page.locator("[data-q-none]"), page.locator("[data-q-none-hint]")
    assert shortcut.is_enabled() and not hint.is_visible()
    page.click("label[for='q4.vaccine-yes']")
    page.click("label[for='q4.vaccine-kind-live']")
    assert shortcut.is_disabled() and hint.is_visible()
    assert "Anh/chị đã chọn “Có” ở trên" in hint.inner_text()
    check_page(page, f"q4-yes-shortcut-off-{size}")
    shortcut.click(force=True)  # the tap out of habit: nothing happens
    assert page.locator("[data-step=questionnaire-3]").count() == 1
    assert page.locator("#q4\\.vaccine-yes").is_checked()
    page.click("label[for='q4.vaccine-no']")  # only its own "Không" undoes a "Có"
    assert shortcut.is_enabled() and not hint.is_visible()
    page.click("label[for='q4.vaccine-yes']")
    page.click("label[for='q4.vaccine-kind-live']")
    for item in ("q4.recovered", "q4.transfusion"):
        page.click(f"label[for='{item}-no']")
    response = _the_rest_answered_no(page, app)
    assert response.answers["q4.vaccine"] is True and response.details == {"q4.vaccine": "live"}
    assert [flag["item"] for flag in response.flags] == ["q4.vaccine"]


# ----- issue 19: "Tôi không đồng ý" frees the kiosk; the language toggle keeps the step and the answers -----

@pytest.mark.parametrize("viewport", [TABLET, TABLET_LANDSCAPE], ids=["768x1024", "1024x768"])
def test_declining_the_consent_frees_the_kiosk_at_once(live_server, demo, new_context, app, viewport):
    """Issue 19: after "Tôi không đồng ý" the donor was told to see staff and the tablet waited 3 min 15 s."""
    from kiosk.models import AuditLog

    size = f"{viewport['width']}x{viewport['height']}"
    page = new_context(viewport=viewport).new_page()
    visit = arrive_at_the_questions(page, live_server, app)
    answer_no_until(page, None)
    page.click("label[for='consent-no']")
    page.click("[data-q-next]")
    page.wait_for_selector("[data-step=outcome-declined]")
    assert "gặp cán bộ tại bàn tiếp đón" in page.locator("#kiosk-stage").inner_text()
    assert visit["name"] not in page.content()
    assert page.locator("[data-cancel-bar]").is_visible()
    check_page(page, f"kiosk-declined-{size}")
    # Back to the start by itself in a few seconds, with no "are you still there?" first.
    page.wait_for_selector("[data-step=start]", timeout=12_000)
    assert page.locator("#still-there").is_hidden()
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(QuestionnaireResponse)) == 0
        entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "kiosk_session_abandoned")).one()
        assert entry.entity_id == visit["id"] and entry.new_values == {"consent_declined": True}


def test_declining_the_consent_on_the_phone(live_server, demo, new_context, app):
    visit = a_visit(app)
    phone = new_context(viewport=PHONE).new_page()
    phone.goto(pass_url(live_server.url, visit["token"]))
    phone.wait_for_selector("[data-step=questionnaire-0]")
    answer_no_until(phone, None)
    phone.click("label[for='consent-no']")
    with phone.expect_navigation():
        phone.click("[data-q-next]")
    phone.wait_for_selector("[data-declined]")
    assert "gặp cán bộ tại bàn tiếp đón" in phone.locator("[data-declined]").inner_text()
    assert phone.locator("[data-step^=questionnaire]").count() == 0
    check_page(phone, "phone-declined-390")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(QuestionnaireResponse)) == 0


def _switch_language(page, language: str, step: str):
    with page.expect_navigation():  # the step comes back as a whole page, in the other language
        page.click(f"button.lang-button[value={language}]")
    page.wait_for_selector(f"html[lang={language}] [data-step={step}]")


@pytest.mark.parametrize("viewport", [TABLET, TABLET_LANDSCAPE, PHONE],
                         ids=["kiosk-768x1024", "kiosk-1024x768", "phone-390x844"])
def test_the_language_toggle_keeps_the_step_and_every_answer(live_server, demo, new_context, app, viewport):
    """Issue 19, item 4: EN on screen 5 went back to the start screen and every answer was lost."""
    from tests.support.browser.kiosk import arrive

    size = f"{viewport['width']}x{viewport['height']}"
    page = new_context(viewport=viewport).new_page()
    if viewport is PHONE:
        page.goto(pass_url(live_server.url, a_visit(app)["token"]))
        page.wait_for_selector("[data-step=questionnaire-0]")
    else:
        visit = arrive(page, live_server, app)
        _switch_language(page, "en", "confirm")  # "is this you?" stays, in English
        assert "Is this you?" in page.locator("h1").inner_text()
        assert page.locator(".identity-name").inner_text() == visit["name"]
        page.click("text=Yes, that is me")
        page.wait_for_selector("[data-step=questionnaire-0]")
    answer_no_until(page, "4")
    page.click("label[for='q4.vaccine-yes']")
    page.click("label[for='q4.vaccine-kind-live']")
    page.click("label[for='q4.recovered-no']")  # the transfusion left unanswered
    other = "vi" if viewport is not PHONE else "en"
    _switch_language(page, other, "questionnaire-3")
    assert page.locator(".q-number").inner_text() == "4"
    assert page.locator("#q4\\.vaccine-yes").is_checked() and page.locator("#q4\\.vaccine-kind-live").is_checked()
    assert page.locator("#q4\\.recovered-no").is_checked()
    for choice in ("yes", "no"):
        assert not page.locator(f"#q4\\.transfusion-{choice}").is_checked()
    assert page.locator("[data-q-next]").inner_text().strip() == ("Tiếp" if other == "vi" else "Next")
    if viewport is not PHONE:
        assert page.url == f"{live_server.url}/kiosk/XNC"  # nothing in the address, and a reload starts afresh
    check_page(page, f"language-kept-q4-{size}")
    page.click("label[for='q4.transfusion-no']")
    response = _the_rest_answered_no(page, app)
    assert response.answers["q4.vaccine"] is True and response.details == {"q4.vaccine": "live"}
    assert response.answers["q1"] is False and response.answers["q4.transfusion"] is False
