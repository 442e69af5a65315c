"""The nurse station in Chromium: sign-in and sign-out, the live queue, screening decisions,
the donation, corrections, two nurses at once, and who may open it."""
from __future__ import annotations

import datetime as dt
import time

import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import AuditLog, Donation, Screening, Site, Staff, StaffRole, Visit
from kiosk.tokens import pass_url
from tests.browser.conftest import LAPTOP, TABLET, check_page, wait_until
from tests.conftest import NURSE_PASSWORD
from tests.support.browser.kiosk import answer_questionnaire
from tests.support.browser.nurse import GOOD, fill_vitals, open_donor, sign_in, wait_for_suggestion
from tests.support.donors import check_in, pick_donor


@pytest.fixture
def donor(app, demo):
    visit_id = pick_donor(app, "XNC")
    return {"visit_id": visit_id, "queue_number": check_in(app, visit_id, "XNC")}


def test_sign_in_and_sign_out_the_old_cookie_stops_working(live_server, demo, new_context):
    context = new_context(viewport=LAPTOP)
    page = context.new_page()
    page.goto(f"{live_server.url}/nurse/XNC")
    page.wait_for_url("**/auth/sign-in?next=/nurse/XNC")
    check_page(page, "nurse-sign-in-1280")
    page.fill("#username", "yta")
    page.fill("#password", NURSE_PASSWORD)
    page.click("#sign-in-submit")
    page.wait_for_url(f"{live_server.url}/nurse/XNC")
    assert page.locator(".who").inner_text() == "Y tá Nguyễn Thị Hạnh"
    copied = [c for c in context.cookies() if c["name"] == "kiosk_session"]
    assert copied
    page.click("text=Đăng xuất")
    page.wait_for_url("**/auth/sign-in")
    other = new_context(viewport=LAPTOP)
    other.add_cookies(copied)
    stolen = other.new_page()
    stolen.goto(f"{live_server.url}/nurse/XNC")
    assert "/auth/sign-in" in stolen.url
    assert stolen.locator("#username").count() == 1


def kiosk_check_in(page, live_server, token: str):
    """A donor at the kiosk tablet: scanner types the pass URL, confirms, answers, gets a ticket."""
    page.goto(f"{live_server.url}/kiosk/XNC")
    page.wait_for_selector("[data-step=start]")
    page.focus("#scan-code")
    page.keyboard.type(pass_url(live_server.url, token), delay=1)
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-step=confirm]")
    page.click("text=Đúng, là tôi")
    answer_questionnaire(page, yes={"q7.cold"})
    page.wait_for_selector("[data-step=ticket]")
    return int(page.locator("[data-queue-number]").inner_text())


@pytest.mark.both_databases
def test_the_queue_updates_after_a_kiosk_check_in_in_another_context(app, live_server, demo, new_context):
    nurse = new_context(viewport=LAPTOP).new_page()
    sign_in(nurse, live_server)
    nurse.goto(f"{live_server.url}/nurse/XNC")
    assert nurse.locator(".queue-empty").count() == 1
    check_page(nurse, "nurse-queue-empty-1280")
    with app.app_context():
        token = db.session.get(Visit, pick_donor(app, "XNC")).token
    kiosk = new_context(viewport=TABLET).new_page()
    number = kiosk_check_in(kiosk, live_server, token)
    # no reload: the poll brings the new row in
    row = nurse.locator(f'tr[data-queue-number="{number}"]')
    row.wait_for()
    assert "Đang chờ" in row.inner_text()
    assert "1 câu cần xem" in row.inner_text()  # q7.cold answered yes
    for extra in range(3):  # a fuller queue for the screenshots
        check_in(app, pick_donor(app, "XNC"), "XNC")
    nurse.locator('tr[data-queue-number="4"]').wait_for()
    check_page(nurse, "nurse-queue-1280")
    nurse.set_viewport_size(TABLET)
    check_page(nurse, "nurse-queue-768")


