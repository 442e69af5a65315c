"""Staff sign-in: password hashes, session rotation, idle timeout, sign-out that ends the
session on the server, throttling that cannot lock a nurse out for long, and the audit log."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import AuditLog, Staff, StaffSession
from tests.conftest import NURSE_PASSWORD, AuthActions
from tests.support.pages import csrf_from

COOKIE = "kiosk_session"


def _signed_in_ids(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(StaffSession.id).where(StaffSession.ended_at.is_(None))))


def test_passwords_are_stored_as_argon2_hashes(app, demo):
    with app.app_context():
        staff = db.session.scalars(sa.select(Staff).where(Staff.username == "yta")).one()
        assert staff.password_hash.startswith("$argon2id$") and NURSE_PASSWORD not in staff.password_hash


def test_sign_in_rotates_the_session(app, client, auth, demo):
    page = client.get("/auth/sign-in").get_data(as_text=True)
    before_token, before_cookie = csrf_from(page), client.get_cookie(COOKIE).value
    response = auth.as_nurse()
    assert response.status_code == 303 and response.headers["Location"] == "/nurse"
    assert client.get_cookie(COOKIE).value != before_cookie
    # nothing of the anonymous session carries over: its CSRF token is gone with it
    assert csrf_from(client.get("/nurse").get_data(as_text=True)) != before_token
    first = _signed_in_ids(app)
    auth.as_nurse()
    assert len(set(_signed_in_ids(app)) - set(first)) == 1  # every sign-in gets a new server-side id


def test_sign_out_ends_the_session_on_the_server(app, client, auth, demo):
    auth.as_nurse()
    assert client.get("/nurse/XNC").status_code == 200
    copied = client.get_cookie(COOKIE).value
    page = client.get("/nurse/XNC").get_data(as_text=True)
    assert client.post("/auth/sign-out", data={"csrf_token": csrf_from(page)}).status_code == 303
    thief = app.test_client()
    thief.set_cookie(COOKIE, copied)
    response = thief.get("/nurse/XNC")
    assert response.status_code == 302 and "/auth/sign-in" in response.headers["Location"]
    assert thief.get("/nurse/XNC/queue", headers={"HX-Request": "true"}).status_code == 401
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog)
                                 .where(AuditLog.action == "sign_out")) == 1


def _age_sessions(app, minutes: int) -> None:
    with app.app_context():
        db.session.execute(sa.update(StaffSession).values(
            last_seen_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(minutes=minutes)))
        db.session.commit()


def test_an_idle_session_ends_after_the_configured_minutes(app, client, auth, demo):
    app.config["NURSE_IDLE_MINUTES"] = 5
    auth.as_nurse()
    _age_sessions(app, 4)
    assert client.get("/nurse/XNC").status_code == 200  # 4 minutes idle: still signed in, and refreshed
    _age_sessions(app, 6)
    assert client.get("/nurse/XNC").status_code == 302


def test_the_queue_poll_does_not_keep_a_session_alive(app, client, auth, demo):
    auth.as_nurse()
    _age_sessions(app, 10)
    assert client.get("/nurse/XNC/queue", headers={"HX-Request": "true"}).status_code in (200, 204)
    with app.app_context():
        seen = db.session.scalars(sa.select(StaffSession.last_seen_at)).one()
        assert dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - seen > dt.timedelta(minutes=9)
    _age_sessions(app, 16)
    assert client.get("/nurse/XNC/queue", headers={"HX-Request": "true"}).status_code == 401


def test_wrong_and_unknown_accounts_get_the_same_answer_and_are_audited(app, client, auth, demo):
    wrong = auth.sign_in("yta", "not-the-password")
    unknown = auth.sign_in("nobody", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu" in wrong.get_data(as_text=True)
    auth.as_nurse()
    with app.app_context():
        actions = [a for a in db.session.scalars(sa.select(AuditLog.action).order_by(AuditLog.id))]
        assert actions == ["sign_in_failed", "sign_in_failed", "sign_in"]


@pytest.fixture
def clock(monkeypatch):
    from kiosk.views import sign_in as auth_views

    now = {"t": 1_900_000_020.0}
    monkeypatch.setattr(auth_views, "_now", lambda: now["t"])
    return now


def test_five_failures_hold_an_account_for_a_minute_only(app, client, auth, demo, clock):
    for _ in range(5):
        assert auth.sign_in("yta", "guess").status_code == 401
    assert auth.as_nurse().status_code == 429  # even the right password waits
    clock["t"] += 61
    assert auth.as_nurse().status_code == 303


def test_a_browser_the_nurse_signed_in_on_is_not_locked_out_by_others(app, demo, clock):
    laptop = app.test_client()
    AuthActions(laptop).as_nurse()  # the laptop now carries a device cookie for "yta"
    laptop.post("/auth/sign-out", data={"csrf_token": csrf_from(laptop.get("/nurse").get_data(as_text=True))})
    attacker = app.test_client()
    for _ in range(6):
        AuthActions(attacker).sign_in("yta", "guess")
    assert AuthActions(attacker).as_nurse().status_code == 429
    assert AuthActions(laptop).as_nurse().status_code == 303


def test_one_address_is_throttled_across_accounts(app, client, auth, demo, clock):
    for number in range(20):
        auth.sign_in(f"guess{number}", "guess")
    assert auth.sign_in("someone-else", "guess").status_code == 429


def test_sign_in_does_not_redirect_elsewhere(client, auth, demo):
    page = client.get("/auth/sign-in?next=https://evil.example/").get_data(as_text=True)
    response = client.post("/auth/sign-in?next=https://evil.example/",
                           data={"username": "yta", "password": NURSE_PASSWORD, "csrf_token": csrf_from(page)})
    assert response.headers["Location"] == "/nurse"


def test_a_nurse_cannot_open_the_organisers_pages(client, auth, demo):
    auth.as_nurse()
    assert client.get("/admin").status_code == 403
