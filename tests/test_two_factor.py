"""TOTP two-factor, one's own password, the absolute session lifetime (issue 12, item 5)."""
from __future__ import annotations

import datetime as dt
import re

import pyotp
import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import AuditLog, Staff, StaffSession
from tests.conftest import ORGANISER_PASSWORD, AuthActions
from tests.support.pages import csrf_from


def _enrol(client) -> tuple[str, str]:
    """Turn two-factor on for the signed-in account: its secret, and the code that confirmed it."""
    page = client.get("/auth/two-factor").get_data(as_text=True)
    assert 'id="two-factor-start"' in page and "<svg" not in page  # a GET writes nothing
    page = client.get(client.post("/auth/two-factor", data={"csrf_token": csrf_from(page), "start": "1"}
                                  ).headers["Location"]).get_data(as_text=True)
    assert "<svg" in page
    secret = re.search(r'id="two-factor-secret">([A-Z2-7]+)<', page).group(1)
    wrong = client.post("/auth/two-factor", data={"csrf_token": csrf_from(page), "code": "000000"})
    assert wrong.status_code == 422
    code = pyotp.TOTP(secret).now()
    right = client.post("/auth/two-factor", data={"csrf_token": csrf_from(page), "code": code})
    assert right.status_code == 303
    assert 'id="two-factor-on"' in client.get("/auth/two-factor").get_data(as_text=True)
    return secret, code


def test_any_account_enrols_and_then_signs_in_with_a_code(app, client, auth, demo):
    auth.as_nurse()
    secret, enrolment_code = _enrol(client)
    fresh = app.test_client()
    response = AuthActions(fresh).as_nurse()
    assert response.status_code == 303 and response.headers["Location"].endswith("/auth/sign-in/code")
    assert fresh.get("/nurse").status_code == 302  # the password alone signs no one in
    page = fresh.get("/auth/sign-in/code").get_data(as_text=True)
    assert fresh.post("/auth/sign-in/code", data={"csrf_token": csrf_from(page), "code": "123456"}).status_code == 401
    # The code that confirmed the app was spent by it: the next one (the app's, 30 s on) signs in.
    used = fresh.post("/auth/sign-in/code", data={"csrf_token": csrf_from(page), "code": enrolment_code})
    assert used.status_code == 401 and "đã được dùng" in used.get_data(as_text=True)
    response = fresh.post("/auth/sign-in/code", data={"csrf_token": csrf_from(page), "code": _next_code(secret)})
    assert response.status_code == 303 and response.headers["Location"].endswith("/nurse")
    assert fresh.get("/nurse").status_code == 200
    with app.app_context():
        actions = set(db.session.scalars(sa.select(AuditLog.action)))
        assert {"two_factor_enabled", "sign_in_code_failed", "sign_in_code_reused", "sign_in"} <= actions


def _next_code(secret: str) -> str:
    return pyotp.TOTP(secret).at(dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30))


@pytest.mark.slow
def test_a_sign_in_code_works_once(app, client, auth, demo):
    """A code seen over a shoulder or on the network cannot sign in a second browser within its minute,
    nor can an older one once a newer one signed in."""
    auth.as_nurse()
    secret, _ = _enrol(client)
    code = _next_code(secret)
    answers = []
    for _ in range(2):
        browser = app.test_client()
        AuthActions(browser).as_nurse()
        page = browser.get("/auth/sign-in/code").get_data(as_text=True)
        answers.append(browser.post("/auth/sign-in/code", data={"csrf_token": csrf_from(page), "code": code}))
    assert [answer.status_code for answer in answers] == [303, 401]
    assert "đã được dùng" in answers[1].get_data(as_text=True)
    with app.app_context():
        from kiosk import two_factor

        staff_id = db.session.scalars(sa.select(Staff.id).where(Staff.username == "yta")).one()
        assert two_factor.use_sign_in_code(db.session, member_id=staff_id, code=pyotp.TOTP(secret).now()) == "used"
        assert two_factor.use_sign_in_code(db.session, member_id=staff_id, code="000000") in ("wrong", "used")


