"""The kiosk as a drive uses it all day, in Chromium at 768x1024 and 1024x768: the camera full screen,
no camera button where the browser gives no camera, "are you still there?" before any wipe, the
ticket kept above the fold, every new donor in Vietnamese, and the site a pass is registered at."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from kiosk.tokens import pass_url
from tests.browser.conftest import LAPTOP, TABLET, check_page, wait_until
from tests.support.browser.camera import page_whose_camera_shows, y4m_of
from tests.support.browser.kiosk import (a_visit, answer_no_until, answer_questionnaire, arrive,
                                        arrive_at_the_questions, open_kiosk, scan_with_scanner)

LANDSCAPE = {"width": 1024, "height": 768}
SIZES = [pytest.param(TABLET, id="768x1024"), pytest.param(LANDSCAPE, id="1024x768")]


def _inside(page, selector: str) -> bool:
    """The element is wholly on the screen, without scrolling."""
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    return (box is not None and box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= size["width"] + 1
            and box["y"] + box["height"] <= size["height"] + 1)


@pytest.mark.parametrize("viewport", SIZES)
def test_the_camera_fills_the_screen_with_a_frame_a_hint_and_a_close_button(live_server, demo, playwright_instance,
                                                                            app, tmp_path, page_problems, viewport):
    # The camera shows no code at all, so the view stays open to be looked at.
    video = tmp_path / "nothing.y4m"
    blank = io.BytesIO()
    Image.new("L", (64, 64), 200).save(blank, format="PNG")
    y4m_of(blank.getvalue(), video)
    with page_whose_camera_shows(playwright_instance, page_problems, video, viewport) as page:
        open_kiosk(page, live_server)
        page.click("#camera-button")
        page.wait_for_selector("#camera-panel", state="visible")
        wait_until(page, "document.getElementById('camera-video').videoWidth > 0")
        panel = page.locator("#camera-panel").bounding_box()
        assert (panel["x"], panel["y"], panel["width"], panel["height"]) == (0, 0, viewport["width"], viewport["height"])
        for part in ("[data-camera-close]", "#camera-video", ".camera-aim", "#camera-status"):
            assert _inside(page, part), part
        assert page.locator(".camera-aim").bounding_box()["width"] >= 250
        assert "khung" in page.locator("#camera-status").inner_text()
        assert page.eval_on_selector("#camera-status", "e => parseFloat(getComputedStyle(e).fontSize)") >= 24
        name = f"kiosk-camera-{viewport['width']}x{viewport['height']}"
        check_page(page, name)
        page.click("[data-camera-close]")
        page.wait_for_selector("#camera-panel", state="hidden")
        assert page.evaluate("document.activeElement.id") == "scan-code"


@pytest.mark.parametrize("path", ["/kiosk/XNC", "/nurse/XNC"])
def test_on_plain_http_the_camera_button_is_really_hidden(live_server, demo, new_context, signed_in, path):
    # The test server is on loopback, which browsers count as secure: the page is told it is not.
    if path.startswith("/nurse"):
        page = signed_in("nurse")
    else:
        page = new_context(viewport=TABLET).new_page()
    page.add_init_script("Object.defineProperty(window, 'isSecureContext', {value: false});")
    page.goto(live_server.url + path)
    page.wait_for_load_state()
    button = "#camera-button" if path.startswith("/kiosk") else "#camera-start"
    assert page.locator(button).count() == 1
    assert page.locator(button).is_hidden()
    assert page.eval_on_selector(button, "e => getComputedStyle(e).display") == "none"


def test_still_there_counts_down_and_a_touch_keeps_the_screen(live_server, demo, page, app):
    app.config["KIOSK_IDLE_SECONDS"] = 1
    app.config["KIOSK_STILL_THERE_SECONDS"] = 4
    visit = arrive(page, live_server, app)
    page.wait_for_selector("#still-there", state="visible", timeout=4_000)
    assert "Anh/chị còn ở đây không?" in page.locator("#still-there-title").inner_text()
    assert int(page.locator("[data-still-there-count]").inner_text()) <= 4
    check_page(page, "kiosk-still-there-768")
    page.click("[data-still-there]")
    assert page.locator("#still-there").is_hidden()
    assert page.locator("[data-step=confirm]").count() == 1
    # Untouched again: the question comes back, and then the wipe.
    page.wait_for_selector("#still-there", state="visible", timeout=4_000)
    page.wait_for_selector("[data-step=start]", timeout=8_000)
    assert visit["name"] not in page.content()
    assert page.locator("#still-there").is_hidden()


def test_the_questionnaire_waits_longer_than_the_other_steps(live_server, demo, page, app):
    app.config["KIOSK_IDLE_SECONDS"] = 1
    app.config["KIOSK_QUESTIONNAIRE_IDLE_SECONDS"] = 600
    arrive_at_the_questions(page, live_server, app)
    page.wait_for_timeout(2_500)
    assert page.locator("#still-there").is_hidden()
    assert page.locator("[data-step=questionnaire-0]").count() == 1


@pytest.mark.parametrize("viewport", SIZES)
def test_the_ticket_stays_above_the_fold_until_done_and_the_next_donor_starts_in_vietnamese(
        live_server, demo, new_context, app, viewport):
    app.config["KIOSK_IDLE_SECONDS"] = 1  # every other step would have asked by now
    page = new_context(viewport=viewport).new_page()
    open_kiosk(page, live_server)
    page.click("button.lang-button[value=en]")
    page.wait_for_selector("html[lang=en] [data-step=start]")
    assert "Scan the QR code" in page.locator(".scan-label").inner_text()
    visit = a_visit(app)
    scan_with_scanner(page, visit["token"])
    page.wait_for_selector("[data-step=confirm]")
    page.click("text=Yes, that is me")
    answer_questionnaire(page)
    page.wait_for_selector("[data-step=ticket]")
    for part in ("[data-queue-number]", ".ticket-qr svg", "[data-step=ticket] button[type=submit]"):
        assert _inside(page, part), part
    check_page(page, f"kiosk-ticket-{viewport['width']}x{viewport['height']}-en")
    page.wait_for_timeout(2_500)
    assert page.locator("#still-there").is_hidden()
    assert page.locator("[data-step=ticket]").count() == 1
    page.click("[data-step=ticket] button[type=submit]")
    page.wait_for_selector("[data-step=start]")
    page.wait_for_load_state()
    assert "Quét mã QR" in page.locator(".scan-label").inner_text()
    assert page.locator("html").get_attribute("lang") == "vi"
    assert page.locator("button.lang-button[value=vi]").get_attribute("aria-current") == "true"


def test_after_the_idle_wipe_the_next_donor_starts_in_vietnamese(live_server, demo, new_context, app):
    app.config["KIOSK_IDLE_SECONDS"] = 1
    app.config["KIOSK_STILL_THERE_SECONDS"] = 1
    page = new_context(viewport=LANDSCAPE).new_page()
    open_kiosk(page, live_server)
    page.click("button.lang-button[value=en]")
    page.wait_for_selector("html[lang=en] [data-step=start]")
    scan_with_scanner(page, a_visit(app)["token"])
    page.wait_for_selector("[data-step=confirm]")
    page.wait_for_selector("text=Quét mã QR", timeout=8_000)
    page.wait_for_selector("[data-step=start]")
    assert page.locator("button.lang-button[value=vi]").get_attribute("aria-current") == "true"


@pytest.mark.parametrize("viewport", SIZES)
def test_a_pass_for_the_other_site_says_where_the_donor_is_registered(live_server, demo, new_context, app, viewport):
    page = new_context(viewport=viewport).new_page()
    visit = a_visit(app, site_code="CSCD")
    open_kiosk(page, live_server, code="XNC")
    scan_with_scanner(page, pass_url(live_server.url, visit["token"]))
    page.wait_for_selector("[data-step=confirm]")
    notice = page.locator("[data-registered-site]").inner_text()
    assert "Hội trường Bộ Tư lệnh Cảnh sát cơ động" in notice and "Hội trường Cục Quản lý xuất nhập cảnh" in notice
    check_page(page, f"kiosk-other-site-{viewport['width']}x{viewport['height']}")


def test_a_pass_for_this_site_says_nothing_of_sites(live_server, demo, new_context, app):
    page = new_context(viewport=LAPTOP).new_page()
    open_kiosk(page, live_server)
    scan_with_scanner(page, a_visit(app)["token"])
    page.wait_for_selector("[data-step=confirm]")
    assert page.locator("[data-registered-site]").count() == 0


@pytest.mark.parametrize("viewport", SIZES)
def test_the_next_person_cancels_a_questionnaire_left_half_done(live_server, demo, new_context, app, viewport):
    """A donor walks away on the second screen of the questionnaire: the next in line taps "Hủy —
    người tiếp theo" (on every step but the start) and scans at once; nothing of the first donor is
    kept as answers or left on screen."""
    import sqlalchemy as sa

    from kiosk.extensions import db
    from kiosk.models import QuestionnaireResponse

    size = f"{viewport['width']}x{viewport['height']}"
    page = new_context(viewport=viewport).new_page()
    open_kiosk(page, live_server)
    cancel = page.locator("[data-cancel-bar]")
    assert cancel.is_hidden()  # the start screen has nothing to cancel
    first, second = a_visit(app, sex="M"), a_visit(app, sex="F")
    scan_with_scanner(page, first["token"])
    page.wait_for_selector("[data-step=confirm]")
    assert cancel.is_visible() and "Hủy — người tiếp theo" in cancel.inner_text()
    page.click("text=Đúng, là tôi")
    page.wait_for_selector("[data-step=questionnaire-0]")
    page.click("label[for='q1-no']")  # a screen of one item: its "Không" moves on
    page.wait_for_selector("[data-step=questionnaire-1]")
    check_page(page, f"kiosk-questionnaire-cancel-{size}")
    page.click("[data-cancel-bar] [data-restart]")
    page.wait_for_selector("[data-step=start]", timeout=3_000)
    assert cancel.is_hidden() and first["name"] not in page.content()
    scan_with_scanner(page, second["token"])
    page.wait_for_selector("[data-step=confirm]")
    assert page.locator(".identity-name").inner_text() == second["name"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(QuestionnaireResponse)) == 0


def test_still_there_can_start_again_at_once(live_server, demo, page, app):
    """The idle question has "Bắt đầu lại ngay": the next in line need not wait out the countdown."""
    app.config["KIOSK_IDLE_SECONDS"] = 1
    app.config["KIOSK_STILL_THERE_SECONDS"] = 60
    visit = arrive(page, live_server, app)
    page.wait_for_selector("#still-there", state="visible", timeout=4_000)
    check_page(page, "kiosk-still-there-restart-768")
    page.click("#still-there [data-restart]")
    page.wait_for_selector("[data-step=start]", timeout=3_000)
    assert page.locator("#still-there").is_hidden()
    assert visit["name"] not in page.content()


def _scanner_types(page, text: str):
    """A USB scanner types into whatever has focus, then Enter: no wait for the scan input."""
    page.keyboard.type(text, delay=2)
    page.keyboard.press("Enter")


@pytest.mark.parametrize("language,viewport", [pytest.param("vi", TABLET, id="vi-768x1024"),
                                                pytest.param("en", LANDSCAPE, id="en-1024x768")])
def test_a_scan_on_the_ticket_is_done_plus_that_scan(live_server, demo, new_context, app, language, viewport):
    """The last donor's ticket has "Xong" focused: the next donor's scanner Enter must not press it
    and lose the scan. The scan ends the ticket and starts the next donor (in Vietnamese)."""
    first, second = a_visit(app, sex="M"), a_visit(app, sex="F")
    page = new_context(viewport=viewport).new_page()
    open_kiosk(page, live_server)
    if language == "en":
        page.click("button.lang-button[value=en]")
        page.wait_for_selector("html[lang=en] [data-step=start]")
    scan_with_scanner(page, first["token"])
    page.wait_for_selector("[data-step=confirm]")
    page.click("[data-step=confirm] button[data-autofocus]")
    answer_questionnaire(page)
    page.wait_for_selector("[data-step=ticket]")
    assert page.evaluate("document.activeElement.matches('[data-step=ticket] button[type=submit]')")
    _scanner_types(page, pass_url(live_server.url, second["token"]))
    page.wait_for_selector("[data-step=confirm]")
    assert page.locator(".identity-name").inner_text() == second["name"]
    assert first["name"] not in page.content()
    assert page.locator("html").get_attribute("lang") == "vi"


@pytest.mark.parametrize("viewport", SIZES)
def test_a_scan_during_another_donors_questionnaire_starts_the_new_donor(live_server, demo, new_context, app, viewport):
    """Donor A left mid-questionnaire with a radio focused; donor B scans: A's session ends (no
    answers kept), B is asked "is this you?", and A's half-typed text box is not where B's scan went."""
    import sqlalchemy as sa

    from kiosk.extensions import db
    from kiosk.models import QuestionnaireResponse, Visit

    page = new_context(viewport=viewport).new_page()

    arrive_at_the_questions(page, live_server, app, sex="M")
    second = a_visit(app, sex="F")
    answer_no_until(page, "3")  # a screen of two items: a "Không" tapped there stays on it
    page.locator(".choice-pair label.choice-no").first.click()
    assert page.evaluate("document.activeElement.matches('input[type=radio]')")
    _scanner_types(page, pass_url(live_server.url, second["token"]))
    page.wait_for_selector("[data-step=confirm]")
    assert page.locator(".identity-name").inner_text() == second["name"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(QuestionnaireResponse)) == 0
        assert db.session.get(Visit, second["id"]).checked_in_at is None  # B still confirms first



# Where the ticket's time runs out in the middle of the next donor's scan: the "still there?"
# question has taken the focus, or the ticket is gone and the start screen has come.
TICKET_RUNS_OUT = {"question": "#still-there:not([hidden])", "start": "#kiosk-stage [data-step=start]"}


@pytest.mark.parametrize("viewport,moment", [pytest.param(TABLET, "question", id="768x1024-question"),
                                             pytest.param(LANDSCAPE, "start", id="1024x768-start")])
def test_a_scan_as_the_ticket_goes_by_itself_is_still_a_scan(live_server, demo, new_context, app, viewport, moment):
    """The ticket's time runs out between two keys of the next donor's scan. The keys before and
    after are one scan (a scanner's keys are 4 ms apart, however late the tablet gets to them), and
    the kiosk starts that donor: none of the scan goes to "Tôi vẫn ở đây" or into the start screen's
    box as a scan of its own."""
    from tests.support.browser.line import Line
    from tests.support.browser.line_kiosk import Kiosk

    first, second = a_visit(app, sex="M"), a_visit(app, sex="F")
    # A ticket of 1 s and a question of 1 s (the page reads the question's seconds as it loads).
    app.config.update(KIOSK_TICKET_SECONDS=1, KIOSK_STILL_THERE_SECONDS=1)
    page = new_context(viewport=viewport).new_page()
    open_kiosk(page, live_server)
    scan_with_scanner(page, first["token"])
    page.wait_for_selector("[data-step=confirm]")
    page.click("[data-step=confirm] button[data-autofocus]")
    answer_questionnaire(page)
    page.wait_for_selector("[data-step=ticket]")
    kiosk = Kiosk("tablet", page, Line(live_server.url, []))
    kiosk.scanner_types(pass_url(live_server.url, second["token"]),
                        midway=lambda: page.wait_for_selector(TICKET_RUNS_OUT[moment], state="attached"))
    page.wait_for_selector("[data-step=confirm]")
    assert page.locator(".identity-name").inner_text() == second["name"]
    assert first["name"] not in page.content()
