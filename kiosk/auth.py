"""Staff accounts: password hashing and server-side sign-in sessions for Flask-Login."""
from __future__ import annotations

import datetime as dt
import secrets
from typing import Optional

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app

from kiosk.extensions import db, login_manager
from kiosk.models import Staff, StaffSession, utcnow

_hasher = PasswordHasher()


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


def load_signed_in(session_id: str) -> Optional[SignedInStaff]:
    staff_session = db.session.get(StaffSession, session_id)
    if staff_session is None or staff_session.ended_at is not None:
        return None
    staff = staff_session.staff
    if not staff.active:
        return None
    idle = dt.timedelta(minutes=current_app.config["NURSE_IDLE_MINUTES"])
    now = utcnow()
    if now - staff_session.last_seen_at > idle:
        return None
    # Written at most once a minute, so a busy page does not turn every read into a write.
    if now - staff_session.last_seen_at > dt.timedelta(minutes=1):
        db.session.execute(
            sa.update(StaffSession).where(StaffSession.id == session_id).values(last_seen_at=now)
        )
        db.session.commit()
    return SignedInStaff(staff, staff_session)


def init_login(app: Flask) -> None:
    login_manager.user_loader(load_signed_in)
    login_manager.login_view = "auth.sign_in"
    login_manager.session_protection = "strong"
