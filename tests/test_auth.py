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


@pytest.mark.slow
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


# ---------------------------------------------------------------- accounts (kiosk.auth's console writes)

def _staff_error(call, **kwargs) -> str:
    from kiosk.auth import StaffError

    with pytest.raises(StaffError) as raised:
        call(db.session, **kwargs)
    return raised.value.code


def _ids(app) -> tuple[int, int]:
    with app.app_context():
        nurse = db.session.scalars(sa.select(Staff.id).where(Staff.username == "yta")).one()
        organiser = db.session.scalars(sa.select(Staff.id).where(Staff.username == "bantochuc")).one()
    return nurse, organiser


def test_an_account_is_created_once_per_username_with_a_hashed_password(app, demo):
    from kiosk.auth import create_staff, verify_password

    _, organiser = _ids(app)
    with app.app_context():
        member_id = create_staff(db.session, staff_id=organiser, username="yta3", display_name=" Y tá Lan ",
                                 role="nurse", password="mat-khau-dai")
        member = db.session.get(Staff, member_id)
        assert member.display_name == "Y tá Lan" and member.role.value == "nurse" and member.active
        assert verify_password(member.password_hash, "mat-khau-dai") and "mat-khau-dai" not in member.password_hash
        entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "staff_created")).one()
        assert (entry.staff_id, entry.entity, entry.entity_id) == (organiser, "staff", member_id)
        assert entry.new_values == {"username": "yta3", "role": "nurse"}
        assert _staff_error(create_staff, staff_id=organiser, username="yta3", display_name="x", role="nurse",
                            password="mat-khau-dai") == "username_taken"


def test_a_password_reset_signs_out_whoever_knew_the_old_one(app, client, auth, demo):
    from kiosk.auth import reset_password

    nurse, organiser = _ids(app)
    auth.as_nurse()
    auth.as_organiser()
    with app.app_context():
        reset_password(db.session, member_id=nurse, staff_id=organiser, password="mat-khau-moi-1")
        reset_password(db.session, member_id=organiser, staff_id=organiser, password="mat-khau-moi-2")
        open_for = set(db.session.scalars(sa.select(StaffSession.staff_id).where(StaffSession.ended_at.is_(None))))
        assert nurse not in open_for and organiser in open_for  # resetting your own keeps you signed in
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog)
                                 .where(AuditLog.action == "staff_password_reset")) == 2
        assert _staff_error(reset_password, member_id=999, staff_id=organiser, password="x" * 8) == "not_found"
    assert AuthActions(app.test_client()).sign_in("yta", "mat-khau-moi-1").status_code == 303


def test_disabling_an_account_signs_it_out_and_no_one_disables_themselves(app, client, auth, demo):
    from kiosk.auth import set_active

    nurse, organiser = _ids(app)
    AuthActions(app.test_client()).as_nurse()
    with app.app_context():
        assert set_active(db.session, member_id=nurse, staff_id=organiser, active=False) is True
        assert not db.session.get(Staff, nurse).active
        assert db.session.scalars(sa.select(StaffSession.id).where(StaffSession.staff_id == nurse,
                                                                   StaffSession.ended_at.is_(None))).all() == []
        assert set_active(db.session, member_id=nurse, staff_id=organiser, active=False) is False  # already
        assert set_active(db.session, member_id=nurse, staff_id=organiser, active=True) is True
        entries = db.session.scalars(sa.select(AuditLog).where(AuditLog.entity == "staff", AuditLog.entity_id == nurse,
                                                               AuditLog.action.like("staff_%"))
                                     .order_by(AuditLog.id)).all()
        assert [(e.action, e.old_values, e.new_values) for e in entries] == [
            ("staff_disabled", {"active": True}, {"active": False}),
            ("staff_enabled", {"active": False}, {"active": True})]
        assert _staff_error(set_active, member_id=organiser, staff_id=organiser, active=False) == "own_account"
        assert db.session.get(Staff, organiser).active
        assert _staff_error(set_active, member_id=999, staff_id=organiser, active=True) == "not_found"


def test_a_signed_in_request_loads_the_nurse_and_her_sites_in_one_statement(app, client, auth, demo):
    """Every signed-in request starts with this load: one joined SELECT, not session, staff and sites apart."""
    from kiosk.auth import load_signed_in

    auth.as_nurse()
    (session_id,) = _signed_in_ids(app)
    statements: list[str] = []

    def note(_conn, _cursor, statement, *_args):
        statements.append(statement)

    with app.test_request_context("/nurse"):
        sa.event.listen(db.engine, "before_cursor_execute", note)
        try:
            signed_in = load_signed_in(session_id)
            assert signed_in is not None and signed_in.username == "yta"
            codes = sorted(site.code for site in signed_in.staff.sites)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", note)
    assert codes  # the demo nurse works at the demo's sites
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1, statements


def test_a_too_long_username_or_password_is_refused_in_vietnamese(app, demo):
    # WTForms' own "Field cannot be longer than 60 characters." was shown on the Vietnamese sign-in page.
    app.config["WTF_CSRF_ENABLED"] = False
    response = app.test_client().post("/auth/sign-in", data={"username": "u" * 100, "password": "p" * 300})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Field cannot be longer" not in page
    assert "Tối đa 60 ký tự." in page and "Tối đa 200 ký tự." in page


def test_only_a_nurse_opens_a_screening_desk_and_only_at_her_sites(app, demo):
    """Organisers work in the console: the nurse station, with the donors' answers, is not theirs."""
    from kiosk.auth import may_open_site
    from kiosk.models import Site

    with app.app_context():
        nurse = db.session.scalars(sa.select(Staff).where(Staff.username == "yta")).one()
        organiser = db.session.scalars(sa.select(Staff).where(Staff.username == "bantochuc")).one()
        sites = db.session.scalars(sa.select(Site)).all()
        assert sites and all(may_open_site(nurse, site) for site in sites)
        assert not any(may_open_site(organiser, site) for site in sites)
        nurse.sites = sites[:1]
        assert [may_open_site(nurse, site) for site in sites] == [True] + [False] * (len(sites) - 1)
        db.session.rollback()
