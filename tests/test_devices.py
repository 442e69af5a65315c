"""Enrolled devices (kiosk.devices): with DEVICE_PAIRING required, as it is by default, only a tablet
paired for a site opens its kiosk. The rest of the suite runs with pairing off (tests/conftest.py)."""
import datetime as dt
import hashlib
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from kiosk import devices
from kiosk.access import rule_for_endpoint
from kiosk.audit_text import actor_text
from kiosk.extensions import db
from kiosk.models import AuditLog, Device, KioskSession, Site, Visit
from kiosk.tokens import new_nonce
from kiosk.views.donor_kiosk import OPEN_TO_ANY_BROWSER
from kiosk.views.pairing import DEVICE_COOKIE
from tests.conftest import AuthActions
from tests.support.server import free_port

HX = {"HX-Request": "true"}
NOT_SET_UP = "Máy tính bảng này chưa được cài đặt"


@pytest.fixture
def app(app):
    app.config["DEVICE_PAIRING"] = "required"  # the default, which conftest turns off for the rest
    return app


@pytest.fixture
def token(app, demo):
    with app.app_context():
        return db.session.scalars(sa.select(Visit.token).join(Site).where(Site.code == "XNC").limit(1)).one()


def add_device(app, site_code="XNC", name="Kiosk 1", kind="kiosk", now=None) -> tuple[int, str]:
    with app.app_context():
        site = db.session.scalars(sa.select(Site).where(Site.code == site_code)).one()
        device, code = devices.add_device(db.session, staff_id=None, site_id=site.id, kind=kind, name=name, now=now)
        return device.id, code


def _csrf(page: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def pair(client, code: str):
    page = client.get(f"/pair/{code}")
    if page.status_code != 200:
        return page
    return client.post(f"/pair/{code}", data={"csrf_token": _csrf(page.get_data(as_text=True))})


def paired_tablet(app, site_code="XNC", name="Kiosk 1"):
    """A new browser, paired as a kiosk tablet of `site_code`, with the kiosk page's CSRF token."""
    client = app.test_client()
    _device_id, code = add_device(app, site_code, name)
    response = pair(client, code)
    assert response.status_code == 303 and response.headers["Location"] == f"/kiosk/{site_code}"
    page = client.get(f"/kiosk/{site_code}")
    assert page.status_code == 200
    client.environ_base["HTTP_X_CSRFTOKEN"] = _csrf(page.get_data(as_text=True))
    return client


def _kiosk_session_of(page: str) -> str:
    return re.search(r'name="ks" value="([^"]+)"', page).group(1)


def _sample_url(rule) -> str:
    values = {arg: "XNC" if arg == "code" else ("1" if "id" in arg else "x" * 32) for arg in rule.arguments}
    return rule.build(values, append_unknown=False)[1]


def test_an_unpaired_browser_is_refused_on_every_kiosk_route(app, client, demo):
    checked = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("donor_kiosk.") or rule.endpoint in OPEN_TO_ANY_BROWSER:
            continue
        assert rule_for_endpoint(app, rule.endpoint) is not None
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for headers in (HX, {}):
                if rule.endpoint == "donor_kiosk.walk_in" and not headers:
                    continue  # the phone's own walk-in page: below
                response = client.open(_sample_url(rule), method=method, headers=headers,
                                       data={"nonce": new_nonce(), "ks": "x" * 32, "pass_code": "x" * 32})
                assert response.status_code == 403, (rule.rule, method, headers, response.status_code)
                assert NOT_SET_UP in response.get_data(as_text=True)
                checked.append((rule.endpoint, method))
    assert {"donor_kiosk.start", "donor_kiosk.scan", "donor_kiosk.find", "donor_kiosk.confirm",
            "donor_kiosk.questionnaire", "donor_kiosk.reset"} <= {endpoint for endpoint, _method in checked}
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(KioskSession)) == 0