def test_vitals_typed_before_the_scripts_ran_still_get_a_suggestion(app, live_server, donor, new_context):
    """A slow laptop shows the donor's form before its scripts have run: what the nurse types then
    fires no event that htmx sees, and the suggestion is asked for once the page has loaded."""
    page = new_context(viewport=LAPTOP).new_page()
    sign_in(page, live_server)
    open_donor(page, live_server, donor["queue_number"])
    held = []
    page.route("**/js/nurse.js?*", lambda route: held.append(route))  # the script arrives only when let go
    page.reload(wait_until="commit")
    page.wait_for_selector("#weight_kg")
    wait_until(page, "document.readyState !== 'complete'")
    fill_vitals(page)
    assert held and page.locator("#suggestion.suggestion-eligible").count() == 0
    held[0].continue_()
    wait_for_suggestion(page, "eligible")
    check_page(page, "nurse-donor-typed-early-1280")


@pytest.mark.both_databases
def test_acceptance_and_a_350_ml_donation(app, live_server, donor, new_context):
    page = new_context(viewport=LAPTOP).new_page()
    sign_in(page, live_server)
    open_donor(page, live_server, donor["queue_number"])
    assert page.locator(".status-in_screening").count() == 1
    check_page(page, "nurse-donor-1280")
    fill_vitals(page)
    wait_for_suggestion(page, "eligible")
    assert "350" in page.locator(".allowed-volumes").inner_text()
    page.set_viewport_size(TABLET)
    check_page(page, "nurse-donor-768")
    page.set_viewport_size(LAPTOP)
    page.click("label[for=decision-0]")
    page.click("label[for=volume_ml-1]")
    with page.expect_navigation():
        page.click("#decision-submit")
    page.wait_for_selector("#decision")
    assert "350 ml" in page.locator(".decision-summary").inner_text()
    page.click("label[for=volume_ml-1]")
    page.fill("#bag_number", "HM-2026-0001")
    with page.expect_navigation():
        page.click("#donation-submit")
    page.wait_for_selector("#donation")
    assert "350 ml" in page.locator(".donation-summary").inner_text()
    assert page.locator(".status-done").count() == 1
    check_page(page, "nurse-donor-done-1280")
    with app.app_context():
        donation = db.session.scalars(sa.select(Donation)).one()
        assert (donation.volume_ml, donation.bag_number, donation.outcome) == (350, "HM-2026-0001", "completed")


def test_an_impossible_value_is_refused_on_the_spot(live_server, donor, new_context):
    page = new_context(viewport=LAPTOP).new_page()
    sign_in(page, live_server)
    open_donor(page, live_server, donor["queue_number"])
    fill_vitals(page, pulse_per_min="900")
    page.wait_for_selector("#pulse_per_min-error:has-text('250')")
    page.click("label[for=decision-0]")
    page.click("label[for=volume_ml-1]")
    with page.expect_navigation():
        page.click("#decision-submit")
    page.wait_for_selector("#page-error")
    assert "250" in page.locator("#pulse_per_min-error").inner_text()


def test_a_deferral_with_a_return_date(app, live_server, donor, new_context):
    page = new_context(viewport=LAPTOP).new_page()
    sign_in(page, live_server)
    open_donor(page, live_server, donor["queue_number"])
    fill_vitals(page, haemoglobin_g_l="112")
    wait_for_suggestion(page, "deferred")
    assert page.locator('.reason[data-rule="haemoglobin"]').count() == 1
    check_page(page, "nurse-donor-deferred-suggestion-1280")
    back = dt.date.today() + dt.timedelta(days=90)
    page.click("label[for=decision-1]")
    page.fill("#deferral_until", back.strftime("%d/%m/%Y"))
    page.fill("#reason", "Hemoglobin thấp (112 g/L)")
    with page.expect_navigation():
        page.click("#decision-submit")
    page.wait_for_selector("#decision")
    assert back.strftime("%d/%m/%Y") in page.locator(".decision-until").inner_text()
    assert page.locator(".status-deferred").count() == 1


