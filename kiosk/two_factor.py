"""TOTP two-factor sign-in (RFC 6238, with pyotp): offered to every account, required for organisers
when REQUIRE_2FA is on. Enrolment keeps a new secret on the account, and it counts only once a code
from the person's app confirms it. Writes commit and are audited; no Flask here."""
from __future__ import annotations

import datetime as dt
import hmac
import unicodedata
from typing import Optional

import pyotp
import sqlalchemy as sa
from sqlalchemy.orm import Session, scoped_session

from kiosk.audit import record_audit
from kiosk.database import write_transaction
from kiosk.models import Staff

ISSUER = "Kiosk hien mau"


def provisioning_uri(secret: str, username: str) -> str:
    """What the QR code holds: an otpauth:// link any authenticator app reads."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def matching_step(secret: Optional[str], code: str, at: Optional[dt.datetime] = None) -> Optional[int]:
    """The 30-second step whose 6-digit code this is: now's, or the one either side (a phone's clock
    drifts). None if it matches none of them. Full-width digits (some phone keyboards) count as digits."""
    code = "".join(ch for ch in unicodedata.normalize("NFKC", code or "") if ch.isascii() and ch.isdigit())
    if not secret or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    now_step = totp.timecode(at or dt.datetime.now(dt.timezone.utc))
    for step in (now_step - 1, now_step, now_step + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _spend_step(session: Session | scoped_session, member_id: int, step: int) -> bool:
    """Record `step` as used if no code of it or later was: one conditional UPDATE, so two requests
    with the same code at the same moment cannot both pass."""
    spent = session.execute(
        sa.update(Staff)
        .where(Staff.id == member_id, sa.or_(Staff.totp_last_step.is_(None), Staff.totp_last_step < step))
        .values(totp_last_step=step)
    )
    return spent.rowcount == 1


def use_sign_in_code(session: Session | scoped_session, *, member_id: int, code: str,
                     at: Optional[dt.datetime] = None) -> Optional[str]:
    """Check the code of the sign-in's second step and spend it, and commit. None when it is right
    and unused; "wrong", or "used" for a code (or an earlier one) that already signed in."""
    member = session.get(Staff, member_id)
    step = matching_step(member.totp_secret if member else None, code, at)
    if step is None:  # a wrong code writes nothing, so it does not queue for the write lock
        return "wrong"
    with write_transaction(session):
        if not _spend_step(session, member_id, step):
            return "used"
    return None


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
        step = None if member.totp_enabled else matching_step(member.totp_secret, code)
        if step is None:
            return False
        member.totp_enabled = True
        member.totp_last_step = step  # the code that confirmed the app does not sign in too
        record_audit(session, "two_factor_enabled", staff_id=member_id, entity="staff", entity_id=member_id)
    return True


def turn_off(session: Session | scoped_session, *, member_id: int, staff_id: int) -> bool:
    """Two-factor off (a lost phone: the organiser does it for the person). Commits."""
    with write_transaction(session):
        member = session.get(Staff, member_id)
        if member is None or not (member.totp_enabled or member.totp_secret):
            return False
        member.totp_enabled, member.totp_secret, member.totp_last_step = False, None, None
        record_audit(session, "two_factor_disabled", staff_id=staff_id, entity="staff", entity_id=member_id)
    return True