def test_the_donors_own_phone_still_opens_its_pass_and_the_walk_in_page(app, client, demo, token):
    assert client.get(f"/p/{token}").status_code == 200
    assert client.get("/kiosk/XNC/walk-in").status_code == 200  # the hall display's code, on a phone
    assert client.get("/kiosk/XNC/walk-in", headers=HX).status_code == 403  # the kiosk's step is not


def test_pairing_works_once_and_keeps_only_a_hash(app, demo):
    tablet = app.test_client()
    device_id, code = add_device(app)
    assert NOT_SET_UP in tablet.get("/kiosk/XNC").get_data(as_text=True)
    response = pair(tablet, code)
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{DEVICE_COOKIE}=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here; over HTTPS the cookie is Secure (browser test)
    credential = tablet.get_cookie(DEVICE_COOKIE).value
    assert len(credential) >= 40
    with app.app_context():
        device = db.session.get(Device, device_id)
        assert device.credential_hash == hashlib.sha256(credential.encode()).hexdigest()
        assert device.pairing_code_hash is None and device.paired_at is not None
    assert tablet.get("/kiosk/XNC").status_code == 200
    # The code is spent: a second browser cannot pair with it.
    other = app.test_client()
    assert other.get(f"/pair/{code}").status_code == 404
    assert pair(other, code).status_code == 404
    assert other.get("/kiosk/XNC").status_code == 403


def test_a_pairing_code_expires_after_ten_minutes(app, demo):
    from kiosk.models import utcnow

    _id, stale = add_device(app, now=utcnow() - dt.timedelta(minutes=10, seconds=5))
    _id, fresh = add_device(app, name="Kiosk 2", now=utcnow() - dt.timedelta(minutes=9, seconds=30))
    tablet = app.test_client()
    response = tablet.get(f"/pair/{stale}")
    assert response.status_code == 404 and "10" in response.get_data(as_text=True)
    assert tablet.get(f"/pair/{fresh}").status_code == 200


def test_a_tablet_paired_for_another_site_is_refused(app, demo):
    tablet = paired_tablet(app, "CSCD")
    assert tablet.get("/kiosk/XNC").status_code == 403
    assert tablet.get("/kiosk/CSCD").status_code == 200


def test_a_revoked_tablet_is_refused_at_its_next_request(app, demo):
    tablet = paired_tablet(app)
    with app.app_context():
        device_id = db.session.scalars(sa.select(Device.id)).one()
    organiser = app.test_client()
    AuthActions(organiser).as_organiser()
    page = organiser.get("/admin/devices").get_data(as_text=True)
    assert "Kiosk 1" in page
    response = organiser.post(f"/admin/devices/{device_id}/revoke", data={"csrf_token": _csrf(page)})
    assert response.status_code == 303
    refused = tablet.get("/kiosk/XNC")
    assert refused.status_code == 403 and NOT_SET_UP in refused.get_data(as_text=True)


def test_the_audit_actor_of_a_kiosk_write_is_the_device(app, demo, token):
    tablet = paired_tablet(app, name="Máy 1 cổng chính")
    response = tablet.post("/kiosk/XNC/scan", data={"pass_code": token, "nonce": new_nonce()}, headers=HX)
    assert response.status_code == 200 and 'name="ks"' in response.get_data(as_text=True)
    with app.app_context():
        entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "kiosk_scan")).one()
        assert entry.actor == "device:Máy 1 cổng chính"
        with app.test_request_context():
            assert "Máy 1 cổng chính" in actor_text(entry)


def test_rate_limits_count_per_device_not_per_address(app, demo, token):
    first, second = paired_tablet(app, name="Kiosk 1"), paired_tablet(app, name="Kiosk 2")
    for _ in range(30):
        first.post("/kiosk/XNC/scan", data={"pass_code": "Z" * 32, "nonce": new_nonce()}, headers=HX)
    assert first.post("/kiosk/XNC/scan", data={"pass_code": token, "nonce": new_nonce()},
                      headers=HX).status_code == 429
    # The same address, another tablet of the site: its own count.
    response = second.post("/kiosk/XNC/scan", data={"pass_code": token, "nonce": new_nonce()}, headers=HX)
    assert response.status_code == 200 and 'name="ks"' in response.get_data(as_text=True)