def test_an_override_needs_its_reason(app, live_server, donor, new_context):
    page = new_context(viewport=LAPTOP).new_page()
    sign_in(page, live_server)
    open_donor(page, live_server, donor["queue_number"])
    fill_vitals(page, haemoglobin_g_l="118")
    wait_for_suggestion(page, "deferred")
    page.click("label[for=decision-0]")
    page.click("label[for=volume_ml-0]")
    with page.expect_navigation():
        page.click("#decision-submit")
    page.wait_for_selector("#override_reason-error:not(:empty)")
    check_page(page, "nurse-override-refused-1280")
    page.fill("#override_reason", "Đo lại bằng máy HemoCue: 122 g/L")
    with page.expect_navigation():
        page.click("#decision-submit")
    page.wait_for_selector("#decision")
    assert "HemoCue" in page.locator(".override").inner_text()


def test_accepting_without_identity_or_hb_asks_for_a_reason(app, live_server, donor, new_context):
    page = new_context(viewport=LAPTOP).new_page()
    sign_in(page, live_server)
    open_donor(page, live_server, donor["queue_number"])
    fill_vitals(page, identity=False, haemoglobin_g_l="12.5")
    # typed in g/dL: the form says which figure it expects
    page.wait_for_selector("#haemoglobin_g_l-error:has-text('125')")
    assert "g/L" in page.locator("#haemoglobin_g_l-error").inner_text()
    page.fill("#haemoglobin_g_l", "")
    page.click("label[for=decision-0]")
    page.click("label[for=volume_ml-0]")
    with page.expect_navigation():
        page.click("#decision-submit")
    page.wait_for_selector("#checks_reason-error:not(:empty)")
    message = page.locator("#checks_reason-error").inner_text()
    assert "giấy tờ" in message.lower() or "identity" in message.lower()
    check_page(page, "nurse-checks-refused-1280")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Screening)) == 0
    page.fill("#checks_reason", "Người hiến quen, máy đo Hb hỏng; lấy 250 ml")
    with page.expect_navigation():
        page.click("#decision-submit")
    page.wait_for_selector("#decision")
    assert "máy đo Hb hỏng" in page.locator(".checks-reason").inner_text()
    with app.app_context():
        screening = db.session.scalars(sa.select(Screening)).one()
        assert screening.identity_document is None and screening.haemoglobin_g_l is None
        assert screening.checks_reason.startswith("Người hiến quen")


@pytest.mark.both_databases
def test_a_correction_and_its_audit_entry(app, live_server, donor, new_context):
    page = new_context(viewport=LAPTOP).new_page()
    sign_in(page, live_server)
    open_donor(page, live_server, donor["queue_number"])
    fill_vitals(page)
    wait_for_suggestion(page, "eligible")
    page.click("label[for=decision-0]")
    page.click("label[for=volume_ml-2]")
    with page.expect_navigation():
        page.click("#decision-submit")
    page.wait_for_selector("#decision")
    page.click("#correct-decision summary")
    # Only what the corrected decision needs (main showed all eight fields): for "Cho hiến", the
    # volume and the correction's reason; a deferral against the suggestion adds its date and reasons.
    assert _shown(page, "c-") == {"volume_ml", "correction_reason"}
    page.click("label[for=c-decision-1]")
    assert _shown(page, "c-") == {"deferral_until", "reason", "override_reason", "correction_reason"}
    check_page(page, "nurse-correction-deferral-1280")
    page.click("label[for=c-decision-0]")
    page.click("label[for=c-identity_document-0]")
    assert _shown(page, "c-") == {"volume_ml", "checks_reason", "correction_reason"}
    page.click("label[for=c-identity_document-1]")
    page.click("label[for=c-volume_ml-1]")
    assert _shown(page, "c-") == {"volume_ml", "correction_reason"}
    page.fill("#c-correction_reason", "Chọn nhầm thể tích")
    with page.expect_navigation():
        page.click("#correct-decision-submit")
    page.wait_for_selector('.history-entry[data-action="screening_corrected"]')
    entry = page.locator('.history-entry[data-action="screening_corrected"]').inner_text()
    assert "450" in entry and "350" in entry and "Chọn nhầm thể tích" in entry
    assert "350 ml" in page.locator(".decision-summary").inner_text()
    check_page(page, "nurse-corrected-1280")
    with app.app_context():
        audit = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "screening_corrected")).one()
        assert audit.old_values["volume_ml"] == 450 and audit.new_values["volume_ml"] == 350


