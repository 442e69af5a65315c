"""Kiosk and pass-page views through the test client: what the server answers, whatever it is sent."""
import datetime as dt
import re

import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.formatting import local_today
from kiosk.models import Donor, KioskSession, Site, Visit, WriteReceipt
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


def test_the_next_donors_scan_with_a_lost_answers_nonce_never_shows_the_previous_donor(client, app, demo):
    """The answer to donor A's scan was lost (Wi-Fi): the tablet keeps its form and nonce. Donor B's
    pass scanned with it is refused with "reload", not answered with A's "is this you?"."""
    with app.app_context():
        visits = db.session.scalars(sa.select(Visit).join(Site).where(Site.code == "XNC").order_by(Visit.id).limit(2)).all()
        (a_token, a_name), (b_token, _) = [(v.token, v.donor.full_name) for v in visits]
    nonce = new_nonce()
    first = client.post("/kiosk/XNC/scan", data={"pass_code": a_token, "nonce": nonce}, headers=HX)
    assert first.status_code == 200 and a_name in first.get_data(as_text=True)
    second = client.post("/kiosk/XNC/scan", data={"pass_code": b_token, "nonce": nonce}, headers=HX)
    assert second.status_code == 409 and a_name not in second.get_data(as_text=True)
    again = client.post("/kiosk/XNC/scan", data={"pass_code": a_token, "nonce": nonce}, headers=HX)
    assert again.status_code == 200 and a_name in again.get_data(as_text=True)  # A's own retry still replays


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
    assert client.get("/p/" + token).status_code == 429  # the limit is per phone (its cookie), whatever the token


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


def test_a_walk_ins_dates_must_be_in_order(client, app, demo):
    """A birth date after the drive is "in the future" (it was "you are 0 years old"), and a last
    donation on or before the birth date is refused (it was taken)."""
    with app.app_context():
        today = local_today()
    base = {"full_name": "Lê Văn Tám", "sex": "M", "id_number": "001095009990", "phone": "0912345678",
            "department_id": "0", "rank": "", "blood_group": ""}
    future = (today + dt.timedelta(days=400)).strftime("%d/%m/%Y")
    answer = client.post("/kiosk/XNC/walk-in", data=base | {"date_of_birth": future, "last_donation": "",
                                                           "nonce": new_nonce()})
    body = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "ở tương lai" in body and "0 tuổi" not in body
    answer = client.post("/kiosk/XNC/walk-in", data=base | {"date_of_birth": "05/05/1995", "last_donation": "01/01/1990",
                                                           "nonce": new_nonce()})
    assert answer.status_code == 422 and "trước ngày sinh" in answer.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(sa.select(Donor).where(Donor.id_number == "001095009990")).first() is None


# ----- issue 12: walk-ins and answers given on the phone -----

def _walk_in(**changes) -> dict:
    data = {"full_name": "Đinh Thị Mai", "date_of_birth": "05/05/1995", "sex": "F", "id_number": "001195009999",
            "phone": "0912345678", "department_id": "0", "rank": "", "blood_group": "", "last_donation": "",
            "nonce": new_nonce()}
    return data | changes


def test_a_walk_in_never_hands_out_a_known_donors_pass(client, app, demo):
    """Issue 12: with a known CCCD and the right date of birth, the phone was sent to that donor's own
    pass page; with a wrong one it was told "registered with other details". Now both get one answer."""
    from kiosk.models import Donor

    with app.app_context():
        donor = db.session.scalars(sa.select(Donor).limit(1)).one()
        known = dict(id_number=donor.id_number, full_name=donor.full_name, sex=donor.sex,
                     date_of_birth=donor.date_of_birth.strftime("%d/%m/%Y"))
        wrong_birth = (donor.date_of_birth + dt.timedelta(days=1)).strftime("%d/%m/%Y")
    answers = []
    for birth in (known["date_of_birth"], wrong_birth):
        for headers in ({}, HX):
            response = client.post("/kiosk/XNC/walk-in", data=_walk_in(**(known | {"date_of_birth": birth})),
                                   headers=headers)
            assert response.status_code == 422 and "Location" not in response.headers
            body = response.get_data(as_text=True)
            assert "vui lòng đến bàn đăng ký với giấy tờ tùy thân" in body and "/p/" not in body
            answers.append(re.sub(r'(value|content)="[^"]*"', "", body))  # tokens differ by the second
    assert answers[0] == answers[2] and answers[1] == answers[3]  # nothing tells the two dates apart
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(KioskSession)) == 0