def test_a_kiosk_session_from_another_device_is_refused(app, demo, token):
    first, second = paired_tablet(app, name="Kiosk 1"), paired_tablet(app, name="Kiosk 2")
    page = first.post("/kiosk/XNC/scan", data={"pass_code": token, "nonce": new_nonce()}, headers=HX)
    kiosk_session = _kiosk_session_of(page.get_data(as_text=True))
    stolen = second.post("/kiosk/XNC/confirm", data={"ks": kiosk_session, "nonce": new_nonce()}, headers=HX)
    body = stolen.get_data(as_text=True)
    assert 'data-step="start"' in body and 'data-step="questionnaire"' not in body
    # Nor can the other tablet close it: the donor's own tablet carries on.
    second.post("/kiosk/XNC/reset", data={"ks": kiosk_session}, headers=HX)
    own = first.post("/kiosk/XNC/confirm", data={"ks": kiosk_session, "nonce": new_nonce()}, headers=HX)
    assert 'data-step="start"' not in own.get_data(as_text=True)


def test_a_receipt_replayed_on_another_action_is_refused(app, demo, token):
    tablet = paired_tablet(app)
    nonce = new_nonce()
    scanned = tablet.post("/kiosk/XNC/scan", data={"pass_code": token, "nonce": nonce}, headers=HX)
    kiosk_session = _kiosk_session_of(scanned.get_data(as_text=True))
    with app.app_context():
        visit = db.session.scalars(sa.select(Visit).where(Visit.token == token)).one()
        id_number, date_of_birth, name = (visit.donor.id_number, visit.donor.date_of_birth.strftime("%d/%m/%Y"),
                                          visit.donor.full_name)
    # The scan's nonce sent to /find (with a real donor's details): not that scan's answer.
    response = tablet.post("/kiosk/XNC/find", data={"id_number": id_number, "date_of_birth": date_of_birth,
                                                    "nonce": nonce}, headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert kiosk_session not in body and name not in body
    # The same action retried with its nonce still answers the same.
    again = tablet.post("/kiosk/XNC/scan", data={"pass_code": token, "nonce": nonce}, headers=HX)
    assert _kiosk_session_of(again.get_data(as_text=True)) == kiosk_session


def test_the_console_adds_renames_and_lists_devices(app, demo):
    organiser = app.test_client()
    AuthActions(organiser).as_organiser()
    page = organiser.get("/admin/devices").get_data(as_text=True)
    with app.app_context():
        site_id = db.session.scalars(sa.select(Site.id).where(Site.code == "XNC")).one()
    response = organiser.post("/admin/devices", data={"name": "Kiosk 1", "site_id": str(site_id), "kind": "kiosk",
                                                      "csrf_token": _csrf(page)})
    assert response.status_code == 303
    pairing_page = organiser.get(response.headers["Location"]).get_data(as_text=True)
    link = re.search(r'id="pairing-link"[^>]*>([^<]+)<', pairing_page).group(1)
    assert link.startswith("http://kiosk.test/pair/") and "<svg" in pairing_page
    tablet = app.test_client()
    assert pair(tablet, link.rsplit("/", 1)[1]).status_code == 303
    # Once used, the console no longer shows the code.
    assert "pairing-link" not in organiser.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        device_id = db.session.scalars(sa.select(Device.id)).one()
    listing = organiser.get("/admin/devices").get_data(as_text=True)
    assert "Đã ghép nối" in listing or "Paired" in listing
    renamed = organiser.post(f"/admin/devices/{device_id}/rename", data={"name": "Cổng chính",
                                                                          "csrf_token": _csrf(listing)})
    assert renamed.status_code == 303
    assert "Cổng chính" in organiser.get("/admin/devices").get_data(as_text=True)
    with app.app_context():
        actions = set(db.session.scalars(sa.select(AuditLog.action).where(AuditLog.entity == "device")))
    assert {"device_added", "device_paired", "device_renamed"} <= actions


def test_serve_demo_prints_a_pairing_link_per_site(app, runner, demo, monkeypatch):
    monkeypatch.setattr("kiosk.cli.lan_addresses", lambda: ["192.168.1.20"])
    monkeypatch.setattr("kiosk.cli.os.execvpe", lambda file, args, env: None)
    port = str(free_port())  # serve refuses a port something listens on
    result = runner.invoke(args=["serve", "--demo", "--port", port])
    assert result.exit_code == 0, result.output
    links = dict(re.findall(rf"\[(\w+)\] pair: +http://192\.168\.1\.20:{port}/pair/(\S+)", result.output))
    assert set(links) == {"XNC", "CSCD"}
    tablet = app.test_client()
    assert pair(tablet, links["XNC"]).status_code == 303
    assert tablet.get("/kiosk/XNC").status_code == 200
    # Served again: the same tablet per site, a new link (the old one is spent or expires).
    again = runner.invoke(args=["serve", "--demo", "--port", port])
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Device)) == 2
    assert "/pair/" in again.output and links["XNC"] not in again.output
    # The demo's passwords are printed for the demo only, not at every start of a real server.
    from kiosk.roster.demo import CREDENTIALS_FILE

    (Path(app.instance_path) / CREDENTIALS_FILE).write_text("yta mat-khau-mau\n")
    assert "demo account: yta / mat-khau-mau" in runner.invoke(args=["serve", "--demo", "--port", port]).output
    plain = runner.invoke(args=["serve", "--port", port])
    assert plain.exit_code == 0 and "demo account" not in plain.output and "/pair/" not in plain.output