@pytest.mark.both_databases
def test_two_nurses_a_conflicting_save_is_refused(app, live_server, donor, new_context):
    from kiosk.auth import hash_password

    with app.app_context():
        db.session.add(Staff(username="yta2", display_name="Y tá Lê Thu Hà", role=StaffRole.NURSE,
                             password_hash=hash_password(NURSE_PASSWORD),
                             sites=list(db.session.scalars(sa.select(Site)))))
        db.session.commit()
    first = new_context(viewport=LAPTOP).new_page()
    sign_in(first, live_server)
    open_donor(first, live_server, donor["queue_number"])
    second = new_context(viewport=TABLET).new_page()
    sign_in(second, live_server, "yta2")
    open_donor(second, live_server, donor["queue_number"])
    assert "Nguyễn Thị Hạnh" in second.locator("#taken-notice").inner_text()
    check_page(second, "nurse-taken-768")
    fill_vitals(first)
    wait_for_suggestion(first, "eligible")
    first.click("label[for=decision-0]")
    first.click("label[for=volume_ml-1]")
    first.click("#decision-submit")
    first.wait_for_selector("#decision")
    fill_vitals(second, haemoglobin_g_l="110")
    wait_for_suggestion(second, "deferred")
    second.click("label[for=decision-2]")
    second.fill("#reason", "Thử lưu đè")
    with second.expect_navigation() as navigation:
        second.click("#decision-submit")
    assert navigation.value.status == 409
    assert second.locator("#conflict").count() == 1
    assert "350 ml" in second.locator(".decision-summary").inner_text()  # the current values
    check_page(second, "nurse-conflict-768")
    with app.app_context():
        assert db.session.scalars(sa.select(Screening)).one().decision == "accepted"


NURSE_GETS = ["/nurse", "/nurse/XNC", "/nurse/XNC/queue", "/nurse/XNC/visit/{id}"]
NURSE_POSTS = ["/nurse/XNC/find", "/nurse/XNC/visit/{id}/suggest", "/nurse/XNC/visit/{id}/decision",
               "/nurse/XNC/visit/{id}/decision/1/correct", "/nurse/XNC/visit/{id}/decision/1/void",
               "/nurse/XNC/visit/{id}/donation", "/nurse/XNC/visit/{id}/donation/1/correct",
               "/nurse/XNC/visit/{id}/donation/1/void"]


@pytest.mark.parametrize("who", ["anonymous", "kiosk"])
def test_every_nurse_url_is_refused_to_anonymous_visitors_and_the_kiosk(app, live_server, donor, new_context, who):
    page = new_context(viewport=TABLET).new_page()
    if who == "kiosk":
        page.goto(f"{live_server.url}/kiosk/XNC")  # the tablet by the entrance, with its own cookies
        page.wait_for_selector("[data-step=start]")
    with app.app_context():
        name = db.session.get(Visit, donor["visit_id"]).donor.full_name
    for url in NURSE_GETS:
        page.goto(live_server.url + url.format(id=donor["visit_id"]))
        assert "/auth/sign-in" in page.url, url
        assert name not in page.content()
    token = page.locator("meta[name=csrf-token]").get_attribute("content")
    for url in NURSE_POSTS:
        for headers in ({}, {"X-CSRFToken": token, "HX-Request": "true"}):
            response = page.request.post(live_server.url + url.format(id=donor["visit_id"]), headers=headers,
                                         form={"query": "1", "decision": "accepted", "volume_ml": "350"})
            assert response.status in (400, 401, 403), (url, response.status)
            assert name not in response.text()