def test_walk_ins_are_limited_per_address_and_per_cccd(client, app, demo):
    """Issue 12: 30 junk walk-ins from one address were checked in as numbers 1-30 in 2.7 s."""
    for n in range(10):
        client.delete_cookie("kiosk_phone")  # ten phones behind one address (each phone: 2 a day)
        assert client.post("/kiosk/XNC/walk-in", data=_walk_in(id_number=f"0011950{n:05d}")).status_code == 303
    refused = client.post("/kiosk/XNC/walk-in", data=_walk_in(id_number="001195099999"), headers=HX)
    assert refused.status_code == 429 and "Quá nhiều lần thử" in refused.get_data(as_text=True)
    # One CCCD (registered above: one try) tried from many addresses: refused after five, whichever
    # address asks.
    for n in range(4):
        client.environ_base["REMOTE_ADDR"] = f"10.9.0.{n + 1}"
        client.delete_cookie("kiosk_phone")
        assert client.post("/kiosk/XNC/walk-in", data=_walk_in(id_number="001195000000")).status_code == 422
    client.environ_base["REMOTE_ADDR"] = "10.9.0.99"
    assert client.post("/kiosk/XNC/walk-in", data=_walk_in(id_number="001195000000")).status_code == 429
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit).where(
            Visit.registered_via == "walk_in")) == 10


def test_a_burst_of_walk_ins_past_the_read_check_is_still_limited(client, app, demo, monkeypatch):
    """Parallel requests all read the counter before any counts: the count each one writes decides."""
    from kiosk.views.donor_kiosk import steps

    monkeypatch.setattr(steps, "over_limit", lambda counters: False)  # every request raced past the read
    answers = [(client.delete_cookie("kiosk_phone"),  # a phone of its own each (each phone: 2 a day)
                client.post("/kiosk/XNC/walk-in", data=_walk_in(id_number=f"0011960{n:05d}")))[1].status_code
               for n in range(12)]
    assert answers == [303] * 10 + [429] * 2
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit).where(
            Visit.registered_via == "walk_in")) == 10
    # The same for "no pass": a CCCD and a date of birth, guessed (20 a minute).
    data = {"id_number": "001195009999", "date_of_birth": "05/05/1995"}
    answers = [client.post("/kiosk/XNC/find", data=data | {"nonce": new_nonce()}, headers=HX).status_code
               for _ in range(22)]
    assert answers == [422] * 20 + [429] * 2


def test_a_walk_in_retried_with_its_nonce_answers_the_same_and_counts_once(client, demo):
    data = _walk_in()
    first = client.post("/kiosk/XNC/walk-in", data=data)
    for _ in range(12):
        again = client.post("/kiosk/XNC/walk-in", data=data)
        assert again.status_code == 303 and again.headers["Location"] == first.headers["Location"]


def test_a_refused_find_writes_nothing(client, app, demo):
    """Issue 12: every /find request wrote a rate-limit row even when refused, so anonymous floods
    queued for the write lock and slowed a real kiosk's scans."""
    from kiosk.models import RateLimitHit

    data = {"id_number": "001195009999", "date_of_birth": "05/05/1995"}
    for _ in range(20):
        assert client.post("/kiosk/XNC/find", data=data | {"nonce": new_nonce()}, headers=HX).status_code == 422
    with app.app_context():
        before = db.session.scalars(sa.select(RateLimitHit.count).where(RateLimitHit.key.like("kiosk:find:%"))).one()
        receipts = db.session.scalar(sa.select(sa.func.count()).select_from(WriteReceipt))
    for _ in range(5):
        assert client.post("/kiosk/XNC/find", data=data | {"nonce": new_nonce()}, headers=HX).status_code == 429
    with app.app_context():
        assert before == 20
        assert db.session.scalars(sa.select(RateLimitHit.count).where(RateLimitHit.key.like("kiosk:find:%"))).one() == 20
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WriteReceipt)) == receipts


