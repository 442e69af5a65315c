"""Every route has an access rule, and the rule holds. Built from app.url_map, so a new route
without a rule fails here."""
import pytest

from kiosk.access import Access, rule_for_endpoint


def _sample_url(rule) -> str:
    values = {arg: "XNC" if arg == "code" else ("1" if "id" in arg else "x" * 32) for arg in rule.arguments}
    return rule.build(values, append_unknown=False)[1]


def test_every_endpoint_has_a_rule(app):
    missing = [rule.endpoint for rule in app.url_map.iter_rules() if rule_for_endpoint(app, rule.endpoint) is None]
    assert missing == []


@pytest.mark.slow
@pytest.mark.parametrize("who", ["anonymous", "nurse", "organiser"])
def test_staff_routes_refuse_the_wrong_people(app, client, auth, demo, who):
    if who == "nurse":
        auth.as_nurse()
    elif who == "organiser":
        auth.as_organiser()
    checked = 0
    for rule in app.url_map.iter_rules():
        required = rule_for_endpoint(app, rule.endpoint)
        if required in (Access.PUBLIC, Access.KIOSK) or rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(_sample_url(rule), method=method, headers={"HX-Request": "true"})
            allowed = who == required.value
            if not allowed:
                assert response.status_code in (401, 403), (rule.rule, method, who, response.status_code)
                checked += 1
    assert checked > 0


def test_csp_and_headers_on_every_page(client, demo):
    for url in ("/", "/kiosk/XNC", "/display", "/auth/sign-in", "/nope"):
        response = client.get(url)
        csp = response.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "script-src 'self'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/kiosk/XNC").headers["Cache-Control"] == "no-store"


def test_state_changes_need_a_csrf_token(app, demo):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    response = client.post("/auth/sign-in", data={"username": "yta", "password": "x"})
    assert response.status_code == 400 and "hết hạn" in response.get_data(as_text=True)
    response = client.post("/lang", data={"lang": "en"})
    assert response.status_code == 400


def test_language_toggle_switches_to_english_and_back(client, demo):
    page = client.get("/").get_data(as_text=True)
    assert "Quầy tiếp đón" in page
    token = __import__("re").search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/lang", data={"lang": "en", "next": "/", "csrf_token": token})
    assert "Donor kiosk" in client.get("/").get_data(as_text=True)
    response = client.post("/lang", data={"lang": "vi", "next": "https://evil.example/", "csrf_token": token})
    assert response.headers["Location"] == "/"
