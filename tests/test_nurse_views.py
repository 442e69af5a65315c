"""The nurse station's pages: the queue and its poll, opening a donor, the decision, the
donation, corrections, conflicts, and who may open them."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import AuditLog, Donation, Drive, Screening, Site, Staff, StaffRole, Visit, VisitStatus
from tests.conftest import NURSE_PASSWORD
from tests.support.donors import GOOD_VITALS, check_in, decide, nonce, pick_donor
from tests.support.pages import csrf_from, hidden_value


@pytest.fixture
def nurse(client, auth, demo):
    assert auth.as_nurse().status_code == 303
    return client


@pytest.fixture
def donor(app, demo):
    visit_id = pick_donor(app, "XNC")
    number = check_in(app, visit_id, "XNC")
    return {"visit_id": visit_id, "queue_number": number, "url": f"/nurse/XNC/visit/{visit_id}"}


def test_the_queue_lists_todays_check_ins_by_number(nurse, donor):
    page = nurse.get("/nurse/XNC").get_data(as_text=True)
    assert f'data-queue-number="{donor["queue_number"]}"' in page
    assert "Đang chờ" in page  # waiting, in words
    assert 'hx-trigger="every 2s"' in page


def test_the_poll_answers_204_until_something_changes(app, nurse, donor):
    page = nurse.get("/nurse/XNC").get_data(as_text=True)
    import re

    poll_url = re.search(r'hx-get="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert nurse.get(poll_url, headers={"HX-Request": "true"}).status_code == 204
    second = check_in(app, pick_donor(app, "XNC"), "XNC")
    response = nurse.get(poll_url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert f'data-queue-number="{second}"' in response.get_data(as_text=True)


@pytest.mark.parametrize("typed", ["number", "url", "token"])
def test_a_typed_number_or_a_scanned_ticket_opens_the_donor(app, nurse, donor, typed):
    with app.app_context():
        token = db.session.get(Visit, donor["visit_id"]).token
    query = {"number": str(donor["queue_number"]), "url": f"http://kiosk.test/p/{token}", "token": token}[typed]
    page = nurse.get("/nurse/XNC").get_data(as_text=True)
    response = nurse.post("/nurse/XNC/find", data={"csrf_token": csrf_from(page), "query": query})
    assert response.status_code == 303 and response.headers["Location"].endswith(donor["url"])


def test_an_unknown_number_or_code_is_explained(nurse, donor):
    page = nurse.get("/nurse/XNC").get_data(as_text=True)
    for query in ("999", "https://evil.example/x"):
        response = nurse.post("/nurse/XNC/find", data={"csrf_token": csrf_from(page), "query": query})
        assert response.status_code == 422
        assert 'role="alert"' in response.get_data(as_text=True)


def test_opening_a_donor_claims_it_and_shows_the_facts(app, nurse, donor):
    # Issue 12: GET /nurse/.../visit/<id> claimed the donor (a state change on GET). Now the GET
    # only shows the page and its claim button; the claim is a POST with a CSRF token.
    page = nurse.get(donor["url"]).get_data(as_text=True)
    assert "Tuổi vào ngày hiến" in page or "Age on the drive date" in page
    assert 'id="claim-button"' in page
    with app.app_context():
        visit = db.session.get(Visit, donor["visit_id"])
        assert visit.status == VisitStatus.CHECKED_IN and visit.opened_by_id is None
    assert nurse.post(donor["url"] + "/claim", data={}).status_code == 400  # no CSRF token, no claim
    response = nurse.post(donor["url"] + "/claim", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 303 and response.headers["Location"].endswith(donor["url"])
    with app.app_context():
        visit = db.session.get(Visit, donor["visit_id"])
        assert visit.status == VisitStatus.IN_SCREENING and visit.opened_by_id is not None
    assert 'id="claim-button"' not in nurse.get(donor["url"]).get_data(as_text=True)


def test_acceptance_then_a_donation_counts_one_bag(app, nurse, donor):
    response = decide(nurse, donor, decision="accepted", volume_ml="350")
    assert response.status_code == 303, response.get_data(as_text=True)
    page = nurse.get(donor["url"]).get_data(as_text=True)
    data = {"csrf_token": csrf_from(page), "nonce": nonce(),
            "expected_version": hidden_value(page, "donation-form", "expected_version"),
            "volume_ml": "350", "bag_number": "B-0001", "outcome": "completed", "reaction": "none"}
    assert nurse.post(donor["url"] + "/donation", data=data).status_code == 303
    # the same nonce again (a double tap) records nothing more
    nurse.post(donor["url"] + "/donation", data=data)
    with app.app_context():
        from kiosk import tally

        assert db.session.scalar(sa.select(sa.func.count()).select_from(Donation)) == 1
        drive_id = db.session.scalars(sa.select(Drive.id)).one()
        counts = tally.count_from_rows(db.session, drive_id) if hasattr(tally, "count_from_rows") else None
        if counts is not None:
            assert counts["bags"] == 1 and counts["volume_ml"] == 350 and counts["screened"] == 1
        assert db.session.get(Visit, donor["visit_id"]).status == VisitStatus.DONE


def test_an_impossible_value_is_refused_next_to_its_field(app, nurse, donor):
    response = decide(nurse, donor, decision="accepted", volume_ml="350", pulse_per_min="900")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="pulse_per_min-error">' in page and "20" in page.split('id="pulse_per_min-error">')[1][:120]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Screening)) == 0


def test_the_suggestion_follows_the_vitals(nurse, donor):
    page = nurse.get(donor["url"]).get_data(as_text=True)
    headers = {"HX-Request": "true", "X-CSRFToken": csrf_from(page)}
    eligible = nurse.post(donor["url"] + "/suggest", data=GOOD_VITALS, headers=headers).get_data(as_text=True)
    assert "suggestion-eligible" in eligible
    low = nurse.post(donor["url"] + "/suggest", data={**GOOD_VITALS, "haemoglobin_g_l": "110"},
                     headers=headers).get_data(as_text=True)
    assert "suggestion-deferred" in low and 'data-rule="haemoglobin"' in low
    wrong = nurse.post(donor["url"] + "/suggest", data={**GOOD_VITALS, "weight_kg": "4000"},
                       headers=headers).get_data(as_text=True)
    assert 'id="weight_kg-error" hx-swap-oob="true">' in wrong and "250" in wrong


def test_a_deferral_needs_a_reason_and_a_return_date(app, nurse, donor, today):
    response = decide(nurse, donor, decision="deferred_temporary", haemoglobin_g_l="110")
    assert response.status_code == 422
    until = (today + dt.timedelta(days=30)).isoformat()
    response = decide(nurse, donor, decision="deferred_temporary", haemoglobin_g_l="110", deferral_until=until,
                      reason="Hb thấp")
    assert response.status_code == 303
    with app.app_context():
        screening = db.session.scalars(sa.select(Screening)).one()
        assert screening.decision == "deferred_temporary" and screening.deferral_until.isoformat() == until
        assert db.session.get(Visit, donor["visit_id"]).status == VisitStatus.DEFERRED


def test_going_against_the_suggestion_needs_a_written_reason(app, nurse, donor):
    response = decide(nurse, donor, decision="accepted", volume_ml="350", haemoglobin_g_l="110")
    assert response.status_code == 422
    assert 'id="override_reason-error">' in response.get_data(as_text=True)
    response = decide(nurse, donor, decision="accepted", volume_ml="250", haemoglobin_g_l="110",
                      override_reason="Đo lại bằng máy khác: 125 g/L")
    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalars(sa.select(Screening)).one().override_reason.startswith("Đo lại")


def test_a_stale_save_is_refused_with_409(app, nurse, donor):
    page = nurse.get(donor["url"]).get_data(as_text=True)
    stale = {"csrf_token": csrf_from(page), "nonce": nonce(),
             "expected_version": hidden_value(page, "screening-form", "expected_version"), **GOOD_VITALS,
             "decision": "accepted", "volume_ml": "350"}
    assert decide(nurse, donor, decision="deferred_permanent", reason="HBsAg dương tính",
                  hbsag="positive").status_code == 303
    response = nurse.post(donor["url"] + "/decision", data=stale)
    assert response.status_code == 409
    assert 'id="conflict"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(sa.select(Screening)).one().decision == "deferred_permanent"


def test_a_correction_keeps_the_old_values_in_the_audit_log(app, nurse, donor, today):
    assert decide(nurse, donor, decision="accepted", volume_ml="350").status_code == 303
    page = nurse.get(donor["url"]).get_data(as_text=True)
    with app.app_context():
        screening_id = db.session.scalars(sa.select(Screening.id)).one()
    data = {"csrf_token": csrf_from(page), "nonce": nonce(),
            "expected_version": hidden_value(page, "correct-decision-form", "expected_version"),
            "decision": "deferred_temporary", "deferral_until": (today + dt.timedelta(days=7)).isoformat(),
            "reason": "Uống kháng sinh hôm qua", "override_reason": "Khai sai bảng hỏi",
            "correction_reason": "Người hiến báo lại"}
    url = f"{donor['url']}/decision/{screening_id}/correct"
    assert nurse.post(url, data=data).status_code == 303
    # the same form again carries the old version: refused
    assert nurse.post(url, data={**data, "nonce": nonce()}).status_code == 409
    with app.app_context():
        entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "screening_corrected")).one()
        assert entry.old_values["decision"] == "accepted" and entry.new_values["decision"] == "deferred_temporary"
        assert entry.reason == "Người hiến báo lại" and entry.staff_id is not None
        assert db.session.get(Visit, donor["visit_id"]).status == VisitStatus.DEFERRED
    page = nurse.get(donor["url"]).get_data(as_text=True)
    assert 'data-action="screening_corrected"' in page


def test_a_second_nurse_sees_who_has_the_donor(app, client, demo, donor):
    from kiosk.auth import hash_password
    from tests.conftest import AuthActions

    with app.app_context():
        db.session.add(Staff(username="yta2", display_name="Y tá Lê Thu Hà", role=StaffRole.NURSE,
                             password_hash=hash_password(NURSE_PASSWORD),
                             sites=list(db.session.scalars(sa.select(Site)))))
        db.session.commit()
    first = app.test_client()
    AuthActions(first).as_nurse()
    page = first.get(donor["url"]).get_data(as_text=True)
    first.post(donor["url"] + "/claim", data={"csrf_token": csrf_from(page)})
    second = app.test_client()
    AuthActions(second).sign_in("yta2", NURSE_PASSWORD)
    page = second.get(donor["url"]).get_data(as_text=True)
    assert 'id="taken-notice"' in page and "Nguyễn Thị Hạnh" in page


def test_a_visit_of_another_site_is_not_found_here(nurse, donor):
    assert nurse.get(f"/nurse/CSCD/visit/{donor['visit_id']}").status_code == 404


NURSE_URLS = ["/nurse", "/nurse/XNC", "/nurse/XNC/queue", "/nurse/XNC/visit/1"]
NURSE_POSTS = ["/nurse/XNC/find", "/nurse/XNC/visit/1/claim", "/nurse/XNC/visit/1/suggest", "/nurse/XNC/visit/1/decision",
               "/nurse/XNC/visit/1/decision/1/correct", "/nurse/XNC/visit/1/decision/1/void",
               "/nurse/XNC/visit/1/donation", "/nurse/XNC/visit/1/donation/1/correct",
               "/nurse/XNC/visit/1/donation/1/void"]


@pytest.mark.parametrize("who", ["anonymous", "organiser"])
def test_every_nurse_url_is_refused_to_others(client, auth, demo, who):
    if who == "organiser":
        auth.as_organiser()
    for url in NURSE_URLS:
        response = client.get(url)
        assert response.status_code in (302, 403), (url, response.status_code)
        if who == "anonymous":
            assert "/auth/sign-in" in response.headers["Location"]
    for url in NURSE_POSTS:
        assert client.post(url, data={}).status_code in (400, 401, 403), url


def test_a_donation_at_an_earlier_drive_starts_the_interval(app, nurse, donor):
    """The 12-week rule counts from a bag recorded at an earlier drive, not only from the roster."""
    from kiosk.models import Donation, Drive, DriveStatus, Staff
    from kiosk.tokens import new_pass_token

    with app.app_context():
        visit = db.session.get(Visit, donor["visit_id"])
        earlier = Drive(name="Đợt trước", drive_date=visit.drive.drive_date - dt.timedelta(days=30),
                        status=DriveStatus.CLOSED, target_bags=10)
        db.session.add(earlier)
        db.session.flush()
        old_visit = Visit(drive_id=earlier.id, donor_id=visit.donor_id, token=new_pass_token())
        db.session.add(old_visit)
        db.session.flush()
        nurse_id = db.session.scalars(sa.select(Staff.id).where(Staff.username == "yta")).one()
        db.session.add(Donation(visit_id=old_visit.id, drive_id=earlier.id, volume_ml=350, bag_number="OLD-1",
                                outcome="completed", nurse_id=nurse_id, nonce=new_pass_token()))
        visit.donor.last_donation_date = None  # the roster knows nothing of it
        db.session.commit()
        expected_return = (earlier.drive_date + dt.timedelta(days=84)).strftime("%d/%m/%Y")
        last_seen = earlier.drive_date.strftime("%d/%m/%Y")
    page = nurse.get(donor["url"]).get_data(as_text=True)
    assert last_seen in page and "30" in page
    assert expected_return in page


def test_the_nurse_sees_v2_answers_by_name_escaped_with_channel_and_time(app, nurse, donor):
    from kiosk.models import QuestionnaireResponse
    from kiosk.screening.questionnaire import flags_for, load_version

    with app.app_context():
        visit = db.session.get(Visit, donor["visit_id"])
        v2 = load_version("2026-12-vi-2")
        yes = {"q4.vaccine": "live", "q2": "<script>x</script>", "work.12_hours": None}
        answers = {i.id: (i.must_be_yes or i.id in yes) for i in v2.items_for(visit.donor.sex)}
        details = {k: v for k, v in yes.items() if v}
        db.session.add(QuestionnaireResponse(
            visit_id=visit.id, questionnaire_version=v2.version, answers=answers, details=details,
            flags=flags_for(v2, answers, details), channel="phone",
            submitted_at=visit.checked_in_at + dt.timedelta(minutes=1), nonce=nonce()))
        db.session.commit()
        drive_date = visit.drive.drive_date
    page = nurse.get(donor["url"]).get_data(as_text=True)
    vaccine = page.split('data-item="q4.vaccine"')[1].split("</li>")[0]
    assert "Tiêm vắc-xin?" in vaccine and "Rubella, sởi" in vaccine
    assert (drive_date + dt.timedelta(days=28)).strftime("%d/%m/%Y") in vaccine
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    work = page.split('data-item="work.12_hours"')[0].rsplit("<li", 1)[1]
    assert "flag-advice" in work
    assert "điện thoại" in page.split('class="muted small flag-when"')[1][:200]


def _nurse_with_sites(app, username: str, codes: tuple[str, ...]) -> None:
    from kiosk.auth import hash_password

    with app.app_context():
        sites = list(db.session.scalars(sa.select(Site).where(Site.code.in_(codes))))
        db.session.add(Staff(username=username, display_name=f"Y tá {username}", role=StaffRole.NURSE,
                             password_hash=hash_password(NURSE_PASSWORD), sites=sites))
        db.session.commit()


def test_a_nurse_opens_only_her_own_sites(app, demo, donor):
    # Issue 12: nurses were not tied to a site; any nurse opened every site's queue and donors.
    from tests.conftest import AuthActions

    _nurse_with_sites(app, "ytacscd", ("CSCD",))
    client = app.test_client()
    assert AuthActions(client).sign_in("ytacscd", NURSE_PASSWORD).status_code == 303
    choose = client.get("/nurse").get_data(as_text=True)
    assert "/nurse/CSCD" in choose and "/nurse/XNC" not in choose
    assert client.get("/nurse/CSCD").status_code == 200
    for url in ("/nurse/XNC", "/nurse/XNC/queue", donor["url"]):
        assert client.get(url).status_code == 403, url
    page = client.get("/nurse/CSCD").get_data(as_text=True)
    for url in ("/nurse/XNC/find", donor["url"] + "/claim", donor["url"] + "/decision"):
        assert client.post(url, data={"csrf_token": csrf_from(page)}).status_code == 403, url
    with app.app_context():
        assert db.session.get(Visit, donor["visit_id"]).opened_by_id is None


def test_a_nurse_with_no_site_sees_none_and_is_told_why(app, demo):
    from tests.conftest import AuthActions

    _nurse_with_sites(app, "ytamoi", ())
    client = app.test_client()
    AuthActions(client).sign_in("ytamoi", NURSE_PASSWORD)
    page = client.get("/nurse").get_data(as_text=True)
    assert 'id="no-sites"' in page and "/nurse/XNC" not in page and "/nurse/CSCD" not in page
    assert client.get("/nurse/XNC").status_code == 403


def test_the_organiser_assigns_a_nurses_sites(app, client, auth, demo):
    from tests.conftest import AuthActions

    _nurse_with_sites(app, "ytamoi", ())
    auth.as_organiser()
    with app.app_context():
        member = db.session.scalars(sa.select(Staff).where(Staff.username == "ytamoi")).one()
        xnc = db.session.scalars(sa.select(Site).where(Site.code == "XNC")).one()
        member_id, xnc_id = member.id, xnc.id
    page = client.get(f"/admin/staff/{member_id}/sites").get_data(as_text=True)
    response = client.post(f"/admin/staff/{member_id}/sites", data={"csrf_token": csrf_from(page), "sites": [xnc_id]})
    assert response.status_code == 303
    assert client.post(f"/admin/staff/{member_id}/sites", data={"csrf_token": csrf_from(page), "sites": ["999"]}
                       ).status_code == 422
    with app.app_context():
        entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "staff_sites_changed")).one()
        assert entry.new_values == {"sites": "XNC"} and entry.entity_id == member_id
    nurse = app.test_client()
    AuthActions(nurse).sign_in("ytamoi", NURSE_PASSWORD)
    assert nurse.get("/nurse/XNC").status_code == 200 and nurse.get("/nurse/CSCD").status_code == 403


def test_opening_a_donors_page_is_logged_with_the_address(app, nurse, donor):
    # (Flask-Login's strong session protection ties the session to the address it signed in from.)
    nurse.get(donor["url"])
    with app.app_context():
        entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "donor_page_viewed")).one()
        assert (entry.entity, entry.entity_id, entry.source_address) == ("visit", donor["visit_id"], "127.0.0.1")
        sign_in = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "sign_in")).first()
        assert sign_in.source_address == "127.0.0.1"


def test_a_drive_dated_31_12_9999_does_not_break_the_nurse_pages(app, nurse, donor):
    """Issue 12: the nurse's donor page answered 500 for a drive stored with the date 31/12/9999."""
    with app.app_context():
        visit = db.session.get(Visit, donor["visit_id"])
        visit.drive.drive_date = dt.date(9999, 12, 31)
        db.session.commit()
    for url in (donor["url"], "/nurse/XNC", "/nurse/XNC/queue"):
        assert nurse.get(url).status_code == 200, url