def _phone_answers(client, token: str, sex: str, nonce: str, yes: tuple[str, ...] = ()):
    from kiosk.screening.questionnaire import load_questionnaire
    from tests.support.donors import answers_for

    groups = load_questionnaire().groups_for(sex)
    form = {item: "yes" if value else "no" for item, value in answers_for(sex, yes).items()}
    return client.post(f"/p/{token}/questionnaire", data=form | {"step": str(len(groups) - 1), "nonce": nonce})


def _visit_of(app, token):
    with app.app_context():
        visit = db.session.scalars(sa.select(Visit).where(Visit.token == token)).one()
        return visit.id, visit.donor.sex


def test_answers_given_on_the_phone_are_locked_after_the_first(client, app, demo, token):
    from kiosk.models import QuestionnaireResponse

    _visit_id, sex = _visit_of(app, token)
    nonce = new_nonce()
    assert _phone_answers(client, token, sex, nonce).status_code == 303
    # Someone else with the pass link answers again: refused in words, nothing changes.
    second = _phone_answers(client, token, sex, new_nonce(), yes=("q5.tattoo",))
    assert second.status_code == 409 and "đã được trả lời" in second.get_data(as_text=True)
    # The first request retried (its nonce) answers the same.
    assert _phone_answers(client, token, sex, nonce).status_code == 303
    with app.app_context():
        responses = db.session.scalars(sa.select(QuestionnaireResponse)).all()
        assert len(responses) == 1 and responses[0].flags == []


def _scan_and_confirm(client, token):
    page = client.post("/kiosk/XNC/scan", data={"pass_code": token, "nonce": new_nonce()}, headers=HX).get_data(as_text=True)
    kiosk_session = re.search(r'name="ks" value="([^"]+)"', page).group(1)
    page = client.post("/kiosk/XNC/confirm", data={"ks": kiosk_session, "nonce": new_nonce()}, headers=HX)
    return kiosk_session, page.get_data(as_text=True)


def test_the_kiosk_asks_whether_the_phones_answers_were_the_donors(client, app, demo, token):
    from kiosk.models import AuditLog, QuestionnaireResponse

    _visit_id, sex = _visit_of(app, token)
    assert _phone_answers(client, token, sex, new_nonce()).status_code == 303
    with app.app_context():
        answered_at = db.session.scalars(sa.select(QuestionnaireResponse.submitted_at)).one()
        from kiosk.formatting import format_time
        shown = format_time(answered_at)
    kiosk_session, page = _scan_and_confirm(client, token)
    assert 'data-step="phone-answers"' in page and f"trên điện thoại lúc {shown}" in page
    ticket = client.post("/kiosk/XNC/phone-answers", data={"ks": kiosk_session, "mine": "yes", "nonce": new_nonce()},
                         headers=HX).get_data(as_text=True)
    assert 'data-step="ticket"' in ticket
    with app.app_context():
        assert db.session.scalars(sa.select(QuestionnaireResponse.channel)).all() == ["phone"]
        assert not db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "phone_answers_replaced")).all()