def test_the_nurse_sees_a_sub_item_by_name_with_its_rule_and_date(app, live_server, donor, new_context):
    """Answers given under the NIHBT version (on the phone): the sub-item's words, the kind chosen,
    the donor's own words escaped, the date the rule suggests; the work question as a note."""
    from kiosk.models import QuestionnaireResponse
    from kiosk.screening.questionnaire import flags_for, load_version
    from tests.support.donors import nonce

    with app.app_context():
        visit = db.session.get(Visit, donor["visit_id"])
        v2 = load_version("2026-12-vi-2")
        yes = {"q4.vaccine": "live", "q2": "<b>Dị ứng</b> phấn hoa", "work.12_hours": None}
        answers = {i.id: (i.must_be_yes or i.id in yes) for i in v2.items_for(visit.donor.sex)}
        details = {k: v for k, v in yes.items() if v}
        db.session.add(QuestionnaireResponse(
            visit_id=visit.id, questionnaire_version=v2.version, answers=answers, details=details,
            flags=flags_for(v2, answers, details), channel="phone",
            submitted_at=visit.checked_in_at + dt.timedelta(minutes=1), nonce=nonce()))
        db.session.commit()
        until = (visit.drive.drive_date + dt.timedelta(days=28)).strftime("%d/%m/%Y")
    page = new_context(viewport=LAPTOP).new_page()
    sign_in(page, live_server)
    open_donor(page, live_server, donor["queue_number"])
    vaccine = page.locator('.flag[data-item="q4.vaccine"]').inner_text()
    assert "Tiêm vắc-xin?" in vaccine and "Rubella, sởi" in vaccine and until in vaccine
    # The rule line under the answer says what it means today, without naming the answer again.
    rule = page.locator('.flag[data-item="q4.vaccine"] .flag-rule').inner_text()
    assert rule.startswith("→ Hoãn hiến 4 tuần (28 ngày)") and "Tiêm vắc-xin?" not in rule
    assert "<b>Dị ứng</b> phấn hoa" in page.locator('.flag[data-item="q2"]').inner_text()
    assert page.locator('.flag-advice[data-item="work.12_hours"]').count() == 1
    assert "điện thoại" in page.locator(".flag-when").inner_text()
    check_page(page, "nurse-answers-by-name-1280")


# ----- issue 19: the page fits the work at 1280x800 -----
FIRST_SCREEN = LAPTOP["height"]
THREE_NOTES = ("q2", "q8.other", "work.12_hours")  # two answers for the nurse to review, one piece of advice


def _bottom(page, selector: str) -> float:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not shown"
    return box["y"] + box["height"]


def test_the_first_screen_holds_the_answers_the_vitals_and_the_decision(app, live_server, demo, new_context):
    """Main had the vitals start below the fold and the save button three screens down (2,300-2,800 px)."""
    number = check_in(app, pick_donor(app, "XNC"), "XNC", yes=THREE_NOTES)
    page = new_context(viewport=LAPTOP).new_page()
    sign_in(page, live_server)
    open_donor(page, live_server, number)
    assert page.evaluate("window.scrollY") == 0
    assert page.locator(".flag").count() == 3 and page.locator(".flag").first.bounding_box()["y"] < FIRST_SCREEN
    for selector in ("#weight_kg", "#temperature_c", "#hbsag", "#identity_document-field legend", "#suggestion",
                     "#decision-field", "#volume_ml-field", "#decision-submit"):
        assert _bottom(page, selector) <= FIRST_SCREEN, selector
    check_page(page, "nurse-donor-three-notes-1280")
    fill_vitals(page)
    wait_for_suggestion(page, "review")
    page.click("label[for=decision-0]")
    page.click("label[for=volume_ml-1]")
    assert _bottom(page, "#decision-submit") <= FIRST_SCREEN
    with page.expect_navigation():
        page.click("#decision-submit")
    page.wait_for_selector("#donation-form")
    # The donation follows at once: its form starts on the first screen, the bag number in it.
    assert page.evaluate("window.scrollY") == 0
    assert _bottom(page, "#bag_number") <= FIRST_SCREEN
    assert not page.locator("#reaction_note").is_visible()  # no reaction: no note asked for
    page.locator("#reaction").select_option("other")
    assert page.locator("#reaction_note").is_visible()
    check_page(page, "nurse-donation-form-1280")


