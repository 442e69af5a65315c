"""Staff accounts: password hashing, server-side sign-in sessions for Flask-Login, and the
console's account writes (create, reset a password, enable or disable), which raise StaffError
with a machine-readable code that the views translate."""
from __future__ import annotations

import datetime as dt
import secrets
from typing import Optional

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app, has_request_context, request
import sqlalchemy.orm as so
from sqlalchemy.orm import Session, scoped_session

from kiosk import sign_in_throttle
from kiosk.errors import DomainError
from kiosk.audit import record_audit
from kiosk.database import begin_write, write_transaction
from kiosk.extensions import db, login_manager
from kiosk.models import Site, Staff, StaffRole, StaffSession, utcnow

_hasher = PasswordHasher()
# Requests a page makes by itself (the queue's poll every 2 s) are not a person at the screen:
# they must not keep a session alive past its idle timeout.
PASSIVE_ENDPOINTS = {"nurse.queue_rows"}


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class SignedInStaff:
    """What Flask-Login holds: the staff member and the server-side session that signed them in."""

    def __init__(self, staff: Staff, staff_session: StaffSession):
        self.staff = staff
        self.staff_session = staff_session

    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.staff.active

    def get_id(self) -> str:
        return self.staff_session.id

    def __getattr__(self, name):
        return getattr(self.staff, name)


def start_session(staff: Staff) -> SignedInStaff:
    staff_session = StaffSession(id=secrets.token_urlsafe(32), staff_id=staff.id)
    db.session.add(staff_session)
    return SignedInStaff(staff, staff_session)


