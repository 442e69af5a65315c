"""Secure by default, route by route, built from app.url_map: a new route is checked without
anyone adding it here."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from kiosk.access import Access, rule_for_endpoint
from kiosk.extensions import db
from kiosk.models import Visit

SIGN_IN = {Access.NURSE: "as_nurse", Access.ORGANISER: "as_organiser"}


def _url(rule, visit_id: int, token: str) -> str:
    values = {}
    for argument in rule.arguments:
        if argument == "code":
            values[argument] = "XNC"
        elif argument == "token":
            values[argument] = token
        elif argument.endswith("id"):
            values[argument] = visit_id if "visit" in argument else 1
        else:
            values[argument] = "x"
    return rule.build(values, append_unknown=False)[1]


@pytest.fixture
def sample(app, demo):
    with app.app_context():
        visit = db.session.scalars(sa.select(Visit).limit(1)).one()
        return {"visit_id": visit.id, "token": visit.token}


def _routes(app, method: str):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if method in rule.methods and rule.endpoint != "static":
            yield rule, rule_for_endpoint(app, rule.endpoint)


# Offline kiosks' uploads (kiosk.views.device_api, issue 20).
DEVICE_CREDENTIAL_ONLY = {"device_api.upload"}


@pytest.mark.parametrize("role", [Access.PUBLIC, Access.NURSE, Access.ORGANISER])
def test_every_state_change_needs_a_csrf_token(app, client, auth, sample, role):
    """Every POST route, as the role allowed to use it, without a token: refused before anything
    happens, for a plain form and for htmx alike."""
    if role in SIGN_IN:
        assert getattr(auth, SIGN_IN[role])().status_code == 303
    checked = []
    for rule, rule_access in _routes(app, "POST"):
        allowed = rule_access in (Access.PUBLIC, Access.KIOSK) if role == Access.PUBLIC else rule_access == role
        if not allowed:
            continue
        url = _url(rule, sample["visit_id"], sample["token"])
        if rule.endpoint in DEVICE_CREDENTIAL_ONLY:
            # No CSRF token (it would go stale in an offline tablet's queue): the device's credential
            # and a header no cross-site form can send instead; a form's post is refused.
            assert client.post(url, data={"nonce": "n" * 22}).status_code == 403
            checked.append(rule.rule)
            continue
        for headers in ({}, {"HX-Request": "true"}):
            response = client.post(url, data={"nonce": "n" * 22}, headers=headers)
            assert response.status_code == 400, (url, headers, response.status_code)
            assert "hết hạn" in response.get_data(as_text=True)
        checked.append(rule.rule)
    assert checked, "no POST route was checked"


@pytest.mark.slow
@pytest.mark.parametrize("role", [Access.PUBLIC, Access.NURSE, Access.ORGANISER])
def test_every_page_has_a_strict_csp_and_safe_headers(app, client, auth, sample, role):
    if role in SIGN_IN:
        getattr(auth, SIGN_IN[role])()
    seen = 0
    for rule, rule_access in _routes(app, "GET"):
        if role == Access.PUBLIC and rule_access not in (Access.PUBLIC, Access.KIOSK):
            continue
        if role != Access.PUBLIC and rule_access != role:
            continue
        response = client.get(_url(rule, sample["visit_id"], sample["token"]))
        csp = response.headers.get("Content-Security-Policy", "")
        assert "default-src 'self'" in csp and "script-src 'self'" in csp, rule.rule
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, rule.rule
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        if re.match(r"^/(kiosk|nurse|admin|p/|passes|auth)", rule.rule):
            assert response.headers.get("Cache-Control") == "no-store", rule.rule
        response.close()
        seen += 1
    assert seen > 3


def test_session_cookie_is_httponly_and_samesite(client, auth, demo):
    response = auth.as_nurse()
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("kiosk_session="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    assert all("HttpOnly" in c and "SameSite=" in c for c in cookies)
    assert "Secure" not in session_cookie  # plain HTTP on the venue's LAN


def test_behind_an_https_proxy_cookies_are_secure(tmp_path, migrated_template, demo_template):
    from tests.conftest import NURSE_PASSWORD, make_app_on_copy

    app = make_app_on_copy(demo_template, tmp_path, PROXY_FIX=True)
    client = app.test_client()
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    form = client.get("/auth/sign-in", headers=https)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form.get_data(as_text=True)).group(1)
    # The Referer a browser sends under the page's own Referrer-Policy (no-referrer sent none, and
    # every POST over HTTPS failed); the real browser's version is tests/browser/test_https.py.
    referer = browser_referer(form.headers["Referrer-Policy"], "https://localhost/auth/sign-in")
    response = client.post("/auth/sign-in", data={"username": "yta", "password": NURSE_PASSWORD, "csrf_token": csrf},
                           headers={**https, **referer})
    assert response.status_code == 303
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    cookies = response.headers.getlist("Set-Cookie")
    assert any(c.startswith("kiosk_session=") for c in cookies)
    assert all("Secure" in c and "HttpOnly" in c for c in cookies), cookies
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def browser_referer(policy: str, page_url: str) -> dict:
    """The Referer a browser sends with a form posted from `page_url` to the same origin."""
    return {} if policy == "no-referrer" else {"Referer": page_url}


def test_referrer_policy_keeps_the_referer_on_the_site(client, demo):
    for url in ("/", "/kiosk/XNC", "/auth/sign-in", "/display"):
        assert client.get(url).headers["Referrer-Policy"] == "same-origin", url


@pytest.mark.slow
def test_no_page_links_to_another_origin(app, client, auth, sample):
    """With a Referer on same-origin requests, a link away from a pass page would hand its token
    to another site; there is none, on any page any role sees."""
    auth.as_organiser()
    for rule, _access in _routes(app, "GET"):
        response = client.get(_url(rule, sample["visit_id"], sample["token"]))
        if response.mimetype == "text/html":
            page = response.get_data(as_text=True)
            targets = re.findall(r'(?:href|src|action|hx-get|hx-post)="([^"]*)"', page)
            assert [t for t in targets if re.match(r"(?i)^(https?:)?//", t)] == [], rule.rule
        response.close()


def test_hsts_only_over_https(tmp_path, migrated_template, client):
    assert "Strict-Transport-Security" not in client.get("/").headers
    # X-Forwarded-Proto from anyone is not believed without PROXY_FIX.
    assert "Strict-Transport-Security" not in client.get("/", headers={"X-Forwarded-Proto": "https"}).headers
    # Served over HTTPS directly (gunicorn --certfile): sent, without includeSubDomains or preload.
    assert client.get("/", base_url="https://localhost").headers["Strict-Transport-Security"] == "max-age=31536000"
    from tests.conftest import make_app_on_copy

    (tmp_path / "proxied").mkdir()
    proxied = make_app_on_copy(migrated_template, tmp_path / "proxied", PROXY_FIX=True)
    behind = proxied.test_client()
    assert behind.get("/", headers={"X-Forwarded-Proto": "https"}).headers["Strict-Transport-Security"]
    assert "Strict-Transport-Security" not in behind.get("/", headers={"X-Forwarded-Proto": "http"}).headers
    with proxied.app_context():
        db.session.remove()
        db.engine.dispose()


def test_over_https_csrf_stays_strict_about_the_referer(client, demo):
    """Same-origin Referer accepted; none, or another site's, refused (WTF_CSRF_SSL_STRICT stays on)."""
    https = "https://localhost"
    page = client.get("/", base_url=https).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    data = {"lang": "en", "next": "/", "csrf_token": csrf}
    for headers in ({}, {"Referer": "https://evil.example/"}, {"Referer": "http://localhost/"}):
        response = client.post("/lang", data=data, headers=headers, base_url=https)
        # Not "the page has expired, reload it": reloading never brings a Referer back.
        body = response.get_data(as_text=True)
        assert response.status_code == 400 and "Tải lại trang không giúp được" in body and "hết hạn" not in body, headers
    # A token that is really stale is still told to reload.
    stale = client.post("/lang", data={**data, "csrf_token": "x" + csrf[1:]}, headers={"Referer": f"{https}/"},
                        base_url=https)
    assert stale.status_code == 400 and "hết hạn" in stale.get_data(as_text=True)
    response = client.post("/lang", data=data, headers={"Referer": f"{https}/"}, base_url=https)
    assert response.status_code == 303 and "Secure" in response.headers["Set-Cookie"]


def test_language_cookie_is_httponly(client, demo):
    page = client.get("/").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/lang", data={"lang": "en", "next": "/", "csrf_token": csrf})
    assert "HttpOnly" in response.headers["Set-Cookie"] and "SameSite=Lax" in response.headers["Set-Cookie"]


def test_health_answers_are_never_on_the_donor_side(app, client, demo, sample):
    """The kiosk and the pass page never show a donor's answers back, even the phone's own."""
    from kiosk.checkin import store_answers
    from kiosk.screening.questionnaire import load_questionnaire
    from kiosk.tokens import new_nonce

    questionnaire = load_questionnaire()
    with app.app_context():
        visit = db.session.get(Visit, sample["visit_id"])
        answers = {item.id: item.id in ("q5.tattoo", "consent") for item in questionnaire.items_for(visit.donor.sex)}
        store_answers(db.session, visit=visit, questionnaire=questionnaire, answers=answers, channel="phone",
                      nonce=new_nonce())
        db.session.commit()
    page = client.get(f"/p/{sample['token']}").get_data(as_text=True)
    assert "Xăm" not in page and "q5" not in page
    assert 'name="q5.tattoo"' not in page