def _shown(page, prefix: str = "") -> set[str]:
    names = ("volume_ml", "deferral_until", "reason", "override_reason", "checks_reason", "correction_reason")
    return {name for name in names if page.locator(f"#{prefix}{name}-field").is_visible()}


def test_the_decision_shows_only_the_fields_it_needs(app, live_server, donor, new_context):
    """Main showed every deferral and reason box even for a plain "Cho hiến"."""
    page = new_context(viewport=LAPTOP).new_page()
    sign_in(page, live_server)
    open_donor(page, live_server, donor["queue_number"])
    assert _shown(page) == {"volume_ml"}
    fill_vitals(page)
    wait_for_suggestion(page, "eligible")
    page.click("label[for=decision-0]")
    page.click("label[for=volume_ml-1]")
    assert _shown(page) == {"volume_ml"}  # Cho hiến, as suggested: nothing more to write
    page.click("label[for=decision-1]")  # deferring a donor who may donate goes against the suggestion
    assert _shown(page) == {"deferral_until", "reason", "override_reason"}
    check_page(page, "nurse-decision-deferral-1280")
    page.click("label[for=decision-2]")
    assert _shown(page) == {"reason", "override_reason"}
    page.click("label[for=decision-0]")
    page.click("label[for=identity_document-0]")  # accepting with no identity document seen
    assert _shown(page) == {"volume_ml", "checks_reason"}
    page.click("label[for=identity_document-1]")
    assert _shown(page) == {"volume_ml"}
    page.fill("#haemoglobin_g_l", "112")  # the suggestion turns to "defer": the same "Cho hiến" now overrides it
    wait_for_suggestion(page, "deferred")
    page.wait_for_selector("#override_reason", state="visible")
    assert _shown(page) == {"volume_ml", "override_reason"}
    page.click("label[for=decision-1]")  # deferring as suggested: no override
    assert _shown(page) == {"deferral_until", "reason"}
    check_page(page, "nurse-decision-deferral-suggested-1280")


def test_without_the_script_a_deferral_still_shows_its_fields(app, live_server, donor, new_context):
    """The return date and the reason show by the decision chosen (CSS); the override's reason
    comes with the server's 422."""
    page = new_context(viewport=LAPTOP, java_script_enabled=False).new_page()
    sign_in(page, live_server)
    open_donor(page, live_server, donor["queue_number"])
    fill_vitals(page)
    assert _shown(page) == {"volume_ml"}
    page.click("label[for=decision-1]")
    assert _shown(page) == {"deferral_until", "reason"}
    page.fill("#deferral_until", (dt.date.today() + dt.timedelta(days=30)).strftime("%d/%m/%Y"))
    page.fill("#reason", "Người hiến xin hẹn lại")
    with page.expect_navigation() as navigation:
        page.click("#decision-submit")
    assert navigation.value.status == 422
    assert page.locator("#override_reason-error").inner_text() != ""
    assert _shown(page) == {"deferral_until", "reason", "override_reason"}
    page.fill("#override_reason", "Người hiến bận, xin hẹn lại")
    with page.expect_navigation():
        page.click("#decision-submit")
    page.wait_for_selector("#decision")
    assert page.locator(".status-deferred").count() == 1