def test_the_decision_summary_writes_the_weight_with_a_vietnamese_decimal_comma(nurse, donor):
    # The form asks "ví dụ 58,5" and the history says "55,5": the summary under the decision too.
    response = decide(nurse, donor, decision="accepted", volume_ml="350", weight_kg="55,5")
    assert response.status_code == 303, response.get_data(as_text=True)
    page = nurse.get(donor["url"]).get_data(as_text=True)
    assert "55,5 kg" in page and "55.5 kg" not in page


def test_correcting_a_decision_after_the_donation_keeps_the_typed_correction(app, nurse, donor, today):
    """A donation stands: changing "accepted" to a deferral is refused as the nurse's to fix (422,
    her typed correction kept), not as a record someone else changed (409): she sees the donation."""
    assert decide(nurse, donor, decision="accepted", volume_ml="350").status_code == 303
    page = nurse.get(donor["url"]).get_data(as_text=True)
    assert nurse.post(donor["url"] + "/donation", data={
        "csrf_token": csrf_from(page), "nonce": nonce(), "volume_ml": "350", "bag_number": "B-0002",
        "expected_version": hidden_value(page, "donation-form", "expected_version"), "outcome": "completed",
        "reaction": "none"}).status_code == 303
    page = nurse.get(donor["url"]).get_data(as_text=True)
    with app.app_context():
        screening_id = db.session.scalars(sa.select(Screening.id)).one()
    typed = "Người hiến báo lại sau khi hiến"
    response = nurse.post(f"{donor['url']}/decision/{screening_id}/correct", data={
        "csrf_token": csrf_from(page), "nonce": nonce(),
        "expected_version": hidden_value(page, "correct-decision-form", "expected_version"),
        "decision": "deferred_temporary", "deferral_until": (today + dt.timedelta(days=7)).isoformat(),
        "reason": "Uống kháng sinh hôm qua", "override_reason": "Khai sai bảng hỏi", "correction_reason": typed})
    assert response.status_code == 422
    assert typed in response.get_data(as_text=True)