def test_organisers_must_enrol_when_required(app, client, auth, demo):
    app.config["REQUIRE_2FA"] = True
    auth.as_organiser()
    response = client.get("/admin/drives")
    assert response.status_code == 303 and response.headers["Location"].endswith("/auth/two-factor")
    assert 'id="two-factor-required"' in client.get("/auth/two-factor").get_data(as_text=True)
    _enrol(client)
    assert client.get("/admin/drives").status_code == 200


def test_the_organiser_turns_two_factor_off_for_a_lost_phone(app, client, auth, demo):
    nurse = app.test_client()
    AuthActions(nurse).as_nurse()
    _enrol(nurse)
    auth.as_organiser()
    with app.app_context():
        nurse_id = db.session.scalars(sa.select(Staff.id).where(Staff.username == "yta")).one()
    page = client.get("/admin/staff").get_data(as_text=True)
    assert client.post(f"/admin/staff/{nurse_id}/two-factor-off", data={"csrf_token": csrf_from(page)}
                       ).status_code == 303
    assert AuthActions(app.test_client()).as_nurse().headers["Location"].endswith("/nurse")


def test_changing_ones_own_password_needs_the_current_one(app, client, auth, demo):
    # Issue 12: an organiser changed their own password without the current one.
    auth.as_organiser()
    with app.app_context():
        own_id = db.session.scalars(sa.select(Staff.id).where(Staff.username == "bantochuc")).one()
    response = client.get(f"/admin/staff/{own_id}/password")
    assert response.status_code == 303 and response.headers["Location"].endswith("/auth/password")
    page = client.get(f"/admin/staff/{own_id}/password", follow_redirects=True).get_data(as_text=True)
    new = {"password": "mat-khau-moi-9", "confirm": "mat-khau-moi-9"}
    refused = client.post(f"/admin/staff/{own_id}/password", data={"csrf_token": csrf_from(page), **new})
    assert refused.status_code == 303  # the console's reset does not change one's own password
    wrong = client.post("/auth/password", data={"csrf_token": csrf_from(page), "current": "doan-bua", **new})
    assert wrong.status_code == 422
    assert AuthActions(app.test_client()).sign_in("bantochuc", ORGANISER_PASSWORD).status_code == 303
    right = client.post("/auth/password", data={"csrf_token": csrf_from(page), "current": ORGANISER_PASSWORD, **new})
    assert right.status_code == 200 and 'id="password-changed"' in right.get_data(as_text=True)
    assert client.get("/admin/drives").status_code == 200  # this session stays signed in
    assert AuthActions(app.test_client()).sign_in("bantochuc", "mat-khau-moi-9").status_code == 303


def test_a_session_ends_twelve_hours_after_sign_in_however_busy(app, client, auth, demo):
    # Issue 12: no absolute session lifetime; a session kept busy lived for ever.
    auth.as_nurse()
    assert client.get("/nurse").status_code == 200
    with app.app_context():
        long_ago = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(hours=12, minutes=1)
        db.session.execute(sa.update(StaffSession).values(created_at=long_ago))
        db.session.commit()
    assert client.get("/nurse").status_code == 302


def test_a_code_typed_with_full_width_digits_is_the_same_code():
    # Some phone keyboards type "１２３４５６"; every other number in the app is read through NFKC.
    from kiosk.two_factor import matching_step

    secret = pyotp.random_base32()
    at = dt.datetime(2026, 12, 2, 1, 0, tzinfo=dt.timezone.utc)
    code = pyotp.TOTP(secret).at(at)
    full_width = "".join(chr(ord(ch) - ord("0") + ord("０")) for ch in code)
    assert matching_step(secret, full_width, at) == matching_step(secret, code, at) is not None
    assert matching_step(secret, code[:3] + " " + code[3:], at) is not None
    assert matching_step(secret, "١٢٣٤٥٦", at) is None  # other scripts' digits are not ours