def test_the_vietnamese_page_says_dieu_never_art(app, live_server, demo, new_context):
    """Main showed "(TT 26/2013 Art. 5)" beside "(Điều 5: …)" on the Vietnamese page."""
    number = check_in(app, pick_donor(app, "XNC"), "XNC", yes=("q5.procedure", "work.12_hours"))
    page = new_context(viewport=LAPTOP).new_page()
    sign_in(page, live_server)
    open_donor(page, live_server, number)
    fill_vitals(page, haemoglobin_g_l="112")
    wait_for_suggestion(page, "deferred")
    text = page.locator("main").inner_text()
    assert "Điều 5" in text and "Art." not in text
    with page.expect_navigation():
        page.click("button.lang-button[value=en]")
    page.wait_for_selector("html[lang=en] #suggestion")
    assert "Art. 5" in page.locator("main").inner_text()  # English keeps its own abbreviation


class NursePath:
    """Counts what the nurse does: taps (a click, or the tap that focuses a field), keys typed,
    and scrolls (a control to touch that is not inside the window when its turn comes)."""

    def __init__(self, page):
        self.page, self.taps, self.keys, self.scrolls = page, 0, 0, 0

    def tap(self, selector: str, taps: int = 1) -> None:
        box = self.page.locator(selector).first.bounding_box()
        if box is None or box["y"] < 0 or box["y"] + box["height"] > FIRST_SCREEN:
            self.scrolls += 1
        self.taps += taps

    def click(self, selector: str) -> None:
        self.tap(selector)
        self.page.click(selector)

    def type(self, selector: str, text: str) -> None:
        self.click(selector)
        self.page.keyboard.type(text)
        self.keys += len(text)


def _server_timed(app, log: list) -> None:
    """Each request's time in the app, (method, path, seconds), appended to `log`."""
    inner = app.wsgi_app

    def timed(environ, start_response):
        start = time.perf_counter()
        try:
            return inner(environ, start_response)
        finally:
            log.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], time.perf_counter() - start))
    app.wsgi_app = timed


def _the_path(page, path: NursePath, number: int) -> None:
    """Queue -> the donor -> take the donor -> the vitals -> accept 350 ml -> the donation."""
    with page.expect_navigation():
        path.click(f'tr[data-queue-number="{number}"] .queue-donor a')
    page.wait_for_selector(".donor-head")
    with page.expect_navigation():
        path.click("#claim-button")
    page.wait_for_selector("#screening-form")
    for name, value in GOOD.items():
        path.type(f"#{name}", value)
    path.tap("#hbsag", taps=2)  # open the list, choose
    page.locator("#hbsag").select_option("negative")
    path.click("label[for=identity_document-1]")
    wait_for_suggestion(page, "eligible")
    path.click("label[for=decision-0]")
    path.click("label[for=volume_ml-1]")
    with page.expect_navigation():
        path.click("#decision-submit")
    page.wait_for_selector("#donation-form input[name=volume_ml][value='350']:checked")  # the decision's volume
    path.type("#bag_number", f"HM-2026-{number:04d}")
    with page.expect_navigation():
        path.click("#donation-submit")
    page.wait_for_selector("#donation")


def test_the_path_from_the_queue_to_the_donation_in_taps_and_seconds(app, live_server, donor, new_context):
    """The README's figure for the nurse: taps, keys, scrolls, the app's time and the script's."""
    page = new_context(viewport=LAPTOP).new_page()
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/nurse/XNC")
    page.wait_for_selector(f'tr[data-queue-number="{donor["queue_number"]}"]')
    log: list = []
    _server_timed(app, log)
    path, start = NursePath(page), time.perf_counter()
    _the_path(page, path, donor["queue_number"])
    wall = time.perf_counter() - start
    pages = [t for method, url, t in log if "/visit/" in url and not url.endswith("/suggest")]
    suggests = [t for method, url, t in log if url.endswith("/suggest")]
    print(f"\nnurse path: {path.taps} taps, {path.keys} keys, {path.scrolls} scrolls; app {sum(pages):.2f} s "
          f"in {len(pages)} page requests + {sum(suggests):.2f} s in {len(suggests)} suggestions; script {wall:.1f} s")
    assert path.taps == 16 and path.keys == 28
    assert path.scrolls == 0  # main: 6 (the vitals, the decision, its save, the donation form)