def test_a_refused_decision_shows_the_fields_it_needs_without_the_script(nurse, donor):
    """Issue 19: the override's and the checks' reasons show only when the decision needs them.
    nurse.js shows them as the nurse chooses; without it, the server's 422 shows them."""
    page = nurse.get(donor["url"]).get_data(as_text=True)
    assert "is-needed" not in page  # a fresh page: nothing asked for yet
    response = decide(nurse, donor, decision="accepted", volume_ml="350", haemoglobin_g_l="110")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'class="needs needs-override is-needed"' in page and 'id="override_reason-error">' in page
    assert 'class="needs needs-checks"' in page  # a CCCD seen and Hb measured: no checks' reason
    response = decide(nurse, donor, decision="accepted", volume_ml="350", identity_document="")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'class="needs needs-checks is-needed"' in page and 'class="needs needs-override"' in page
    # What was typed in a field stays on show, whatever the decision.
    response = decide(nurse, donor, decision="accepted", volume_ml="350", identity_document="",
                      override_reason="Ghi nhầm ô")
    assert response.status_code == 422
    assert 'class="needs needs-override is-needed"' in response.get_data(as_text=True)


def test_the_nurse_page_names_each_rules_source_and_asks_to_check_a_missing_date(app, nurse, demo):
    """Issue 21, item 6: the Circular's rules cite their clause, NIHBT practice says it is not the
    Circular; item 1: a "yes" with no date counts from today and asks the nurse to check it."""
    visit_id = pick_donor(app, "XNC")
    check_in(app, visit_id, "XNC", yes=("q5.tattoo", "q5.drugs", "q7.cold"))
    page = nurse.get(f"/nurse/XNC/visit/{visit_id}").get_data(as_text=True)
    tattoo = page.split('data-item="q5.tattoo"')[1].split("</li>")[0]
    drugs = page.split('data-item="q5.drugs"')[1].split("</li>")[0]
    cold = page.split('data-item="q7.cold"')[1].split("</li>")[0]
    assert "TT 26/2013 khoản 2 Điều 5" in tattoo and "NIHBT" not in tattoo
    assert "thực hành của NIHBT, không phải quy định của Thông tư" in drugs
    assert "y tá kiểm tra lại ngày" in cold and "khoản 4 Điều 5" in cold
