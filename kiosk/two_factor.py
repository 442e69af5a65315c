"""TOTP two-factor sign-in (RFC 6238, with pyotp): offered to every account, required for organisers
when REQUIRE_2FA is on. Enrolment keeps a new secret on the account, and it counts only once a code
from the person's app confirms it. Writes commit and are audited; no Flask here."""
from __future__ import annotations

import datetime as dt
from typing import Optional

import pyotp
from sqlalchemy.orm import Session, scoped_session

from kiosk.audit import record_audit
from kiosk.models import Staff
from kiosk.transactions import write_transaction

ISSUER = "Kiosk hien mau"


def provisioning_uri(secret: str, username: str) -> str:
    """What the QR code holds: an otpauth:// link any authenticator app reads."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def code_is_right(secret: Optional[str], code: str, at: Optional[dt.datetime] = None) -> bool:
    """A 6-digit code from now, or the 30 s either side (a phone's clock drifts)."""
    code = "".join(ch for ch in (code or "") if ch.isascii() and ch.isdigit())
    if not secret or len(code) != 6:
        return False
    return pyotp.TOTP(secret).verify(code, for_time=at, valid_window=1)


def start_enrolment(session: Session | scoped_session, *, member_id: int) -> str:
    """A new secret on the account, not yet in use (its old one, if any, still counts). Commits."""
    with write_transaction(session):
        member = session.get(Staff, member_id)
        if member.totp_enabled:
            return member.totp_secret or ""
        member.totp_secret = pyotp.random_base32()
        secret = member.totp_secret
    return secret


def confirm_enrolment(session: Session | scoped_session, *, member_id: int, code: str) -> bool:
    """Turn two-factor on if `code` matches the new secret. Commits; returns whether it did."""
    with write_transaction(session):
        member = session.get(Staff, member_id)
        if member.totp_enabled or not code_is_right(member.totp_secret, code):
            return False
        member.totp_enabled = True
        record_audit(session, "two_factor_enabled", staff_id=member_id, entity="staff", entity_id=member_id)
    return True


def turn_off(session: Session | scoped_session, *, member_id: int, staff_id: int) -> bool:
    """Two-factor off (a lost phone: the organiser does it for the person). Commits."""
    with write_transaction(session):
        member = session.get(Staff, member_id)
        if member is None or not (member.totp_enabled or member.totp_secret):
            return False
        member.totp_enabled, member.totp_secret = False, None
        record_audit(session, "two_factor_disabled", staff_id=staff_id, entity="staff", entity_id=member_id)
    return True