def test_answers_given_again_at_the_kiosk_replace_the_phones_and_are_audited(client, app, demo, token, auth):
    from kiosk.models import AuditLog, QuestionnaireResponse
    from kiosk.screening.questionnaire import load_questionnaire
    from tests.support.donors import answers_for

    visit_id, sex = _visit_of(app, token)
    assert _phone_answers(client, token, sex, new_nonce(), yes=("q5.tattoo",)).status_code == 303
    kiosk_session, page = _scan_and_confirm(client, token)
    page = client.post("/kiosk/XNC/phone-answers", data={"ks": kiosk_session, "mine": "no"},
                       headers=HX).get_data(as_text=True)
    assert 'data-step="questionnaire-0"' in page
    groups = load_questionnaire().groups_for(sex)
    form = {item: "yes" if value else "no" for item, value in answers_for(sex).items()}
    ticket = client.post("/kiosk/XNC/questionnaire", data=form | {"ks": kiosk_session, "step": str(len(groups) - 1),
                                                                  "nonce": new_nonce()}, headers=HX)
    assert 'data-step="ticket"' in ticket.get_data(as_text=True)
    with app.app_context():
        channels = db.session.scalars(sa.select(QuestionnaireResponse.channel).order_by(QuestionnaireResponse.id)).all()
        assert channels == ["phone", "kiosk"]
        replaced = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "phone_answers_replaced")).one()
        assert replaced.entity_id == visit_id
    # The nurse sees which answers stand, where and when they were given.
    assert auth.as_nurse().status_code == 303
    nurse_page = client.get(f"/nurse/XNC/visit/{visit_id}").get_data(as_text=True)
    assert 'data-answers-channel="kiosk"' in nurse_page and "Trả lời tại quầy tiếp đón lúc" in nurse_page


# ----- the questionnaire's screens: sub-items, details, "None of these" -----

def _at_the_questions(client, app, sex="M"):
    """A donor of this sex scanned and confirmed at XNC: (kiosk session id, their questionnaire's groups)."""
    from kiosk.screening.questionnaire import load_questionnaire

    with app.app_context():
        token = db.session.scalars(sa.select(Visit.token).join(Site).where(
            Site.code == "XNC", Visit.checked_in_at.is_(None), Visit.donor.has(sex=sex)).limit(1)).one()
    page = client.post("/kiosk/XNC/scan", data={"pass_code": token, "nonce": new_nonce()}, headers=HX).get_data(as_text=True)
    kiosk_session = re.search(r'name="ks" value="([^"]+)"', page).group(1)
    client.post("/kiosk/XNC/confirm", data={"ks": kiosk_session, "nonce": new_nonce()}, headers=HX)
    return kiosk_session, load_questionnaire().groups_for(sex)


def _all_answered(groups, **yes):
    return {item.id: "yes" if item.must_be_yes or item.id in yes else "no" for g in groups for item in g.items}


def _screen(groups, number: str) -> int:
    return next(index for index, group in enumerate(groups) if any(part.number == number for part in group.sections))


@pytest.mark.parametrize("extra, message", [
    ({"q10": "no"}, "không có trong phiếu đăng ký hiến máu"),  # the 2026-11 version's consent
    ({"q4.smallpox": "yes"}, "không có trong phiếu đăng ký hiến máu"),
    ({"q1#detail": "x"}, "không có trong phiếu đăng ký hiến máu"),  # q1 asks for no detail
    ({"q2": "yes", "q2#detail": "x" * 201}, "tối đa 200 ký tự cho “Bệnh gì?”"),
    ({"q4.vaccine": "yes", "q4.vaccine#detail": "smallpox"}, "chọn một trong các loại"),
])
def test_a_screen_refuses_an_unknown_sub_item_or_a_bad_detail_with_a_message(client, app, demo, extra, message):
    kiosk_session, groups = _at_the_questions(client, app)
    step = _screen(groups, "4") if "q4.vaccine" in extra else 1
    data = {"ks": kiosk_session, "step": str(step), "action": "next", **_all_answered(groups), **extra}
    response = client.post("/kiosk/XNC/questionnaire", data=data, headers=HX)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert message in body and 'role="alert"' in body
    assert "smallpox" not in body.split('role="alert"')[1].split("</p>")[0]


def test_the_last_screen_checks_every_screen_again(client, app, demo):
    """Hidden inputs can be changed: a bad detail on an earlier screen sends the donor back to it."""
    from kiosk.models import QuestionnaireResponse

    kiosk_session, groups = _at_the_questions(client, app)
    data = {"ks": kiosk_session, "step": str(len(groups) - 1), "action": "next", "nonce": new_nonce(),
            **_all_answered(groups, **{"q7.other": True}), "q7.other#detail": "<b>" * 100}
    response = client.post("/kiosk/XNC/questionnaire", data=data, headers=HX)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert f'data-step="questionnaire-{_screen(groups, "7")}"' in body and "tối đa 200 ký tự" in body
    assert "<b>" not in body  # shown escaped
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(QuestionnaireResponse)) == 0