def end_session(session_id: str) -> None:
    db.session.execute(
        sa.update(StaffSession).where(StaffSession.id == session_id, StaffSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def complete_sign_in(session: Session | scoped_session, *, staff_id: int, keys: list[sign_in_throttle.ThrottleKey],
                     now: float) -> SignedInStaff:
    """A right password (and code, with two-factor): the throttle's keys start again, a new
    server-side session opens, and the sign-in is audited, in one write that commits."""
    with write_transaction(session):
        staff = session.get(Staff, staff_id)
        sign_in_throttle.succeeded(session, keys, now)
        signed_in = start_session(staff)
        record_audit(session, "sign_in", staff_id=staff.id, entity="staff", entity_id=staff.id)
    return signed_in


def record_refused_sign_in(session: Session | scoped_session, action: str, *, staff_id: Optional[int],
                           actor: str) -> None:
    """A wrong password or code: its audit entry (`action`), committed. The attempt itself was
    counted before anything was checked (kiosk.sign_in_throttle)."""
    with write_transaction(session):
        record_audit(session, action, entity="staff", entity_id=staff_id, actor=actor)


def end_sign_in(session: Session | scoped_session, *, session_id: str, staff_id: int) -> None:
    """Sign out: the server-side session ends, audited, in one write that commits."""
    with write_transaction(session):
        end_session(session_id)
        record_audit(session, "sign_out", staff_id=staff_id, entity="staff", entity_id=staff_id)


# The session, its staff member and her sites in one statement: every signed-in request starts
# here, and three separate loads (session, staff, sites) cost about 0.9 ms a request.
_SIGNED_IN = (
    sa.select(StaffSession)
    .join(StaffSession.staff)
    .options(so.contains_eager(StaffSession.staff).joinedload(Staff.sites))
)


def _signed_in_session(session_id: str) -> Optional[StaffSession]:
    return db.session.scalars(_SIGNED_IN.where(StaffSession.id == session_id)).unique().one_or_none()


def load_signed_in(session_id: str) -> Optional[SignedInStaff]:
    staff_session = _signed_in_session(session_id)
    if staff_session is None or staff_session.ended_at is not None:
        return None
    staff = staff_session.staff
    if not staff.active:
        return None
    idle = dt.timedelta(minutes=current_app.config["NURSE_IDLE_MINUTES"])
    now = utcnow()
    if now - staff_session.last_seen_at > idle:
        return None
    if now - staff_session.created_at > dt.timedelta(hours=current_app.config["SESSION_ABSOLUTE_HOURS"]):
        return None
    passive = has_request_context() and request.endpoint in PASSIVE_ENDPOINTS
    # Written at most once a minute, so a busy page does not turn every read into a write.
    if not passive and now - staff_session.last_seen_at > dt.timedelta(minutes=1):
        # The read above opened a deferred transaction, which SQLite cannot upgrade to a write
        # once another worker has written; begin_write ends it and starts an immediate one.
        begin_write(db.session)
        db.session.execute(
            sa.update(StaffSession).where(StaffSession.id == session_id).values(last_seen_at=now)
        )
        db.session.commit()
        staff_session = _signed_in_session(session_id)
        if staff_session is None:
            return None
        staff = staff_session.staff
    return SignedInStaff(staff, staff_session)


def init_login(app: Flask) -> None:
    login_manager.user_loader(load_signed_in)
    login_manager.login_view = "auth.sign_in"
    login_manager.session_protection = "strong"


# A hash of nothing anyone knows: an unknown username costs the same time as a wrong
# password, so the answer's timing does not tell which usernames exist.
_DUMMY_HASH = _hasher.hash("no-such-account")


def check_credentials(staff: Optional[Staff], password: str) -> bool:
    if staff is None or not staff.active:
        verify_password(_DUMMY_HASH, password)
        return False
    return verify_password(staff.password_hash, password)


# Device cookies (OWASP's answer to lock-out): a browser where this account signed in before
# carries a signed cookie naming it. Failures from unknown browsers count against the account
# together; a known browser has its own counter, so someone guessing at a nurse's password
# from elsewhere cannot lock her own laptop out.
DEVICE_COOKIE = "kiosk_device"
DEVICE_COOKIE_DAYS = 180


def _device_serializer():
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="staff-device")


def device_cookie_value(username: str) -> str:
    return _device_serializer().dumps({"u": username, "d": secrets.token_urlsafe(12)})


def trusted_device_for(username: str, cookie: Optional[str]) -> Optional[str]:
    """The device's id if `cookie` is a valid device cookie for this username, else None."""
    if not cookie:
        return None
    from itsdangerous import BadSignature

    try:
        data = _device_serializer().loads(cookie, max_age=DEVICE_COOKIE_DAYS * 24 * 3600)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("u") != username or not isinstance(data.get("d"), str):
        return None
    return data["d"]


# ---------------------------------------------------------------- accounts (the console's writes)

STAFF_ERROR_CODES = ("not_found", "username_taken", "own_account", "wrong_password", "not_a_nurse")


class StaffError(DomainError):
    CODES = STAFF_ERROR_CODES


def end_all_sessions(session: Session | scoped_session, staff_id: int) -> None:
    """Sign this account out everywhere, at once."""
    session.execute(sa.update(StaffSession).where(StaffSession.staff_id == staff_id,
                                                  StaffSession.ended_at.is_(None)).values(ended_at=utcnow()))


def _member(session: Session | scoped_session, member_id: int) -> Staff:
    member = session.get(Staff, member_id)
    if member is None:
        raise StaffError("not_found")
    return member


def create_staff(session: Session | scoped_session, *, staff_id: int, username: str, display_name: str,
                 role: StaffRole | str, password: str) -> int:
    """Open an account, and commit. Returns its id; `username_taken` if the username is in use.
    `staff_id` is the organiser who opens it."""
    role = StaffRole(role)
    with write_transaction(session):
        if session.scalars(sa.select(Staff.id).where(Staff.username == username).limit(1)).first() is not None:
            raise StaffError("username_taken")
        member = Staff(username=username, display_name=display_name.strip(), role=role,
                       password_hash=hash_password(password))
        session.add(member)
        session.flush()
        record_audit(session, "staff_created", staff_id=staff_id, entity="staff", entity_id=member.id,
                     new={"username": member.username, "role": member.role.value})
        member_id = member.id
    return member_id


def reset_password(session: Session | scoped_session, *, member_id: int, staff_id: int, password: str) -> None:
    """Give an account a new password, and commit. Whoever knew the old one is signed out
    (unless the organiser resets their own, and stays signed in)."""
    with write_transaction(session):
        member = _member(session, member_id)
        member.password_hash = hash_password(password)
        if member.id != staff_id:
            end_all_sessions(session, member.id)
        record_audit(session, "staff_password_reset", staff_id=staff_id, entity="staff", entity_id=member.id)


def set_active(session: Session | scoped_session, *, member_id: int, staff_id: int, active: bool) -> bool:
    """Enable or disable an account, and commit; a disabled one is signed out everywhere at once.
    Returns whether anything changed; `own_account` when organisers would disable themselves."""
    with write_transaction(session):
        member = _member(session, member_id)
        if member.id == staff_id and not active:
            raise StaffError("own_account")
        if member.active == active:
            return False
        member.active = active
        if not active:
            end_all_sessions(session, member.id)
        record_audit(session, "staff_enabled" if active else "staff_disabled", staff_id=staff_id,
                     entity="staff", entity_id=member.id, old={"active": not active}, new={"active": active})
    return True


def change_own_password(session: Session | scoped_session, *, staff_id: int, session_id: str, current: str,
                        password: str) -> None:
    """Anyone changes their own password, given the current one, and commits; `wrong_password`
    otherwise. Their other sign-ins end (this one stays)."""
    with write_transaction(session):
        member = _member(session, staff_id)
        if not verify_password(member.password_hash, current):
            raise StaffError("wrong_password")
        member.password_hash = hash_password(password)
        session.execute(sa.update(StaffSession).where(StaffSession.staff_id == staff_id, StaffSession.id != session_id,
                                                      StaffSession.ended_at.is_(None)).values(ended_at=utcnow()))
        record_audit(session, "own_password_changed", staff_id=staff_id, entity="staff", entity_id=staff_id)


def may_open_site(staff: Staff, site: Site) -> bool:
    """A nurse opens the screening desk of the sites she is assigned to. Organisers open none: the
    donors' answers and vitals are for the collecting hospital's nurses (an organiser who also screens
    gets a nurse account), and the nurse station refuses them before this is asked."""
    return staff.role == StaffRole.NURSE and any(s.id == site.id for s in staff.sites)


def assign_sites(session: Session | scoped_session, *, member_id: int, staff_id: int, site_ids: list[int]) -> bool:
    """The sites a nurse may open, set by an organiser, and commit. Returns whether anything changed;
    `not_a_nurse` for an organiser (who works in the console, not at a screening desk)."""
    with write_transaction(session):
        member = _member(session, member_id)
        if member.role != StaffRole.NURSE:
            raise StaffError("not_a_nurse")
        old = sorted(s.code for s in member.sites)
        member.sites = list(session.scalars(sa.select(Site).where(Site.id.in_(site_ids))).all()) if site_ids else []
        new = sorted(s.code for s in member.sites)
        if old == new:
            return False
        record_audit(session, "staff_sites_changed", staff_id=staff_id, entity="staff", entity_id=member.id,
                     old={"sites": ", ".join(old)}, new={"sites": ", ".join(new)})
    return True


def give_nurses_every_site(session: Session | scoped_session) -> None:
    """The demo's nurses work at every site (in the caller's transaction): the Quick start stays two commands."""
    sites = list(session.scalars(sa.select(Site)).all())
    for member in session.scalars(sa.select(Staff).where(Staff.role == StaffRole.NURSE)):
        member.sites = sites