def test_the_display_is_public_unless_display_pairing_is_on(app, client, demo):
    assert client.get("/display/XNC").status_code == 200
    app.config["DISPLAY_PAIRING"] = True
    assert client.get("/display/XNC").status_code == 403
    assert client.get("/display").status_code == 403
    screen = app.test_client()
    _id, code = add_device(app, "XNC", "Màn hình hội trường", kind="display")
    response = pair(screen, code)
    assert response.headers["Location"] == "/display/XNC"
    assert screen.get("/display/XNC").status_code == 200 and screen.get("/display").status_code == 200
    assert screen.get("/display/CSCD").status_code == 403
    assert screen.get("/kiosk/XNC").status_code == 403  # a display is no kiosk


def test_a_scan_nonce_replayed_by_another_device_is_refused(app, demo, token):
    """A nonce seen on the network is no use to another tablet: its receipt answers only the device
    that wrote it (the scan's answer holds a kiosk session and the donor's name)."""
    first, second = paired_tablet(app, name="Kiosk 1"), paired_tablet(app, name="Kiosk 2")
    nonce = new_nonce()
    scanned = first.post("/kiosk/XNC/scan", data={"pass_code": token, "nonce": nonce}, headers=HX)
    kiosk_session = _kiosk_session_of(scanned.get_data(as_text=True))
    with app.app_context():
        name = db.session.scalars(sa.select(Visit).where(Visit.token == token)).one().donor.full_name
    replayed = second.post("/kiosk/XNC/scan", data={"pass_code": token, "nonce": nonce}, headers=HX)
    body = replayed.get_data(as_text=True)
    assert replayed.status_code == 409 and kiosk_session not in body and name not in body
    again = first.post("/kiosk/XNC/scan", data={"pass_code": token, "nonce": nonce}, headers=HX)
    assert _kiosk_session_of(again.get_data(as_text=True)) == kiosk_session