def test_none_of_these_answers_the_rest_of_the_question_no_and_moves_on(client, app, demo):
    kiosk_session, groups = _at_the_questions(client, app)
    step = _screen(groups, "5")
    data = {"ks": kiosk_session, "step": str(step), "action": "none"}
    body = client.post("/kiosk/XNC/questionnaire", data=data, headers=HX).get_data(as_text=True)
    assert f'data-step="questionnaire-{step + 1}"' in body
    carried = dict(re.findall(r'<input type="hidden" name="(q5\.[a-z_]+)" value="(yes|no)">', body))
    assert carried == {item.id: "no" for item in groups[step].items}


def test_none_of_these_never_overwrites_a_yes(client, app, demo):
    """A donor taps "Có" on an item, then the shortcut out of habit: the "yes" stays, the rest is
    "no", and the screen is left as with "Tiếp" (issue 19: a declared deferral reached no nurse)."""
    kiosk_session, groups = _at_the_questions(client, app)
    step = _screen(groups, "5")
    data = {"ks": kiosk_session, "step": str(step), "action": "none", "q5.tattoo": "yes"}
    body = client.post("/kiosk/XNC/questionnaire", data=data, headers=HX).get_data(as_text=True)
    assert f'data-step="questionnaire-{step + 1}"' in body
    carried = dict(re.findall(r'<input type="hidden" name="(q5\.[a-z_]+)" value="(yes|no)">', body))
    assert carried == {item.id: "yes" if item.id == "q5.tattoo" else "no" for item in groups[step].items}
    # Back on that screen the shortcut is off, and says why.
    back = {"ks": kiosk_session, "step": str(step + 1), "action": "back", **{k: v for k, v in carried.items()}}
    body = client.post("/kiosk/XNC/questionnaire", data=back, headers=HX).get_data(as_text=True)
    assert f'data-step="questionnaire-{step}"' in body
    assert re.search(r"<button[^>]*data-q-none[^>]*disabled", body)
    assert "Anh/chị đã chọn “Có” ở trên" in body
    # The confirmation cannot be answered that way.
    last = len(groups) - 1
    data = {"ks": kiosk_session, "step": str(last), "action": "none", **_all_answered(groups), "consent": "no"}
    response = client.post("/kiosk/XNC/questionnaire", data=data, headers=HX)
    assert response.status_code == 422 and f'data-step="questionnaire-{last}"' in response.get_data(as_text=True)


def test_details_are_stored_once_however_often_the_last_screen_is_sent(client, app, demo):
    from kiosk.models import QuestionnaireResponse

    kiosk_session, groups = _at_the_questions(client, app, sex="F")
    nonce = new_nonce()
    data = {"ks": kiosk_session, "step": str(len(groups) - 1), "action": "next", "nonce": nonce,
            **_all_answered(groups, **{"q4.vaccine": True, "q9.pregnancy_ended": True}),
            "q4.vaccine#detail": "rabies_bite", "q9.pregnancy_ended#date": "01032026",
            "q2#detail": "answered no: not kept"}
    first = client.post("/kiosk/XNC/questionnaire", data=data, headers=HX)
    again = client.post("/kiosk/XNC/questionnaire", data=data, headers=HX)
    assert first.status_code == again.status_code == 200
    number = re.search(r'data-queue-number[^>]*>\s*(\d+)', first.get_data(as_text=True)).group(1)
    assert re.search(r'data-queue-number[^>]*>\s*(\d+)', again.get_data(as_text=True)).group(1) == number
    with app.app_context():
        response = db.session.scalars(sa.select(QuestionnaireResponse)).one()
        assert response.details == {"q4.vaccine": "rabies_bite", "q9.pregnancy_ended#date": "2026-03-01"}
        assert {"item": "q4.vaccine", "kind": "wait", "months": 12, "row": "12_months",
                "detail": "rabies_bite", "source": "TT 26/2013 Art. 5.1"} in response.flags


