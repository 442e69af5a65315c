"""What sign-in and one's own account pages read: the account a username names, and an account by
id. The writes are kiosk.auth's and kiosk.two_factor's."""
from __future__ import annotations

from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session, scoped_session

from kiosk.models import Staff


def staff_by_username(session: Session | scoped_session, username: str) -> Optional[Staff]:
    """The account signing in with this username (active or not: kiosk.auth.check_credentials decides)."""
    return session.scalars(sa.select(Staff).where(Staff.username == username)).first()


def staff_member(session: Session | scoped_session, staff_id: Optional[int]) -> Optional[Staff]:
    """The account, as it is now: a sign-in's second step and the two-factor page read it afresh."""
    return session.get(Staff, staff_id)
