"""Kiosk and pass-page views through the test client: what the server answers, whatever it is sent."""
import datetime as dt
import re

import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.formatting import local_today
from kiosk.models import KioskSession, Site, Visit
from kiosk.tokens import new_nonce

HX = {"HX-Request": "true"}


@pytest.fixture
def client(client, demo):
    """A tablet's browser: the CSRF token from the kiosk page goes with every request, as htmx sends it."""
    page = client.get("/kiosk/XNC").get_data(as_text=True)
    client.environ_base["HTTP_X_CSRFTOKEN"] = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    return client


@pytest.fixture
def token(app, demo):
    with app.app_context():
        return db.session.scalars(sa.select(Visit.token).join(Site).where(Site.code == "XNC").limit(1)).one()


def test_kiosk_pages_are_not_cached_and_carry_no_personal_data_in_urls(client, demo, token):
    response = client.post("/kiosk/XNC/scan", data={"pass_code": token, "nonce": new_nonce()}, headers=HX)
    page = response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    urls = re.findall(r'(?:hx-get|hx-post|href|action)="([^"]+)"', page)
    assert urls and all(token not in url and not re.search(r"\d{12}", url) for url in urls)


def test_a_full_page_request_of_a_step_gets_the_whole_kiosk(client, demo):
    page = client.get("/kiosk/XNC/find").get_data(as_text=True)
    assert 'id="kiosk-stage"' in page and 'data-step="find"' in page


def test_unknown_site_is_404(client, demo):
    assert client.get("/kiosk/NOPE").status_code == 404


@pytest.mark.parametrize("data", [
    {},
    {"pass_code": ""},
    {"pass_code": "x" * 10_000},
    {"pass_code": "\x00\x00"},
    {"pass_code": "http://x/p/" + "A" * 32},  # no nonce
    {"pass_code": "A" * 32, "nonce": "short"},
])
def test_bad_scans_get_a_message_not_an_error(client, demo, data):
    response = client.post("/kiosk/XNC/scan", data=data, headers=HX)
    assert response.status_code in (200, 422)
    assert 'data-step="' in response.get_data(as_text=True)


def test_a_closed_kiosk_session_cannot_be_used_again(client, app, demo, token):
    page = client.post("/kiosk/XNC/scan", data={"pass_code": token, "nonce": new_nonce()}, headers=HX).get_data(as_text=True)
    kiosk_session = re.search(r'name="ks" value="([^"]+)"', page).group(1)
    client.post("/kiosk/XNC/reset", data={"ks": kiosk_session}, headers=HX)
    with app.app_context():
        assert db.session.get(KioskSession, kiosk_session).closed_at is not None
    again = client.post("/kiosk/XNC/confirm", data={"ks": kiosk_session, "nonce": new_nonce()}, headers=HX)
    body = again.get_data(as_text=True)
    assert 'data-step="start"' in body and "bảo vệ thông tin" in body


def test_the_questionnaire_refuses_a_missing_answer(client, demo, token):
    page = client.post("/kiosk/XNC/scan", data={"pass_code": token, "nonce": new_nonce()}, headers=HX).get_data(as_text=True)
    kiosk_session = re.search(r'name="ks" value="([^"]+)"', page).group(1)
    client.post("/kiosk/XNC/confirm", data={"ks": kiosk_session, "nonce": new_nonce()}, headers=HX)
    response = client.post("/kiosk/XNC/questionnaire", data={"ks": kiosk_session, "step": "2", "action": "next",
                                                             "q3.listed": "no"}, headers=HX)
    assert response.status_code == 422
    assert "Vui lòng trả lời tất cả câu hỏi" in response.get_data(as_text=True)


def test_guessing_pass_urls_is_slowed_down(client, demo, token):
    for _ in range(30):
        assert client.get("/p/" + "Z" * 32).status_code == 404
    assert client.get("/p/" + "Z" * 32).status_code == 429
    assert client.get("/p/" + token).status_code == 429  # the limit is per address, whatever the token


def test_guessing_at_the_kiosk_scanner_is_slowed_down(client, demo, token):
    for _ in range(30):
        client.post("/kiosk/XNC/scan", data={"pass_code": "Z" * 32, "nonce": new_nonce()}, headers=HX)
    response = client.post("/kiosk/XNC/scan", data={"pass_code": token, "nonce": new_nonce()}, headers=HX)
    assert response.status_code == 429 and "Quá nhiều lần thử" in response.get_data(as_text=True)


def test_manifest_runs_the_kiosk_full_screen(client, demo):
    manifest = client.get("/kiosk/XNC/manifest.webmanifest").get_json()
    assert manifest["display"] == "fullscreen" and manifest["start_url"] == "/kiosk/XNC"
    for icon in manifest["icons"]:
        with client.get(icon["src"]) as response:
            assert response.status_code == 200 and response.mimetype == "image/png"


def test_walk_in_on_a_phone_leads_to_the_pass_page(client, app, demo):
    data = {"full_name": "Đinh Thị Mai", "date_of_birth": "05/05/1995", "sex": "F", "id_number": "001195009999",
            "phone": "0912345678", "department_id": "0", "rank": "", "blood_group": "", "last_donation": "",
            "nonce": new_nonce()}
    response = client.post("/kiosk/XNC/walk-in", data=data)
    assert response.status_code == 303 and response.headers["Location"].startswith("/p/")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Xin chào Mai" in page and 'data-step="questionnaire-0"' in page


def test_the_walk_in_form_takes_its_age_limits_from_this_instances_rules(client, app, demo):
    with app.app_context():
        today = local_today()

    def walk_in(years: float, id_number: str):
        born = today - dt.timedelta(days=int(years * 365.25))
        data = {"full_name": "Lê Văn Tám", "date_of_birth": born.strftime("%d/%m/%Y"), "sex": "M",
                "id_number": id_number, "phone": "0912345678", "department_id": "0", "rank": "", "blood_group": "",
                "last_donation": "", "nonce": new_nonce()}
        return client.post("/kiosk/XNC/walk-in", data=data)

    refused = walk_in(62.5, "001064009991")
    assert refused.status_code == 422
    assert "phải từ 18 đến 60 tuổi (anh/chị 62 tuổi)" in refused.get_data(as_text=True)
    # An instance whose rules say 20 to 65 (app.config["SCREENING_RULES"]) gets them on the form too.
    app.config["SCREENING_RULES"] = {"age": {"min_years": 20, "max_years": 65}}
    assert walk_in(62.5, "001064009992").status_code == 303
    too_young = walk_in(19.5, "001207009993")
    assert too_young.status_code == 422
    assert "phải từ 20 đến 65 tuổi (anh/chị 19 tuổi)" in too_young.get_data(as_text=True)
