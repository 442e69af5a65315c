"""Which tablet asks, and the kiosk session it holds for one donor between the scan and the ticket.

A kiosk session has a random id and no personal data; it works only at its site, on the device
that opened it, and for KIOSK_SESSION_MINUTES (the donor may walk away mid-way, and the tablet's
idle reset may never reach the server)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.audit import insert_audit
from kiosk.database import expire_rows
from kiosk.models import KioskSession, Site, Visit, utcnow

KIOSK_SESSION_MINUTES = 15

KIOSK_SESSIONS = KioskSession.__table__
CLOSE_KIOSK_SESSION = sa.update(KIOSK_SESSIONS).where(
    KIOSK_SESSIONS.c.id == sa.bindparam("ks_id"), KIOSK_SESSIONS.c.closed_at.is_(None)
).values(closed_at=sa.bindparam("now"))


@dataclass(frozen=True)
class Terminal:
    """Which client a kiosk request came from: the paired device (None with pairing off) and the
    audit actor of its writes (the device's name, or "kiosk:<site code>")."""
    device_id: Optional[int] = None
    actor: str = ""

    def actor_at(self, site: Site) -> str:
        return self.actor or f"kiosk:{site.code}"

    @property
    def owner(self) -> Optional[str]:
        """Whose receipts these are: a paired device's, or nobody's in particular (pairing off)."""
        return f"device:{self.device_id}" if self.device_id is not None else None


ANY_TERMINAL = Terminal()


def open_kiosk_session(session: Session, kiosk_session_id: str, site: Site,
                       terminal: Terminal = ANY_TERMINAL) -> Optional[KioskSession]:
    """The kiosk session if it is still open at this site and on the device that opened it; else
    None (closed, expired, forged, or its id sent from another client)."""
    kiosk_session = session.get(KioskSession, kiosk_session_id) if kiosk_session_id else None
    if kiosk_session is None or kiosk_session.closed_at is not None or kiosk_session.site_id != site.id:
        return None
    if kiosk_session.device_id != terminal.device_id:
        return None
    if utcnow() - kiosk_session.created_at > dt.timedelta(minutes=KIOSK_SESSION_MINUTES):
        return None
    return kiosk_session


def close_kiosk_session(session: Session, kiosk_session_id: str) -> bool:
    """Close it with one Core UPDATE; the session's object for it, if loaded, is read again when next used.
    Returns whether it was still open (two closes racing: only one of them closes it)."""
    closed = session.execute(CLOSE_KIOSK_SESSION, {"ks_id": kiosk_session_id, "now": utcnow()}).rowcount > 0
    expire_rows(session, KioskSession, [kiosk_session_id])
    return closed


def abandon_kiosk_session(session: Session, kiosk_session_id: str, visit: Visit, site: Site, terminal: Terminal, *,
                          declined: bool = False) -> None:
    """A donor shown on a tablet (confirm step or questionnaire) who leaves without a check-in: "Cancel",
    the idle wipe, the next donor's scan, "not me", or the consent declined. The session closes and the
    audit notes it, once, in the caller's write: the visit (read before the write) and the device,
    never an answer."""
    if close_kiosk_session(session, kiosk_session_id):
        insert_audit(session, "kiosk_session_abandoned", actor=terminal.actor_at(site), entity="visit",
                     entity_id=visit.id, drive_id=visit.drive_id, new={"consent_declined": True} if declined else None)