def test_a_womans_question_posted_for_a_man_is_dropped_and_a_future_date_refused(client, app, demo):
    kiosk_session, groups = _at_the_questions(client, app, sex="M")
    data = {"ks": kiosk_session, "step": "0", "action": "next", "q1": "no", "q9.pregnancy_ended": "yes"}
    body = client.post("/kiosk/XNC/questionnaire", data=data, headers=HX).get_data(as_text=True)
    assert 'data-step="questionnaire-1"' in body and "q9.pregnancy_ended" not in body
    kiosk_session, groups = _at_the_questions(client, app, sex="F")
    step = _screen(groups, "9")
    with app.app_context():
        future = (local_today() + dt.timedelta(days=3)).strftime("%d/%m/%Y")
    data = {"ks": kiosk_session, "step": str(step), "action": "next", **_all_answered(groups),
            "q9.pregnancy_ended": "yes", "q9.pregnancy_ended#date": future}
    response = client.post("/kiosk/XNC/questionnaire", data=data, headers=HX)
    assert response.status_code == 422 and "tương lai" in response.get_data(as_text=True)
    data["q9.pregnancy_ended#date"] = "31/02/2026"
    response = client.post("/kiosk/XNC/questionnaire", data=data, headers=HX)
    assert response.status_code == 422 and "dd/mm/yyyy" in response.get_data(as_text=True)


def test_the_phone_refuses_an_unknown_sub_item_with_a_message(client, app, demo, token):
    response = client.post(f"/p/{token}/questionnaire", data={"step": "0", "action": "next", "q1": "no",
                                                              "q3.unheard_of": "yes"})
    assert response.status_code == 422
    assert "không có trong phiếu đăng ký hiến máu" in response.get_data(as_text=True)


# ----- issue 19: the consent declined, the abandoned session in the audit, the language toggle -----

def _abandoned(app):
    from kiosk.models import AuditLog

    with app.app_context():
        return [(entry.entity, entry.entity_id, entry.actor, entry.new_values) for entry in db.session.scalars(
            sa.select(AuditLog).where(AuditLog.action == "kiosk_session_abandoned").order_by(AuditLog.id))]


def test_declining_the_consent_ends_the_kiosk_session_at_once_and_keeps_nothing(client, app, demo):
    """Issue 19: after "Tôi không đồng ý" the tablet kept the questionnaire for 3 min 15 s."""
    from kiosk.models import QuestionnaireResponse

    kiosk_session, groups = _at_the_questions(client, app)
    data = {"ks": kiosk_session, "step": str(len(groups) - 1), "action": "next", "nonce": new_nonce(),
            **_all_answered(groups, **{"q7.cold": True}), "consent": "no"}
    response = client.post("/kiosk/XNC/questionnaire", data=data, headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and 'data-step="outcome-declined"' in body
    assert "gặp cán bộ tại bàn tiếp đón" in body and "data-return-direct" in body and "q7.cold" not in body
    with app.app_context():
        assert db.session.get(KioskSession, kiosk_session).closed_at is not None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(QuestionnaireResponse)) == 0
        visit_id = db.session.get(KioskSession, kiosk_session).visit_id
    assert _abandoned(app) == [("visit", visit_id, "kiosk:XNC", {"consent_declined": True})]
    # The session is gone: the same answers sent again check no one in.
    again = client.post("/kiosk/XNC/questionnaire", data=data | {"consent": "yes"}, headers=HX)
    assert 'data-step="start"' in again.get_data(as_text=True)


def test_declining_the_consent_on_the_phone_ends_that_questionnaire_and_stores_nothing(client, app, demo, token):
    from kiosk.models import QuestionnaireResponse
    from kiosk.screening.questionnaire import load_questionnaire
    from tests.support.donors import answers_for

    _visit_id, sex = _visit_of(app, token)
    groups = load_questionnaire().groups_for(sex)
    form = {item: "yes" if value else "no" for item, value in answers_for(sex).items()} | {"consent": "no"}
    response = client.post(f"/p/{token}/questionnaire", data=form | {"step": str(len(groups) - 1), "action": "next",
                                                                     "nonce": new_nonce()})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "data-declined" in body and "gặp cán bộ tại bàn tiếp đón" in body
    assert "data-step=\"questionnaire-" not in body
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(QuestionnaireResponse)) == 0


