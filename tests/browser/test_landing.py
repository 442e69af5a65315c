"""The landing page, the sign-in page and the pass sheet, in Chromium."""
import re

from tests.browser.conftest import LAPTOP, SCREENS, TABLET, check_page


def test_landing_page_links_every_role_for_each_site(live_server, demo, page):
    page.goto(live_server.url + "/")
    assert page.locator("h1").inner_text().startswith("Hành trình Đỏ")
    for code in demo["sites"]:
        assert page.locator(f'a[href="/kiosk/{code}"]').count() == 1
        assert page.locator(f'a[href="/nurse/{code}"]').count() == 1
    assert page.locator('a[href="/display"]').count() == 1
    # dd/mm/yyyy on screen
    assert re.search(r"\b\d{2}/\d{2}/\d{4}\b", page.locator(".hero-meta").inner_text())
    check_page(page, "landing-768")


def test_language_toggle_in_the_browser(live_server, demo, page):
    page.goto(live_server.url + "/")
    assert page.get_by_role("link", name="Quầy tiếp đón").count() == 2
    # The toggle is a plain form: its POST redirects back to the same URL, so wait_for_url would be
    # satisfied by the old page; wait for the page it loads instead.
    with page.expect_navigation():
        page.click("button.lang-button[value=en]")
    assert page.url == live_server.url + "/"
    assert page.get_by_role("link", name="Donor kiosk").count() == 2
    assert page.locator("html").get_attribute("lang") == "en"
    check_page(page, "landing-768-en")
    with page.expect_navigation():
        page.click("button.lang-button[value=vi]")
    assert page.get_by_role("link", name="Quầy tiếp đón").count() == 2


def test_sign_in_page_and_a_wrong_password(live_server, demo, new_context):
    page = new_context(viewport=LAPTOP).new_page()
    page.goto(live_server.url + "/auth/sign-in")
    page.fill("#username", "yta")
    page.fill("#password", "sai-mat-khau")
    with page.expect_navigation():
        page.click("#sign-in-submit")
    assert "Sai tên đăng nhập hoặc mật khẩu" in page.locator("[role=alert]").inner_text()
    check_page(page, "sign-in-1280")


def test_the_pass_sheet_prints_eight_passes_a_page(live_server, demo, signed_in):
    page = signed_in("organiser")
    page.goto(live_server.url + "/passes/sheet?site=XNC")
    passes = page.locator("article.pass")
    assert passes.count() > 8
    first_sheet = page.locator("section.sheet").first
    assert first_sheet.locator("article.pass").count() == 8
    # Every pass fits its cell: nothing overflows the 70 mm row.
    heights = page.eval_on_selector_all("article.pass", "els => els.map(e => e.scrollHeight - e.clientHeight)")
    assert max(heights) <= 1
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4", print_background=True, path=str(SCREENS.parent / "passes.pdf"))
    assert pdf[:4] == b"%PDF" and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page\r") + pdf.count(b"/Type /Page ") >= 1
    page.emulate_media(media="screen")
    page.set_viewport_size(TABLET)
    check_page(page, "passes-sheet")


def test_the_pass_sheet_file_from_the_cli_opens_in_the_browser(app, runner, demo, page, tmp_path):
    out = tmp_path / "passes.html"
    assert runner.invoke(args=["passes", "--site", "CSCD", "--out", str(out)]).exit_code == 0
    page.goto(out.as_uri())
    assert page.locator("article.pass svg").count() == page.locator("article.pass").count() > 0
    check_page(page, "passes-file")
