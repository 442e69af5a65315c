"""Ending a kiosk session outside check-in, each in a write of its own that commits: the tablet's
reset (the idle timer, "Cancel", the next donor's scan, the ticket's "done", "not me") and the
consent declined, which the audit notes as abandoned, and a walk-in registered on the donor's own
phone, whose pass page takes over. Check-in closes its session inside its own write (kiosk.checkin)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from kiosk.checkin import Terminal, close_kiosk_session, open_kiosk_session
from kiosk.checkin.terminal import abandon_kiosk_session
from kiosk.database import write_transaction
from kiosk.models import KioskSession, Site


def end_on_tablet(session: Session, kiosk_session_id: str, site: Site, terminal: Terminal, *,
                  declined: bool = False) -> bool:
    """Close the kiosk session if it is still open at this site on this tablet (only the device that
    opened it may close it), with its audit entry (no check-in came of it), and commit. `declined`:
    the donor did not agree to the final confirmation. Returns whether it was open; if not, nothing
    is written."""
    kiosk_session = open_kiosk_session(session, kiosk_session_id, site, terminal) if kiosk_session_id else None
    if kiosk_session is None:
        return False
    visit = kiosk_session.visit  # read now, not while holding the write
    # Two Core statements: what the request read before (the site, the visit) stays loaded.
    with write_transaction(session, expire=False):
        abandon_kiosk_session(session, kiosk_session.id, visit, site, terminal, declined=declined)
    return True


def hand_over_to_phone(session: Session, kiosk_session_id: str) -> str:
    """A walk-in registered on the donor's own phone: the kiosk session the registration opened is
    closed, and committed; returns the pass token, whose page asks the questions from there."""
    token = session.get(KioskSession, kiosk_session_id).visit.token
    with write_transaction(session, expire=False):
        close_kiosk_session(session, kiosk_session_id)
    return token