def test_an_abandoned_kiosk_session_is_audited_once_without_answers(client, app, demo, auth):
    """Issue 19, item 1: "the audit notes the abandoned session": the cancel bar, the idle wipe and
    the next donor's scan all post the reset; a second reset, or a ticket's, writes nothing more."""
    kiosk_session, groups = _at_the_questions(client, app)
    with app.app_context():
        visit_id = db.session.get(KioskSession, kiosk_session).visit_id
    client.post("/kiosk/XNC/reset", data={"ks": kiosk_session, "q1": "yes"}, headers=HX)
    client.post("/kiosk/XNC/reset", data={"ks": kiosk_session}, headers=HX)
    assert _abandoned(app) == [("visit", visit_id, "kiosk:XNC", None)]
    # A check-in closes its session without such an entry.
    kiosk_session, groups = _at_the_questions(client, app, sex="F")
    data = {"ks": kiosk_session, "step": str(len(groups) - 1), "action": "next", "nonce": new_nonce(),
            **_all_answered(groups)}
    assert 'data-step="ticket"' in client.post("/kiosk/XNC/questionnaire", data=data, headers=HX).get_data(as_text=True)
    client.post("/kiosk/XNC/reset", data={"ks": kiosk_session}, headers=HX)
    assert len(_abandoned(app)) == 1
    # The console's audit page says it in words.
    auth.as_organiser()
    page = client.get(f"/admin/drives/{demo['drive_id']}/audit").get_data(as_text=True)
    assert "Rời quầy tiếp đón khi chưa đăng ký đến" in page and "kiosk_session_abandoned" not in page


def test_the_language_toggle_draws_the_same_screen_with_every_answer(client, app, demo):
    """Issue 19, item 4: EN on screen 5 went back to the start screen and lost every answer."""
    kiosk_session, groups = _at_the_questions(client, app)
    step = _screen(groups, "5")
    earlier = {item.id: "no" for group in groups[:step] for item in group.items}
    data = {"ks": kiosk_session, "step": str(step), "nonce": new_nonce(), "action": "language", "lang": "en",
            **earlier, "q4.vaccine": "yes", "q4.vaccine#detail": "live", "q5.tattoo": "yes"}
    response = client.post("/kiosk/XNC/questionnaire", data=data)  # a whole page, as the toggle loads it
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and '<html lang="en">' in body and 'id="kiosk-stage"' in body
    assert f'data-step="questionnaire-{step}"' in body and "Next" in body
    assert re.search(r'id="q5.tattoo-yes" name="q5.tattoo" value="yes" checked', body)
    assert '<input type="hidden" name="q4.vaccine" value="yes">' in body
    assert '<input type="hidden" name="q4.vaccine#detail" value="live">' in body
    assert "lang=en" in response.headers["Set-Cookie"]
    # ... and back to Vietnamese on the phone, the same way.
    token = _token_of(app, kiosk_session)
    back = client.post(f"/p/{token}/questionnaire", data={"step": "2", "action": "language", "lang": "vi",
                                                          "q1": "no", "q3.listed": "yes"})
    body = back.get_data(as_text=True)
    assert '<html lang="vi">' in body and 'data-step="questionnaire-2"' in body and "Tiếp" in body
    assert re.search(r'id="q3.listed-yes" name="q3.listed" value="yes" checked', body)
    assert '<input type="hidden" name="q1" value="no">' in body


def _token_of(app, kiosk_session):
    with app.app_context():
        return db.session.get(KioskSession, kiosk_session).visit.token


def test_the_language_toggle_keeps_is_this_you_and_the_phones_answers_question(client, app, demo, token):
    _visit_id, sex = _visit_of(app, token)
    assert _phone_answers(client, token, sex, new_nonce()).status_code == 303
    page = client.post("/kiosk/XNC/scan", data={"pass_code": token, "nonce": new_nonce()}, headers=HX).get_data(as_text=True)
    kiosk_session = re.search(r'name="ks" value="([^"]+)"', page).group(1)
    with app.app_context():
        name = db.session.get(KioskSession, kiosk_session).visit.donor.full_name
    body = client.post("/kiosk/XNC/confirm", data={"ks": kiosk_session, "action": "language", "lang": "en",
                                                   "nonce": new_nonce()}).get_data(as_text=True)
    assert 'data-step="confirm"' in body and "Is this you?" in body and name in body
    body = client.post("/kiosk/XNC/confirm", data={"ks": kiosk_session, "nonce": new_nonce()},
                       headers=HX).get_data(as_text=True)
    assert 'data-step="phone-answers"' in body
    body = client.post("/kiosk/XNC/phone-answers", data={"ks": kiosk_session, "mine": "yes", "action": "language",
                                                         "lang": "vi", "nonce": new_nonce()}).get_data(as_text=True)
    assert 'data-step="phone-answers"' in body and "trên điện thoại lúc" in body  # nothing checked in yet
    with app.app_context():
        assert db.session.get(Visit, _visit_id).checked_in_at is None


# ----- issue 22, item 5: the walk-in form -----

def _walk_in_of(app, id_number: str):
    with app.app_context():
        return db.session.scalars(sa.select(Donor).where(Donor.id_number == id_number)).first()


def test_the_walk_in_unit_is_chosen_from_the_drives_list_and_other_is_no_default(client, app, demo):
    page = client.get("/kiosk/XNC/walk-in", headers=HX).get_data(as_text=True)
    select = page.split('id="department_id"')[1].split("</select>")[0]
    assert re.search(r'<option selected value="">|<option value="" selected', select) or \
        re.findall(r"<option[^>]*>", select)[0].find('value=""') > 0
    assert "Cục Quản lý xuất nhập cảnh" in select and "selected" not in select.split('value="0"')[1][:20]
    refused = client.post("/kiosk/XNC/walk-in", data=_walk_in(department_id="", id_number="001195001111"), headers=HX)
    assert refused.status_code == 422 and "Chọn đơn vị" in refused.get_data(as_text=True)
    assert _walk_in_of(app, "001195001111") is None


def test_a_walk_ins_rank_is_stored_in_its_proper_case_and_a_phone_that_lost_its_0_is_repaired(client, app, demo):
    response = client.post("/kiosk/XNC/walk-in", data=_walk_in(id_number="001195002222", rank="đại uý",
                                                               phone="912 345 678"))
    assert response.status_code == 303
    donor = _walk_in_of(app, "001195002222")
    assert donor.rank == "Đại úy" and donor.phone == "0912345678"


def test_the_walk_in_details_are_checked_before_the_questionnaire(client, app, demo):
    with app.app_context():
        from kiosk.models import Department

        unit = db.session.scalar(sa.select(Department).where(Department.name == "Cục Quản lý xuất nhập cảnh"))
    data = _walk_in(id_number="001195003333", rank="trung tá", phone="0912345678", department_id=str(unit.id),
                    action="check")
    shown = client.post("/kiosk/XNC/walk-in", data=data, headers=HX)
    body = shown.get_data(as_text=True)
    assert shown.status_code == 200 and 'data-step="walk-in-check"' in body
    assert "Trung tá" in body and "Cục Quản lý xuất nhập cảnh" in body and "001195003333" in body
    assert _walk_in_of(app, "001195003333") is None  # nothing registered yet
    edit = client.post("/kiosk/XNC/walk-in", data=data | {"action": "edit"}, headers=HX).get_data(as_text=True)
    assert 'data-step="walk-in"' in edit and 'value="001195003333"' in edit
    done = client.post("/kiosk/XNC/walk-in", data=data | {"action": "register"}, headers=HX)
    assert 'data-step="questionnaire-0"' in done.get_data(as_text=True)
    assert _walk_in_of(app, "001195003333").department_id == unit.id
